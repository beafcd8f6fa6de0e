// Clones of a booted Debian guest (the headline): one VM boots Debian once, is snapshotted,
// and 10 clones restored from the snapshot run at once. Each answers at its shell, writes its own
// file to its own disk (an overlay over the snapshot's frozen disk), and reads different bytes from
// /dev/urandom (the VM generation ID made each guest reseed its CRNG). One clone is shut down cleanly
// and its disk passes e2fsck.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { call } from "../../src/control/Client.js";
import { CowOverlay } from "../../src/devices/block/CowOverlay.js";
import { freezeDisk } from "../../src/vmm/snapshot/FreezeDisk.js";
import { debianImage, type DebianImage } from "../vmm/bootHelper.js";
import { startDaemon, waitFor } from "./harness.js";

let env: Awaited<ReturnType<typeof startDaemon>> | undefined;
let image: DebianImage | string = "not looked up";
const CLONES = 10;

before(async () => {
  image = await debianImage();
  if (typeof image === "string" || !image.disk) return;
  const img = image;
  env = await startDaemon({
    allowDirs: [dirname(img.kernel), dirname(img.disk)],
    resolveImage: async () => ({ kernel: img.kernel, initrd: img.initrd, disk: img.disk }),
  });
});
after(async () => {
  await env?.daemon.stop();
});

const consoleOf = async (vm: string) => (await call(env!.ep, "GET", `/v1/vms/${vm}/console`)).text;
const type = (vm: string, line: string) => env!.daemon.vms.sendInput(env!.daemon.vms.get(vm).id, Buffer.from(line));

test("10 clones of a booted Debian snapshot: each answers, has its own disk and its own random numbers", async (t) => {
  if (typeof image === "string" || !env) return t.skip(typeof image === "string" ? image : "the image has no disk");
  const ep = env.ep;
  const r = await call(ep, "POST", "/v1/vms?start=true", { name: "base", image: "debian-riscv64", memoryMiB: 128 });
  assert.equal(r.status, 201, r.text);
  await waitFor("Debian shell", async () => /typevisor:\/# /.test(await consoleOf("base")), 240_000);
  type("base", "echo BASE-$((6*7))\n");
  await waitFor("base answers", async () => /BASE-42/.test(await consoleOf("base")), 60_000);
  const s = await call(ep, "POST", "/v1/vms/base/snapshot", { name: "deb" });
  assert.equal(s.status, 201, s.text);
  const snap = s.body as { bytes: number; pausedMs: number; disks: { path: string }[] };
  t.diagnostic(
    `snapshot of a booted 128 MiB Debian: ${(snap.bytes / 2 ** 20).toFixed(1)} MiB, guest paused ${snap.pausedMs.toFixed(0)} ms`,
  );
  assert.equal((await call(ep, "POST", "/v1/vms/base/kill")).status, 200);

  const names = Array.from({ length: CLONES }, (_, i) => `c${i}`);
  const t0 = Date.now();
  const answered: number[] = [];
  await Promise.all(
    names.map(async (c, i) => {
      const rr = await call(ep, "POST", "/v1/snapshots/deb/restore", { name: c });
      assert.equal(rr.status, 201, rr.text);
      type(
        c,
        `echo C${i}-$((6*7)) > /mnt/clone-id; sync; head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \\n'; echo :RND\n`,
      );
      try {
        await waitFor(`${c} answers`, async () => /[0-9a-f]{32}:RND/.test(await consoleOf(c)), 120_000);
      } catch (e) {
        // What the clone printed tells a lost keystroke from a guest that stopped running.
        const vm = env!.daemon.vms.get(c);
        throw new Error(
          `${(e as Error).message}; ${c} is ${vm.status}, its console ends with:\n${(await consoleOf(c)).slice(-600)}`,
        );
      }
      answered.push(Date.now() - t0);
    }),
  );
  t.diagnostic(`${CLONES} clones answered at their shells after ${answered.sort((x, y) => x - y).join(", ")} ms`);
  const randoms = new Set<string>();
  for (const [i, c] of names.entries()) {
    randoms.add(/([0-9a-f]{32}):RND/.exec(await consoleOf(c))![1]!);
    type(c, "cat /mnt/clone-id; echo :ID\n");
    await waitFor(`${c} reads its file`, async () => /\nC\d+-42\r?\n:ID/.test(await consoleOf(c)), 60_000);
    assert.match(await consoleOf(c), new RegExp(`\\nC${i}-42\\r?\\n:ID`), `${c} reads its own file`);
  }
  assert.equal(randoms.size, CLONES, `clones read the same /dev/urandom bytes: ${[...randoms].join(" ")}`);

  // A clean shutdown of one clone leaves a consistent file system on its overlay.
  const c0 = env.daemon.vms.get("c0");
  await call(ep, "POST", "/v1/vms/c0/shutdown?timeoutSeconds=60");
  await waitFor("c0 stopped", () => env!.daemon.vms.get("c0").status === "stopped", 90_000);
  const disk = await CowOverlay.open(snap.disks[0]!.path, join(env.dir, "vms", c0.id, "disk0.overlay"));
  const merged = join(env.dir, "c0-merged.img");
  try {
    await freezeDisk(disk, merged);
  } finally {
    await disk.close();
  }
  const fsck = spawnSync("e2fsck", ["-fn", merged], { encoding: "utf8" });
  if (fsck.error) t.diagnostic(`e2fsck not run: ${fsck.error.message}`);
  else assert.equal(fsck.status, 0, `e2fsck of c0's disk:\n${fsck.stdout}${fsck.stderr}`);
  for (const c of names) await call(ep, "DELETE", `/v1/vms/${c}?force=true`);
});
