// vm snapshot / vm restore through the daemon: a bare-metal guest writing numbered records to its
// disk (disk.c) is snapshotted while paused; clones restored from it go on from the next record, each
// on its own disk overlay over the snapshot's frozen disk; snapshots are listed and deleted.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { call } from "../../src/control/Client.js";
import { CowOverlay } from "../../src/devices/block/CowOverlay.js";
import { buildCGuest, hasCrossGcc } from "./guest.js";
import { startDaemon, waitFor } from "./harness.js";

const skip = hasCrossGcc ? false : "riscv64-linux-gnu-gcc is not installed (apt-get install gcc-riscv64-linux-gnu)";
let env: Awaited<ReturnType<typeof startDaemon>>;
let guest = "";

before(async () => {
  if (skip) return;
  guest = buildCGuest("disk.c");
  env = await startDaemon({ allowDirs: [dirname(guest)] });
});
after(async () => {
  if (!skip) await env.daemon.stop();
});

const records = (text: string) => [...text.matchAll(/W(\d+)\n/g)].map((m) => Number(m[1]));
const consoleText = async (vm: string) => (await call(env.ep, "GET", `/v1/vms/${vm}/console`)).text;

/** Sector s of a disk read through its overlay: the record number there, or 0. */
async function recordsOnDisk(base: string, overlay: string): Promise<number[]> {
  const d = await CowOverlay.open(base, overlay);
  try {
    const out: number[] = [];
    const b = new Uint8Array(512);
    for (let s = 0; s < 64; s++) {
      await d.read([b], s * 512);
      const buf = Buffer.from(b);
      out.push(buf.toString("latin1", 0, 4) === "TVDK" ? Number(buf.readBigUInt64LE(4)) : 0);
    }
    return out;
  } finally {
    await d.close();
  }
}

test(
  "vm snapshot, then clones restored from it continue the guest exactly, each on its own disk",
  { skip },
  async () => {
    const ep = env.ep;
    const disk = join(dirname(guest), "snap-src.img");
    writeFileSync(disk, Buffer.alloc(64 * 512));
    const r = await call(ep, "POST", "/v1/vms?start=true", {
      name: "src",
      kernel: guest,
      memoryMiB: 32,
      disks: [{ path: disk, overlay: true }],
    });
    assert.equal(r.status, 201, r.text);
    await waitFor("src writes", async () => (records(await consoleText("src")).at(-1) ?? 0) >= 20);
    // Paused first, so the console read below ends exactly where the snapshot is.
    assert.equal((await call(ep, "POST", "/v1/vms/src/pause")).status, 200);
    const s = await call(ep, "POST", "/v1/vms/src/snapshot", { name: "s1" });
    assert.equal(s.status, 201, s.text);
    const snap = s.body as { name: string; storedPages: number; pages: number; disks: { path: string }[] };
    assert.equal(snap.name, "s1");
    assert.ok(snap.storedPages > 0 && snap.storedPages < snap.pages);
    await new Promise((res) => setTimeout(res, 300)); // console output in flight to the daemon
    const before = await consoleText("src");
    const atSnapshot = records(before).at(-1)!;
    assert.equal((await call(ep, "POST", "/v1/vms/src/snapshot", { name: "s1" })).status, 409, "duplicate name");
    // The source goes on writing after the snapshot: the frozen disk must not see it.
    assert.equal((await call(ep, "POST", "/v1/vms/src/resume")).status, 200);
    await waitFor("src writes on", async () => (records(await consoleText("src")).at(-1) ?? 0) >= atSnapshot + 70);
    assert.equal((await call(ep, "POST", "/v1/vms/src/kill")).status, 200);

    const clones = ["c1", "c2", "c3"];
    for (const c of clones) {
      const rr = await call(ep, "POST", "/v1/snapshots/s1/restore", { name: c });
      assert.equal(rr.status, 201, rr.text);
    }
    // The snapshot started a warm spare VM process (SpareVmProcess.ts): a clone runs in it, its
    // command line naming the spare's first socket (proc-tag).
    const ids = await Promise.all(
      clones.map(async (c) => ((await call(ep, "GET", `/v1/vms/${c}`)).body as { id: string }).id),
    );
    assert.ok(
      ids.some((id) => existsSync(join(env.dir, "vms", id, "proc-tag"))),
      "no clone was started in the warm spare",
    );
    for (const [i, c] of clones.entries()) {
      // Each clone runs a different while: their disks must end up different.
      await waitFor(`${c} writes`, async () => records(await consoleText(c)).length >= 10 + 30 * i);
      assert.equal((await call(ep, "POST", `/v1/vms/${c}/kill`)).status, 200);
    }
    for (const c of clones) {
      const seq = records(before + (await consoleText(c)));
      const start = seq.indexOf(atSnapshot);
      seq.slice(start).forEach((n, k) => assert.equal(n, atSnapshot + k, `${c}: W${n} after W${atSnapshot + k - 1}`));
      const last = seq.at(-1)!;
      const vm = (await call(ep, "GET", `/v1/vms/${c}`)).body as { id: string };
      const onDisk = await recordsOnDisk(snap.disks[0]!.path, join(env.dir, "vms", vm.id, "disk0.overlay"));
      for (let n = Math.max(1, last - 62); n <= last; n++)
        assert.equal(onDisk[n % 64], n, `${c}: sector ${n % 64} holds record ${onDisk[n % 64]}, not ${n}`);
    }
    // The frozen disk is the disk at the snapshot: nothing after it.
    const frozen = readFileSync(snap.disks[0]!.path);
    for (let sec = 0; sec < 64; sec++) {
      const n = Number(frozen.readBigUInt64LE(sec * 512 + 4));
      assert.ok(
        n <= atSnapshot + 1,
        `frozen disk sector ${sec} holds record ${n}, written after the snapshot (W${atSnapshot})`,
      );
    }

    const list = (await call(ep, "GET", "/v1/snapshots")).body as { name: string }[];
    assert.deepEqual(
      list.map((x) => x.name),
      ["s1"],
    );
    assert.equal((await call(ep, "DELETE", "/v1/snapshots/s1")).status, 409, "clones still use it");
    for (const c of clones) assert.equal((await call(ep, "DELETE", `/v1/vms/${c}`)).status, 204);
    assert.equal((await call(ep, "DELETE", "/v1/snapshots/s1")).status, 204);
    assert.equal((await call(ep, "GET", "/v1/snapshots/s1")).status, 404);
    assert.equal((await call(ep, "POST", "/v1/snapshots/s1/restore", { name: "x" })).status, 404);
  },
);
