// Property-based fuzzing of the split virtqueue (virtio 1.2 §2.7) with random, hostile descriptor
// tables: loops, head/next indices past the table, buffers outside RAM or straddling its end,
// lengths up to 4 GiB, indirect tables (nested, empty, odd lengths, outside RAM, not negotiated),
// writable-before-readable buffers, avail.idx far ahead. The oracle is a separate reading of the
// spec (a walk that detects loops by revisiting a descriptor rather than by counting steps):
// VirtQueue.pop must never throw, must end, must return exactly the oracle's buffers, must report a
// corrupt ring as BROKEN (the transport then sets DEVICE_NEEDS_RESET, §2.1.2) and a bad request as
// chain.error, and must never touch memory outside guest RAM.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { DescChain, POP_BROKEN, POP_EMPTY, POP_OK, VirtQueue } from "../../src/devices/virtio/VirtQueue.js";
import { makeGuest, sentinelIntact, RAM_BASE } from "./helpers.js";
import { fuzzParams } from "./fuzzConfig.js";
import { gpa } from "../../src/memory/Address.js";

const RAM = 1 << 20;
const DESC = RAM_BASE + 0x1000;
const AVAIL = RAM_BASE + 0x2000;
const USED = RAM_BASE + 0x3000;
const TABLES = RAM_BASE + 0x4000; // indirect tables, 0x400 apart
const F_NEXT = 1,
  F_WRITE = 2,
  F_INDIRECT = 4;

interface Desc {
  addr: number;
  len: number;
  flags: number;
  next: number;
}

/** Mostly plausible values (so chains get long and interesting), sometimes what a hostile driver tries. */
const addrArb = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0x10000, max: RAM - 0x2000 }).map((o) => RAM_BASE + o) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 15 }).map((k) => TABLES + 0x400 * k) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      RAM_BASE + RAM - 1,
      RAM_BASE + RAM,
      RAM_BASE - 1,
      0,
      0x1000,
      2 ** 52,
      2 ** 64 - 4096,
      2 ** 63,
    ),
  },
);
const lenArb = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 4096 }) },
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 20 }).map((k) => 16 * k) },
  { weight: 1, arbitrary: fc.constantFrom(0, 0xffffffff, 0x80000000, RAM, RAM + 1) },
);
const flagsArb = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0, max: 7 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }) },
);
const descArb = (maxNext: number) =>
  fc.record({
    addr: addrArb,
    len: lenArb,
    flags: flagsArb,
    next: fc.oneof(
      { weight: 6, arbitrary: fc.integer({ min: 0, max: 15 }) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: maxNext }) },
      { weight: 1, arbitrary: fc.constant(0xffff) },
    ),
  });
/** A descriptor that points at one of the indirect tables. */
const indirectArb = fc.record({
  addr: fc.integer({ min: 0, max: 15 }).map((k) => TABLES + 0x400 * k),
  len: fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min: 1, max: 20 }).map((k) => 16 * k) },
    { weight: 1, arbitrary: lenArb },
  ),
  flags: fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(F_INDIRECT, F_INDIRECT | F_WRITE) },
    { weight: 1, arbitrary: flagsArb },
  ),
  next: fc.integer({ min: 0, max: 16 }),
});
const tableEntryArb = fc.record({ addr: addrArb, len: lenArb, flags: flagsArb, next: fc.integer({ min: 0, max: 21 }) });

function writeDesc(view: DataView, off: number, d: Desc): void {
  view.setUint32(off, d.addr % 2 ** 32, true);
  view.setUint32(off + 4, Math.floor(d.addr / 2 ** 32), true);
  view.setUint32(off + 8, d.len, true);
  view.setUint16(off + 12, d.flags, true);
  view.setUint16(off + 14, d.next, true);
}

type Expect = { kind: "broken" } | { kind: "ok"; bufs: [number, number, boolean][]; error: boolean };

/** The spec's walk (§2.7.5, §2.7.5.3), written independently of VirtQueue. */
function oracle(
  read: (gpa: number) => Desc,
  inRam: (a: number, l: number) => boolean,
  n: number,
  head: number,
  indirect: boolean,
): Expect {
  if (head >= n) return { kind: "broken" };
  const bufs: [number, number, boolean][] = [];
  const seen = new Set<number>();
  let i = head;
  for (;;) {
    if (seen.has(i)) return { kind: "broken" }; // a loop
    seen.add(i);
    const d = read(DESC + 16 * i);
    if (d.flags & F_INDIRECT) {
      // §2.7.5.3.1: only with VIRTIO_F_INDIRECT_DESC, never with NEXT, never nested; len a multiple of 16.
      if (!indirect || d.flags & F_NEXT || d.len === 0 || d.len % 16 !== 0 || !inRam(d.addr, d.len))
        return { kind: "broken" };
      const entries = d.len / 16;
      const seenT = new Set<number>();
      let j = 0;
      for (;;) {
        if (seenT.has(j)) return { kind: "broken" };
        seenT.add(j);
        const e = read(d.addr + 16 * j);
        if (e.flags & F_INDIRECT) return { kind: "broken" };
        bufs.push([e.addr, e.len, (e.flags & F_WRITE) !== 0]);
        if (!(e.flags & F_NEXT)) break;
        if (e.next >= entries) return { kind: "broken" };
        j = e.next;
      }
      break;
    }
    bufs.push([d.addr, d.len, (d.flags & F_WRITE) !== 0]);
    if (!(d.flags & F_NEXT)) break;
    if (d.next >= n) return { kind: "broken" };
    i = d.next;
  }
  // A bad request, not a corrupt ring: a buffer outside RAM, or readable after writable (§2.7.4.2).
  let error = bufs.some(([a, l]) => !inRam(a, l));
  let sawWritable = false;
  for (const [, , w] of bufs) {
    if (w) sawWritable = true;
    else if (sawWritable) error = true;
  }
  return { kind: "ok", bufs, error };
}

