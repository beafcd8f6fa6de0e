// The dirty log (GuestMemory.dirtyLog, vmm/DirtyRound.ts) misses no write: after a round starts,
// every page whose bytes differ from a copy taken then is marked, whoever wrote it. Property tests
// (fixed seed, bounded runs) for the three kinds of writers live migration depends on:
// - the interpreter's stores (sb/sh/sw/sd, compressed, misaligned, FP, AMO, SC), with its store
//   cache warm from an earlier run over the same pages (the write protection must still catch them);
// - translated code's stores through the TLB mirror (the same program with the translator);
// - device DMA: virtio-blk reads whose data lands after the round took the log (in flight), and
//   the used ring.
// Page-table walks setting A/D bits mark the page-table page (Sv39, a store through a PTE without D).
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { dirtyPages, type GuestMemory } from "../../src/memory/GuestMemory.js";
import { gpa } from "../../src/memory/Address.js";
import { ExitReason, PRIV_S } from "../../src/riscv/Hart.js";
import { beginDirtyRound, flushHartStoreCaches } from "../../src/vmm/DirtyRound.js";
import { VirtioBlk, VIRTIO_BLK_T_IN } from "../../src/devices/virtio/VirtioBlk.js";
import { openDisk } from "../../src/devices/block/openDisk.js";
import { assemble, RAM_BASE, toolchainMissing } from "../riscv/asm.js";
import { dbtMachine, type DbtMachine } from "../dbt/machine.js";
import { makeGuest, rig, tempDir } from "../devices/helpers.js";
import { fuzzParams } from "../devices/fuzzConfig.js";

const skip = toolchainMissing() ?? false;
const TABLE = RAM_BASE + 0x8_0000;
const DATA = RAM_BASE + 0x10_0000;
const DATA_PAGES = 16;

// Walks a table of {kind u32, offset u32, value u64} entries (kind 0 ends it) three times, storing
// each value at DATA + offset the kind's way.
const PROGRAM = `
    li t0, 0x2000
    csrs mstatus, t0          # FS = Initial: FP stores allowed
    li t5, 3
pass:
    li a0, ${TABLE}
    li a1, ${DATA}
loop:
    lw t0, 0(a0)
    beqz t0, end
    lwu t1, 4(a0)
    ld s1, 8(a0)
    add s0, a1, t1
    li t4, 1
    beq t0, t4, k1
    li t4, 2
    beq t0, t4, k2
    li t4, 3
    beq t0, t4, k3
    li t4, 4
    beq t0, t4, k4
    li t4, 5
    beq t0, t4, k5
    li t4, 6
    beq t0, t4, k6
    andi s0, s0, -8
    lr.d t2, (s0)
    sc.d t3, s1, (s0)
    j next
k1: sb s1, 0(s0)
    j next
k2: sh s1, 0(s0)
    j next
k3: sw s1, 0(s0)           # c.sw when aligned registers allow it
    j next
k4: sd s1, 0(s0)
    j next
k5: andi s0, s0, -8
    amoadd.d zero, s1, (s0)
    j next
k6: fmv.d.x f0, s1
    fsd f0, 0(s0)
next:
    addi a0, a0, 16
    j loop
end:
    addi t5, t5, -1
    bnez t5, pass
    ebreak
`;
const SIZE = [0, 1, 2, 4, 8, 8, 8, 8];

interface Store {
  kind: number;
  offset: number;
  value: bigint;
}
const storeArb = fc.record({
  kind: fc.integer({ min: 1, max: 7 }),
  offset: fc.integer({ min: 0, max: DATA_PAGES * 4096 - 8 }),
  value: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
});
const tableArb = fc.array(storeArb, { minLength: 1, maxLength: 24 });

function writeTable(mem: GuestMemory, stores: Store[]): void {
  stores.forEach((s, i) => {
    mem.writeU32(gpa(TABLE + 16 * i), s.kind);
    mem.writeU32(gpa(TABLE + 16 * i + 4), s.offset);
    mem.writeU64(gpa(TABLE + 16 * i + 8), s.value);
  });
  mem.writeU32(gpa(TABLE + 16 * stores.length), 0);
}

/** Host pages the stores write (an AMO/SC at the aligned address; misaligned ones may cross a page). */
function targets(stores: Store[]): number[] {
  const pages = new Set<number>();
  for (const s of stores) {
    const at = DATA - RAM_BASE + (s.kind === 5 || s.kind === 7 ? s.offset & ~7 : s.offset);
    pages.add(at >>> 12);
    pages.add((at + SIZE[s.kind]! - 1) >>> 12);
  }
  return [...pages].sort((a, b) => a - b);
}

function runToEbreak(m: DbtMachine): void {
  m.hart.exitMask = 1 << 3;
  for (let i = 0; i < 1000; i++) {
    const r = m.hart.run(100_000);
    if (r === ExitReason.Trap) {
      assert.equal(m.hart.exitCause, 3, "the program ends at its ebreak");
      return;
    }
  }
  assert.fail("the program did not reach its ebreak");
}

/** Pages whose bytes differ between `before` and RAM now. */
function changedPages(mem: GuestMemory, before: Uint8Array): number[] {
  const out: number[] = [];
  const now = Buffer.from(mem.bytes.buffer, mem.bytes.byteOffset, mem.size);
  const was = Buffer.from(before.buffer, before.byteOffset, before.byteLength);
  for (let p = 0; p < mem.size / 4096; p++)
    if (now.compare(was, p * 4096, (p + 1) * 4096, p * 4096, (p + 1) * 4096) !== 0) out.push(p);
  return out;
}

