// Property-based fuzzing of the built-in SBI (SBI 2.0) with hostile arguments: every extension id
// the firmware implements plus random ones, function ids in and past each extension's range, and
// arguments biased to edge values (RAM edges, hart ids, -1, 2^63, 2^64-1). For every call: the
// handler never throws, a non-legacy call returns one of the spec's error codes (§3.2 table) with
// value 0 on error, an unknown extension or function is SBI_ERR_NOT_SUPPORTED, the platform is only
// asked about harts that exist and RAM addresses inside RAM, DBCN moves at most DBCN_MAX_BYTES and
// never writes outside RAM, legacy calls keep a1, and the per-call counters stay a fixed set.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  DBCN_MAX_BYTES,
  EID_BASE,
  EID_DBCN,
  EID_HSM,
  EID_IPI,
  EID_RFENCE,
  EID_SRST,
  EID_TIME,
} from "../../src/vmm/Sbi.js";
import { fakeMachine, SBI_RAM_BASE, SBI_RAM_SIZE } from "./sbiHarness.js";
import { fuzzParams } from "../devices/fuzzConfig.js";
import { gpa } from "../../src/memory/Address.js";

const HARTS = 3;
const KNOWN = [EID_BASE, EID_TIME, EID_IPI, EID_RFENCE, EID_HSM, EID_SRST, EID_DBCN];
/** Functions each extension defines (SBI 2.0); others must be NOT_SUPPORTED. RFENCE 3..6 need H. */
const FUNCTIONS: Record<number, number> = {
  [EID_BASE]: 7,
  [EID_TIME]: 1,
  [EID_IPI]: 1,
  [EID_RFENCE]: 3,
  [EID_HSM]: 4,
  [EID_SRST]: 1,
  [EID_DBCN]: 3,
};
const ERRORS = new Set([0n, -1n, -2n, -3n, -4n, -5n, -6n, -7n, -8n, -9n, -10n]);

const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const argArb = fc.oneof(
  fc.constantFrom(0n, 1n, 2n, 3n, 4n, 0x80000000n, (1n << 64n) - 1n, 1n << 63n, 0xffffffffn, 0x100000000n),
  fc.integer({ min: -16, max: SBI_RAM_SIZE + 16 }).map((o) => BigInt(SBI_RAM_BASE + o)),
  fc.nat({ max: 5000 }).map(BigInt),
  u64,
);
const callArb = fc.record({
  eid: fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...KNOWN) },
    { weight: 2, arbitrary: fc.integer({ min: 0, max: 8 }) },
    { weight: 1, arbitrary: fc.nat({ max: 0xffffffff }) },
  ),
  fid: fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min: 0, max: 8 }) },
    { weight: 1, arbitrary: fc.nat({ max: 0xffffffff }) },
  ),
  args: fc.array(argArb, { minLength: 6, maxLength: 6 }),
  input: fc.nat({ max: 3 }),
});

test("fuzz: SBI calls with hostile arguments get the spec's error codes and never reach past the machine", () => {
  let calls = 0;
  fc.assert(
    fc.property(fc.array(callArb, { minLength: 1, maxLength: 30 }), (seq) => {
      const m = fakeMachine(HARTS);
      for (const c of seq) {
        calls++;
        m.log.length = 0;
        m.out.length = 0;
        m.input.push(...Array.from({ length: c.input * 3000 }, () => 0x61));
        const r = m.call(c.eid, c.fid, ...c.args);
        if (c.eid <= 8) {
          assert.equal(m.x[11], c.args[1], "legacy calls return in a0 only: a1 is kept");
        } else {
          assert.ok(ERRORS.has(r.err), `error code ${r.err} is one of the spec's`);
          if (r.err !== 0n) assert.equal(r.value, 0n, "value is 0 on error");
          if (!KNOWN.includes(c.eid) || c.fid >= FUNCTIONS[c.eid]!)
            assert.equal(r.err, -2n, "unknown extension or function: NOT_SUPPORTED");
        }
        for (const l of m.log) {
          const [what, h, a, b] = l.split(" ");
          if (what !== "reset") assert.ok(Number(h) < HARTS, `platform asked about hart ${h} (${l})`);
          if (what === "start") assert.ok(m.memory.contains(gpa(Number(a)), 4), `hart started at 0x${a} outside RAM`);
          if (what === "reset") assert.ok(Number(h) <= 2 && Number(a) <= 1, `reset type ${h} reason ${a}`);
          void b;
        }
        assert.ok(m.out.length <= DBCN_MAX_BYTES, `${m.out.length} bytes written by one call`);
        if (c.eid === EID_DBCN && c.fid <= 1 && r.err === 0n) assert.ok(r.value <= BigInt(DBCN_MAX_BYTES));
      }
      assert.ok(m.sentinelIntact(), "nothing written outside guest RAM");
      assert.ok(m.sbi.calls.size <= 60, `call counters hold ${m.sbi.calls.size} keys`);
    }),
    fuzzParams(400),
  );
  assert.ok(calls > 1000);
});
