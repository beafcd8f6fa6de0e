// vm migrate between two daemons on this host: a bare-metal guest counting and writing numbered
// records to its disk (disk.c) moves from daemon A to daemon B (TCP, B's token) and goes on with the
// next record there, its disk shared by path; a destination killed during the migration leaves the
// VM running on A; a guest rewriting memory faster than it can be sent (dirty.c) is not migrated
// past --max-downtime and keeps running on A; a guest rewriting 16 MiB at 20 MB/s and checking every
// word before rewriting it (dirtier.c) moves to B and finds every word as A left it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { call } from "../../src/control/Client.js";
import { CowOverlay } from "../../src/devices/block/CowOverlay.js";
import type { VmEvent } from "../../src/control/VmManager.js";
import { buildCGuest, hasCrossGcc } from "./guest.js";
import { startDaemon, waitFor } from "./harness.js";

const skip = hasCrossGcc ? false : "riscv64-linux-gnu-gcc is not installed (apt-get install gcc-riscv64-linux-gnu)";
const TOKEN = "migration-test-token-0123456789";
let a: Awaited<ReturnType<typeof startDaemon>>;
let b: Awaited<ReturnType<typeof startDaemon>>;
let guest = "";
let dirtyGuest = "";
let dirtier = "";

before(async () => {
  if (skip) return;
  guest = buildCGuest("disk.c");
  dirtyGuest = buildCGuest("dirty.c");
  // 16 MiB rewritten at 20 MB/s, every word checked before it is rewritten (dirtier.c).
  dirtier = buildCGuest("dirtier.c", ["BARE", "BUF_MIB=16", "RATE=20"]);
  a = await startDaemon({ allowDirs: [dirname(guest), dirname(dirtyGuest), dirname(dirtier)] });
  // B opens A's disk files (shared storage): the guest's directory and A's VM directories.
  b = await startDaemon({ allowDirs: [dirname(guest), dirname(dirtyGuest), dirname(dirtier), a.dir], token: TOKEN });
});
after(async () => {
  if (skip) return;
  await a.daemon.stop();
  await b.daemon.stop();
});

const records = (text: string) => [...text.matchAll(/W(\d+)\n/g)].map((m) => Number(m[1]));
const bEp = () => ({ url: `http://127.0.0.1:${b.daemon.tcpPort}`, token: TOKEN });

/**
 * The disk (base + overlay) holds 64 consecutive records, the newest at least `last` (the guest may
 * have written more than the console showed when it was read: the check reads the disk's newest).
 */
async function assertLastRecords(base: string, overlay: string, last: number): Promise<void> {
  const d = await CowOverlay.open(base, overlay);
  try {
    const s = new Uint8Array(512);
    const onDisk: number[] = [];
    for (let sector = 0; sector < 64; sector++) {
      await d.read([s], sector * 512);
      onDisk.push(Number(Buffer.from(s).readBigUInt64LE(4)));
    }
    const newest = Math.max(...onDisk);
    assert.ok(newest >= last, `the newest record on ${overlay} is ${newest}, the console showed ${last}`);
    for (let n = Math.max(1, newest - 63); n <= newest; n++)
      assert.equal(onDisk[n % 64], n, `sector ${n % 64} of ${overlay}`);
  } finally {
    await d.close();
  }
}

async function startWriter(name: string): Promise<string> {
  const disk = join(dirname(guest), `mig-${name}.img`);
  writeFileSync(disk, Buffer.alloc(64 * 512));
  const r = await call(a.ep, "POST", "/v1/vms?start=true", {
    name,
    kernel: guest,
    memoryMiB: 64,
    disks: [{ path: disk, overlay: true }],
  });
  assert.equal(r.status, 201, r.text);
  await waitFor(
    `${name} writes`,
    async () => (records((await call(a.ep, "GET", `/v1/vms/${name}/console`)).text).at(-1) ?? 0) >= 20,
  );
  return disk;
}

test("vm migrate moves a running guest to another daemon: no gap, no repeat, disk consistent", { skip }, async (t) => {
  const disk = await startWriter("m");
  const src = (await call(a.ep, "GET", "/v1/vms/m")).body as { id: string };
  const r = await call(a.ep, "POST", "/v1/vms/m/migrate", { to: bEp().url, token: TOKEN, maxDowntimeMs: 300 });
  assert.equal(r.status, 200, r.text);
  const res = (r.body as { result: { rounds: number; downtimeMs: number; bytesSent: number } }).result;
  assert.ok(res.rounds >= 2 && res.bytesSent > 0, JSON.stringify(res));
  t.diagnostic(`migration of the 64 MiB counting guest: ${JSON.stringify(res)}`);
  const onA = (await call(a.ep, "GET", "/v1/vms/m")).body as { status: string; lastExit: { reason: string } };
  assert.equal(onA.status, "stopped");
  assert.equal(onA.lastExit.reason, "migrated");
  const aText = (await call(a.ep, "GET", "/v1/vms/m/console")).text;
  const lastOnA = records(aText).at(-1)!;
  await waitFor(
    "m writes on B",
    async () => records((await call(bEp(), "GET", "/v1/vms/m/console")).text).length >= 40,
  );
  const seq = records(aText + (await call(bEp(), "GET", "/v1/vms/m/console")).text);
  seq.forEach((n, i) => assert.equal(n, seq[0]! + i, `W${n} after W${seq[i - 1]} (A ended at W${lastOnA})`));
  assert.equal((await call(bEp(), "POST", "/v1/vms/m/kill")).status, 200);
  await assertLastRecords(disk, join(a.dir, "vms", src.id, "disk0.overlay"), seq.at(-1)!);
  // A wrong token is refused by the destination, and the VM is not touched.
  await startWriter("t");
  const bad = await call(a.ep, "POST", "/v1/vms/t/migrate", { to: bEp().url, token: "wrong" });
  assert.equal(bad.status, 401, bad.text);
  assert.equal(((await call(a.ep, "GET", "/v1/vms/t")).body as { status: string }).status, "running");
});