function assertSubset(changed: number[], marked: number[], what: string): void {
  const m = new Set(marked);
  const missed = changed.filter((p) => !m.has(p));
  assert.deepEqual(missed, [], `${what}: pages changed but not marked in the dirty log`);
}

for (const engine of ["interp", "dbt"] as const) {
  test(
    `dirty log: ${engine} stores after a round starts are all marked, with the store cache warm`,
    { skip },
    async () => {
      const code = assemble(PROGRAM);
      let translated = 0;
      const log = new Int32Array(64);
      await fc.assert(
        fc.asyncProperty(tableArb, tableArb, async (warm, stores) => {
          const m = dbtMachine(code, engine === "dbt", { hotThreshold: 1 }, 2 << 20);
          // The first run fills the store cache (and the translator's mirror) for its pages.
          writeTable(m.memory, warm);
          runToEbreak(m);
          writeTable(m.memory, stores);
          m.hart.setPc(BigInt(RAM_BASE));
          await beginDirtyRound(m.memory, flushHartStoreCaches([m.hart]), log);
          const before = m.memory.bytes.slice();
          runToEbreak(m);
          m.memory.takeDirtyLog(log);
          const marked = dirtyPages(log);
          assertSubset(changedPages(m.memory, before), marked, engine);
          // Every page stored to is marked, also where the value did not change, and nothing else.
          assert.deepEqual(marked, targets(stores));
          translated += m.dbt?.stats.translatedInsns ?? 0;
        }),
        fuzzParams(25),
      );
      if (engine === "dbt") assert.ok(translated > 0, "the stores ran in translated code too");
    },
  );
}

test("dirty log: a page-table walk that sets A/D marks the page-table page", { skip }, async () => {
  // Sv39, one 1 GiB leaf at RAM_BASE (identity) without A and D; S-mode stores through it.
  const ROOT = RAM_BASE + 0x4_0000;
  const code = assemble(`
    li t0, ${DATA}
    li t1, 7
    sd t1, 0(t0)
    ebreak
  `);
  const m = dbtMachine(code, false, { hotThreshold: 1 }, 2 << 20);
  const vpn2 = Math.floor(RAM_BASE / 2 ** 30);
  // PPN = RAM_BASE >> 12, V|R|W|X (no A, no D).
  m.memory.writeU64(gpa(ROOT + 8 * vpn2), (BigInt(RAM_BASE >>> 12) << 10n) | 0xfn);
  m.hart.priv = PRIV_S;
  m.hart.writeCsr(0x180, (8n << 60n) | BigInt(ROOT >>> 12));
  const log = new Int32Array(64);
  await beginDirtyRound(m.memory, flushHartStoreCaches([m.hart]), log);
  const before = m.memory.bytes.slice();
  runToEbreak(m);
  m.memory.takeDirtyLog(log);
  const marked = dirtyPages(log);
  const changed = changedPages(m.memory, before);
  assert.ok(changed.includes((ROOT - RAM_BASE) >>> 12), "the walk set A/D in the root table");
  assertSubset(changed, marked, "Sv39 walk");
});

test("dirty log: virtio-blk DMA (data landing after the round took the log, used ring) is marked", async (t) => {
  const dir = tempDir(t);
  const img = join(dir, "disk.img");
  const content = Buffer.alloc(1 << 20);
  for (let i = 0; i < content.length; i += 8) content.writeUInt32LE(i + 1, i);
  writeFileSync(img, content);
  const backend = await openDisk({ path: img });
  t.after(() => backend.close());
  const r = rig(makeGuest(), (m) => new VirtioBlk(m, backend));
  r.drv.init(0n, 1, { eventIdx: false }); // no driver writes to the rings while the request is in flight
  const q = r.drv.queues[0]!;
  const log = new Int32Array(64);
  const noHarts = flushHartStoreCaches([]);
  // Buffers allocated once (the driver's allocator only grows): the header, room for 3 + 64
  // sectors (the data starts `pad` sectors in), the status byte.
  const hdr = r.drv.alloc.alloc(16);
  const area = r.drv.alloc.alloc(512 * 67, 512);
  const status = r.drv.alloc.alloc(1, 1);
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: 2047 - 64 }),
      fc.integer({ min: 1, max: 64 }),
      fc.integer({ min: 0, max: 3 }),
      async (sector, count, pad) => {
        // The driver builds the request (guest writes: marked here by the checked writers).
        r.mem.writeU32(gpa(hdr), VIRTIO_BLK_T_IN);
        r.mem.writeU64(gpa(hdr + 8), BigInt(sector));
        const buf = area + 512 * pad;
        q.add(
          [{ addr: hdr, len: 16 }],
          [
            { addr: buf, len: 512 * count },
            { addr: status, len: 1 },
          ],
        );
        const before = r.mem.bytes.slice();
        await beginDirtyRound(r.mem, noHarts, log);
        q.kick(); // the device takes the request and marks its pages; the file read lands later
        await beginDirtyRound(r.mem, noHarts, log); // a round in between: its marks are taken
        const during = r.mem.bytes.slice();
        const used = await r.drv.waitUsed(q);
        assert.equal(used.length, 1);
        assert.deepEqual(
          Buffer.from(r.mem.read(gpa(buf), 512 * count)),
          content.subarray(sector * 512, (sector + count) * 512),
        );
        r.mem.takeDirtyLog(log);
        const marked = dirtyPages(log);
        assert.ok(changedPages(r.mem, before).length > 0);
        assertSubset(changedPages(r.mem, during), marked, "virtio-blk read");
      },
    ),
    fuzzParams(20),
  );
});
