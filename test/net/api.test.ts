// The control plane's network spec: `nics` is validated at create (no TAP, forwards on loopback and
// unprivileged ports only) and stored as given.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { dirname } from "node:path";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import { call } from "../../src/control/Client.js";
import { buildGuest, hasCrossGcc } from "../control/guest.js";
import { startDaemon } from "../control/harness.js";

let env: Awaited<ReturnType<typeof startDaemon>>;
let guest = "";
const skip = hasCrossGcc ? false : "riscv64-linux-gnu-gcc is not installed (apt-get install gcc-riscv64-linux-gnu)";

before(async () => {
  if (skip) return;
  guest = buildGuest();
  env = await startDaemon({ allowDirs: [dirname(guest)] });
});
after(async () => {
  if (!skip) await env.daemon.stop();
});

test(
  "nics: TAP NICs, forwards on non-loopback addresses or privileged ports are refused at create; good ones are kept",
  { skip },
  async () => {
    const spec = (name: string, nics: unknown) => ({ name, kernel: guest, memoryMiB: 64, nics });
    const bad: [unknown, RegExp][] = [
      [[{ mode: "tap", tap: "tv0" }], /nics\/0/],
      [[{ mode: "user", hostfwd: [{ proto: "tcp", hostAddr: "0.0.0.0", hostPort: 8080, guestPort: 80 }] }], /hostAddr/],
      [[{ mode: "user", hostfwd: [{ proto: "tcp", hostPort: 80, guestPort: 80 }] }], /hostPort/],
      [[{ mode: "user", hostfwd: [{ proto: "sctp", hostPort: 8080, guestPort: 80 }] }], /proto/],
      [[{ mode: "switch" }], /nics\/0/],
      [[{ mode: "user", mac: "01:00:5e:00:00:01" }], /nics\/0/],
    ];
    for (const [i, [nics, re]] of bad.entries()) {
      const r = await call(env.ep, "POST", "/v1/vms", spec(`bad${i}`, nics));
      assert.equal(r.status, 400, `${JSON.stringify(nics)}: ${r.text}`);
      assert.match((r.body as { error: string }).error, re);
    }
    const good = [
      { mode: "user", hostfwd: [{ proto: "tcp", hostPort: 18080, guestPort: 80 }] },
      { mode: "switch", switch: "lan" },
    ];
    const r = await call(env.ep, "POST", "/v1/vms", spec("good", good));
    assert.equal(r.status, 201, r.text);
    const v = (await call(env.ep, "GET", "/v1/vms/good")).body as { spec: { nics: unknown[] } };
    assert.deepEqual(v.spec.nics, good, "stored as given (hostAddr defaults to 127.0.0.1 at start)");
  },
);

test("vm create --net translates QEMU-style flags into the spec's nics", { skip }, async () => {
  const bin = fileURLToPath(new URL("../../../bin/typevisor.js", import.meta.url));
  // Asynchronously: the daemon answering the CLI runs in this very process.
  await promisify(execFile)(process.execPath, [
    bin,
    "vm",
    "create",
    "--socket",
    env.socket,
    "--name",
    "cli",
    "--kernel",
    guest,
    "--memory",
    "64M",
    "--net",
    "user,hostfwd=tcp::18081-:80",
    "--net",
    "switch:lan,mac=52:54:00:00:00:07",
  ]);
  const v = await call(env.ep, "GET", "/v1/vms/cli");
  assert.deepEqual((v.body as { spec: { nics: unknown } }).spec.nics, [
    { mode: "user", hostfwd: [{ proto: "tcp", hostAddr: "127.0.0.1", hostPort: 18081, guestPort: 80 }] },
    { mode: "switch", switch: "lan", mac: "52:54:00:00:00:07" },
  ]);
});