test("a destination killed during the migration leaves the VM running on the source", { skip }, async () => {
  await startWriter("f");
  // Kill B's VM process for 'f' as soon as it starts (it then awaits the source).
  const killer = (e: VmEvent) => {
    if (e.name === "f" && e.type === "state" && e.status === "running") {
      const pid = b.daemon.vms.pid(e.vm);
      if (pid) process.kill(pid, "SIGKILL");
    }
  };
  b.daemon.vms.on("event", killer);
  try {
    const r = await call(a.ep, "POST", "/v1/vms/f/migrate", { to: bEp().url, token: TOKEN });
    assert.notEqual(r.status, 200, r.text);
  } finally {
    b.daemon.vms.off("event", killer);
  }
  const vm = (await call(a.ep, "GET", "/v1/vms/f")).body as { status: string };
  assert.equal(vm.status, "running");
  const before = records((await call(a.ep, "GET", "/v1/vms/f/console")).text).at(-1)!;
  await waitFor(
    "f goes on writing on A",
    async () => (records((await call(a.ep, "GET", "/v1/vms/f/console")).text).at(-1) ?? 0) > before + 10,
  );
});

test(
  "--max-downtime bounds the final copy: a guest rewriting memory too fast stays on the source",
  { skip },
  async () => {
    const r = await call(a.ep, "POST", "/v1/vms?start=true", { name: "d", kernel: dirtyGuest, memoryMiB: 64 });
    assert.equal(r.status, 201, r.text);
    const sweeps = async () =>
      [...(await call(a.ep, "GET", "/v1/vms/d/console")).text.matchAll(/D(\d+)\n/g)].map((m) => Number(m[1])).at(-1) ??
      0;
    await waitFor("d sweeps", async () => (await sweeps()) >= 3);
    // 16 MiB change between any two rounds: sending them takes far more than 1 ms.
    const m = await call(a.ep, "POST", "/v1/vms/d/migrate", { to: bEp().url, token: TOKEN, maxDowntimeMs: 1 });
    assert.notEqual(m.status, 200, m.text);
    assert.match(m.text, /more than --max-downtime 1 ms/);
    assert.equal(((await call(a.ep, "GET", "/v1/vms/d")).body as { status: string }).status, "running");
    const before = await sweeps();
    await waitFor("d sweeps on A", async () => (await sweeps()) > before + 2);
    assert.equal((await call(a.ep, "POST", "/v1/vms/d/kill")).status, 200);
  },
);

test(
  "vm migrate with copyDisks: the disk's overlay goes with the guest into the destination's own file",
  { skip },
  async () => {
    const disk = await startWriter("c");
    const r = await call(a.ep, "POST", "/v1/vms/c/migrate", { to: bEp().url, token: TOKEN, copyDisks: true });
    assert.equal(r.status, 200, r.text);
    const aText = (await call(a.ep, "GET", "/v1/vms/c/console")).text;
    await waitFor(
      "c writes on B",
      async () => records((await call(bEp(), "GET", "/v1/vms/c/console")).text).length >= 40,
    );
    const seq = records(aText + (await call(bEp(), "GET", "/v1/vms/c/console")).text);
    seq.forEach((n, i) => assert.equal(n, seq[0]! + i, `W${n} after W${seq[i - 1]}`));
    assert.equal((await call(bEp(), "POST", "/v1/vms/c/kill")).status, 200);
    // Every record, those written on A included, is in B's own overlay over the shared base.
    const onB = (await call(bEp(), "GET", "/v1/vms/c")).body as { id: string };
    await assertLastRecords(disk, join(b.dir, "vms", onB.id, "disk0.overlay"), seq.at(-1)!);
  },
);