test("fuzz: VirtQueue.pop on random hostile descriptor tables matches the spec's walk, never throws or leaves RAM", (t) => {
  const seen = { ok: 0, badRequest: 0, broken: 0, indirect: 0 };
  const arb = fc.record({
    log2n: fc.integer({ min: 0, max: 4 }),
    descs: fc.array(fc.oneof({ weight: 4, arbitrary: descArb(18) }, { weight: 1, arbitrary: indirectArb }), {
      minLength: 16,
      maxLength: 16,
    }),
    tables: fc.array(fc.array(tableEntryArb, { minLength: 1, maxLength: 21 }), { minLength: 16, maxLength: 16 }),
    heads: fc.array(
      fc.oneof(
        { weight: 8, arbitrary: fc.integer({ min: 0, max: 15 }) },
        { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }) },
      ),
      { minLength: 16, maxLength: 16 },
    ),
    availIdx: fc.oneof(
      { weight: 8, arbitrary: fc.integer({ min: 0, max: 16 }) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }) },
    ),
    indirect: fc.boolean(),
    eventIdx: fc.boolean(),
  });
  const mem = makeGuest(RAM);
  fc.assert(
    fc.property(arb, (c) => {
      mem.bytes.fill(0);
      const view = mem.view;
      const o = (gpa: number) => gpa - RAM_BASE;
      const n = 1 << c.log2n;
      c.descs.forEach((d, i) => writeDesc(view, o(DESC) + 16 * i, d));
      c.tables.forEach((t, k) => t.forEach((d, i) => writeDesc(view, o(TABLES) + 0x400 * k + 16 * i, d)));
      c.heads.forEach((h, i) => view.setUint16(o(AVAIL) + 4 + 2 * i, h, true));
      view.setUint16(o(AVAIL) + 2, c.availIdx, true);
      const q = new VirtQueue(0, 16);
      q.size = n;
      q.descAddr = DESC;
      q.availAddr = AVAIL;
      q.usedAddr = USED;
      assert.equal(q.enable(mem, c.eventIdx, c.indirect), "");
      const read = (gpa: number): Desc => {
        const x = o(gpa);
        return {
          addr: view.getUint32(x, true) + view.getUint32(x + 4, true) * 2 ** 32,
          len: view.getUint32(x + 8, true),
          flags: view.getUint16(x + 12, true),
          next: view.getUint16(x + 14, true),
        };
      };
      const chain = new DescChain(2);
      const pending = c.availIdx;
      for (let k = 0; k < Math.min(pending, n) + 1; k++) {
        const r = q.pop(chain);
        if (k === 0 && pending > n) {
          assert.equal(r, POP_BROKEN, "avail.idx more than the queue size ahead");
          break;
        }
        if (k === pending) {
          assert.equal(r, POP_EMPTY);
          break;
        }
        const want = oracle(
          read,
          (a, l) => mem.contains(gpa(a), l),
          n,
          view.getUint16(o(AVAIL) + 4 + 2 * (k % n), true),
          c.indirect,
        );
        seen[want.kind === "broken" ? "broken" : want.error ? "badRequest" : "ok"]++;
        if (
          want.kind === "ok" &&
          read(DESC + ((16 * view.getUint16(o(AVAIL) + 4 + 2 * (k % n), true)) % n)).flags & F_INDIRECT
        )
          seen.indirect++;
        if (want.kind === "broken") {
          assert.equal(r, POP_BROKEN, "corrupt ring reported as broken");
          assert.notEqual(q.broken, "");
          assert.equal(q.pop(chain), POP_BROKEN, "stays broken until reset");
          break;
        }
        assert.equal(r, POP_OK, `pop ${k}: ${q.broken}`);
        const got: [number, number, boolean][] = [];
        for (let i = 0; i < chain.count; i++) got.push([chain.addr[i]!, chain.len[i]!, i >= chain.firstWritable]);
        // Writable-before-readable chains keep their order; only the first writable index matters.
        if (!want.error) assert.deepEqual(got, want.bufs);
        assert.equal(chain.error !== "", want.error, `chain.error "${chain.error}"`);
        // Whatever the device then does with the chain stays inside RAM.
        const scratch = new Uint8Array(64);
        chain.readInto(mem, 0, scratch, 0, 64);
        chain.writeFrom(mem, 0, scratch, 0, 64);
        assert.ok(chain.lastWritableByte(mem) === -1 || mem.contains(gpa(chain.lastWritableByte(mem)), 1));
      }
      assert.ok(sentinelIntact(mem), "nothing written outside guest RAM");
    }),
    fuzzParams(1500),
  );
  t.diagnostic(`chains: ${JSON.stringify(seen)}`);
});
