// `vm create --image NAME` fails at create, not at the first start after a download: an unknown
// name, an image for another architecture and exec's root tree are refused with a 422 that says
// why, and nothing is created; a bootable catalogue image is accepted (not pulled at create).
import { test } from "node:test";
import assert from "node:assert/strict";
import { call } from "../../src/control/Client.js";
import { bootImageProblem } from "../../src/images/index.js";
import { get, startDaemon } from "./harness.js";

test("vm create refuses an image that cannot boot, before any download", async () => {
  let pulls = 0;
  const resolveImage = Object.assign(
    async (name: string) => {
      pulls++;
      throw new Error(`no pull of '${name}' expected in this test`);
    },
    { check: bootImageProblem },
  );
  const env = await startDaemon({ resolveImage });
  try {
    const bad: [string, RegExp][] = [
      ["nosuch", /image 'nosuch': no such image; the catalogue has .*debian-riscv64/],
      ["debian-amd64", /image 'debian-amd64': it is for amd64; .*riscv64 guests only/],
      ["debian-riscv64-userland", /not a bootable image/],
    ];
    for (const [image, message] of bad) {
      const r = await call(env.ep, "POST", "/v1/vms", { name: `vm-${image}`, image });
      assert.equal(r.status, 422, `${image}: ${JSON.stringify(r.body)}`);
      assert.match(JSON.stringify(r.body), message);
    }
    assert.equal(((await get(env.ep, "/v1/vms")) as unknown as unknown[]).length, 0, "nothing was created");
    const ok = await call(env.ep, "POST", "/v1/vms", { name: "good", image: "debian-riscv64" });
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    assert.equal(pulls, 0, "create does not pull the image");
  } finally {
    await env.daemon.stop();
  }
});