test(
  "vm migrate of a guest rewriting 16 MiB at 20 MB/s: every word checked on the destination, passes go on without a gap",
  { skip },
  async (t) => {
    const r = await call(a.ep, "POST", "/v1/vms?start=true", { name: "w", kernel: dirtier, memoryMiB: 64 });
    assert.equal(r.status, 201, r.text);
    const passes = (text: string) => [...text.matchAll(/P(\d+) (\d+)\n/g)].map((m) => Number(m[1]));
    const consoleOf = async (ep: typeof a.ep) => (await call(ep, "GET", "/v1/vms/w/console")).text;
    await waitFor("w passes on A", async () => passes(await consoleOf(a.ep)).length >= 2);
    const m = await call(a.ep, "POST", "/v1/vms/w/migrate", { to: bEp().url, token: TOKEN, maxDowntimeMs: 300 });
    assert.equal(m.status, 200, m.text);
    const res = (m.body as { result: { rounds: number; bytesSent: number; downtimeMs: number } }).result;
    t.diagnostic(`migration of the 16 MiB dirtier at 20 MB/s: ${JSON.stringify(res)}`);
    assert.ok(res.rounds >= 2 && res.bytesSent > 16 << 20, JSON.stringify(res));
    const onA = await consoleOf(a.ep);
    // Two whole passes on B: every word of the buffer was checked against what A stored last.
    await waitFor("w passes on B", async () => {
      const text = await consoleOf(bEp());
      return passes(text).length >= 2 || text.includes("BAD");
    });
    const onB = await consoleOf(bEp());
    assert.doesNotMatch(onA + onB, /BAD/);
    const seq = passes(onA + onB);
    seq.forEach((n, i) => assert.equal(n, i + 1, `P${n} after P${seq[i - 1]}`));
    assert.equal((await call(bEp(), "POST", "/v1/vms/w/kill")).status, 200);
  },
);

test(
  "vm migrate --copy-disks pre-copies the overlay: 24 MiB written before go in the rounds, the guest's writes during them follow",
  { skip },
  async (t) => {
    // A 32 MiB base; the overlay holds 24 MiB of a pattern (written before the VM starts) besides the
    // records the guest writes at sectors 0-63 all along: the guest runs while the pattern is sent,
    // after the first round read the records' piece, so later rounds must send its new records.
    const disk = join(dirname(guest), "mig-p.img");
    writeFileSync(disk, Buffer.alloc(32 << 20));
    const r = await call(a.ep, "POST", "/v1/vms", {
      name: "p",
      kernel: guest,
      memoryMiB: 64,
      disks: [{ path: disk, overlay: true }],
    });
    assert.equal(r.status, 201, r.text);
    const id = (r.body as { id: string }).id;
    const pattern = Buffer.alloc(24 << 20);
    for (let i = 0; i < pattern.length; i += 4) pattern.writeUInt32LE((i * 2654435761) >>> 0, i);
    const ov = await CowOverlay.open(disk, join(a.dir, "vms", id, "disk0.overlay"));
    await ov.write([pattern], 4 << 20);
    await ov.close();
    assert.equal((await call(a.ep, "POST", "/v1/vms/p/start")).status, 200);
    await waitFor(
      "p writes",
      async () => (records((await call(a.ep, "GET", "/v1/vms/p/console")).text).at(-1) ?? 0) >= 20,
    );
    const m = await call(a.ep, "POST", "/v1/vms/p/migrate", { to: bEp().url, token: TOKEN, copyDisks: true });
    assert.equal(m.status, 200, m.text);
    const res = (
      m.body as { result: { rounds: number; finalPages: number; finalBytes: number; diskBytesSent: number } }
    ).result;
    t.diagnostic(`--copy-disks with a 24 MiB overlay: ${JSON.stringify(res)}`);
    const finalDisk = res.finalBytes - res.finalPages * 4096;
    assert.ok(res.diskBytesSent >= 24 << 20, "the overlay went in the pre-copy");
    assert.ok(
      finalDisk < 1 << 20,
      `only blocks written since the last round go in the stop-and-copy (${finalDisk} bytes)`,
    );
    const aText = (await call(a.ep, "GET", "/v1/vms/p/console")).text;
    await waitFor(
      "p writes on B",
      async () => records((await call(bEp(), "GET", "/v1/vms/p/console")).text).length >= 40,
    );
    assert.equal((await call(bEp(), "POST", "/v1/vms/p/kill")).status, 200);
    const seq = records(aText + (await call(bEp(), "GET", "/v1/vms/p/console")).text);
    seq.forEach((n, i) => assert.equal(n, seq[0]! + i, `W${n} after W${seq[i - 1]}`));
    const onB = (await call(bEp(), "GET", "/v1/vms/p")).body as { id: string };
    const overlayB = join(b.dir, "vms", onB.id, "disk0.overlay");
    await assertLastRecords(disk, overlayB, seq.at(-1)!);
    const d = await CowOverlay.open(disk, overlayB);
    try {
      const back = new Uint8Array(24 << 20);
      await d.read([back], 4 << 20);
      assert.ok(Buffer.from(back).equals(pattern), "the 24 MiB written before the migration are in B's overlay");
    } finally {
      await d.close();
    }
  },
);
