// Debug triggers (RISC-V Debug Specification 1.0, ch. 5 "Sdtrig"): the CSRs, WARL legalization of
// tdata1, and mcontrol6 execute/load/store address triggers raising breakpoint exceptions before
// the instruction or access, with the M-mode reentrancy rule (no match while mstatus.MIE = 0).
// Programs start in M-mode; the M trap handler at +0x100 copies mcause/mepc/mtval into a0-a2 and
// executes ecall, which exits to the host (exitMask bit 11).
import { test } from "node:test";
import assert from "node:assert/strict";
import { assemble, machine, toolchainMissing, RAM_BASE } from "./asm.js";
import { ExitReason } from "../../src/riscv/Hart.js";
import { gpa } from "../../src/memory/Address.js";
import * as C from "../../src/riscv/Csr.js";

const skip = toolchainMissing();
const MCONTROL6 = 6n << 60n;
const LOAD = 1n,
  STORE = 2n,
  EXECUTE = 4n,
  U = 1n << 3n,
  M = 1n << 6n,
  HIT0 = 1n << 22n;
const DATA = RAM_BASE + 0x10000;

/** Runs `body` (in M-mode, after the handler setup) until the handler's ecall; returns [cause, epc, tval]. */
function runTo(body: string, setup: (h: ReturnType<typeof machine>["hart"]) => void = () => {}) {
  const m = machine(
    assemble(`
    .option norvc
    la t0, handler
    csrw mtvec, t0
    j start
.org 0x100
handler:
    csrr a0, mcause
    csrr a1, mepc
    csrr a2, mtval
    ecall
start:
${body}
    ecall
`),
  );
  const h = m.hart;
  h.exitMask = 1 << 11;
  m.memory.writeU64(gpa(DATA), 0x55n);
  setup(h);
  assert.equal(h.run(10_000), ExitReason.Trap);
  assert.equal(h.exitCause, 11);
  return { m, h, cause: h.getX(10), epc: h.getX(11), tval: h.getX(12) };
}

test("Sdtrig CSRs: two triggers, tinfo version 1 with types 6 and 15, tdata1 WARL", { skip }, () => {
  const { h } = runTo("nop");
  assert.equal(h.readCsr(C.CSR_TINFO), (1n << 24n) | (1n << 6n) | (1n << 15n));
  assert.equal(h.readCsr(C.CSR_TDATA1), 15n << 60n, "reset: disabled (type 15)");
  h.writeCsr(C.CSR_TSELECT, 1n);
  assert.equal(h.readCsr(C.CSR_TSELECT), 1n);
  h.writeCsr(C.CSR_TSELECT, 2n);
  assert.equal(h.readCsr(C.CSR_TSELECT), 1n, "only triggers 0 and 1 exist");
  h.writeCsr(C.CSR_TDATA1, MCONTROL6 | (1n << 59n) | (0xfn << 12n) | (1n << 11n) | (5n << 7n) | M | EXECUTE);
  assert.equal(h.readCsr(C.CSR_TDATA1), MCONTROL6 | M | EXECUTE, "no dmode, action 0, no chain, match 5 -> 0");
  h.writeCsr(C.CSR_TDATA1, MCONTROL6 | (3n << 7n) | U | LOAD);
  assert.equal(h.readCsr(C.CSR_TDATA1), MCONTROL6 | (3n << 7n) | U | LOAD, "match 3 (<) is kept");
  h.writeCsr(C.CSR_TDATA1, 2n << 60n);
  assert.equal(h.readCsr(C.CSR_TDATA1), 15n << 60n, "unsupported type 2 -> disabled");
  h.writeCsr(C.CSR_TDATA2, 0x1234_5678_9abc_def0n);
  assert.equal(h.readCsr(C.CSR_TDATA2), 0x1234_5678_9abc_def0n);
  assert.equal(h.readCsr(C.CSR_TDATA3), 0n);
  assert.equal(h.readCsr(C.CSR_TCONTROL), 0n);
});

test(
  "execute trigger in U-mode: breakpoint before the instruction (epc = tval = its address), hit0 set",
  { skip },
  () => {
    const r = runTo(
      `
    la t0, user
    csrw mepc, t0
    la t1, target
    csrw tdata2, t1
    li t2, ${MCONTROL6 | U | EXECUTE}
    csrw tdata1, t2
    mret                   # MPP = U
user:
    li s0, 1
target:
    li s0, 2
    ecall
`,
    );
    assert.equal(r.cause, 3n);
    assert.equal(r.epc, r.tval);
    assert.equal(r.h.getX(8), 1n, "the matching instruction did not run");
    assert.equal(r.h.readCsr(C.CSR_TDATA1) & HIT0, HIT0);
  },
);

test("load and store triggers (equal, >=, <) fire before the access; M-mode only while MIE = 1", { skip }, () => {
  const user = (op: string) => `
    la t0, user
    csrw mepc, t0
    li t1, ${DATA}
    csrw tdata2, t1
    mret
user:
    li t3, ${DATA}
    ${op}
    ecall
`;
  let r = runTo(user("ld s1, 0(t3)"), (h) => h.writeCsr(C.CSR_TDATA1, MCONTROL6 | U | LOAD));
  assert.deepEqual([r.cause, r.tval, r.h.getX(9)], [3n, BigInt(DATA), 0n], "load: breakpoint, tval = address, no load");
  r = runTo(user("sd t3, 0(t3)"), (h) => h.writeCsr(C.CSR_TDATA1, MCONTROL6 | U | STORE));
  assert.deepEqual([r.cause, r.tval], [3n, BigInt(DATA)]);
  assert.equal(r.m.memory.readU64(gpa(DATA)), 0x55n, "the store did not happen");
  r = runTo(user("sd t3, 0(t3)"), (h) => h.writeCsr(C.CSR_TDATA1, MCONTROL6 | U | LOAD));
  assert.equal(r.cause, 8n, "a load trigger ignores stores (the U-mode ecall is reached)");
  r = runTo(user("ld s1, 8(t3)"), (h) => h.writeCsr(C.CSR_TDATA1, MCONTROL6 | (2n << 7n) | U | LOAD));
  assert.deepEqual([r.cause, r.tval], [3n, BigInt(DATA + 8)], ">= matches above");
  r = runTo(user("ld s1, 8(t3)"), (h) => h.writeCsr(C.CSR_TDATA1, MCONTROL6 | (3n << 7n) | U | LOAD));
  assert.equal(r.cause, 8n, "< does not match above");
  r = runTo(user("ld s1, 0(t3)"), (h) => h.writeCsr(C.CSR_TDATA1, MCONTROL6 | M | LOAD));
  assert.equal(r.cause, 8n, "the trigger watches M-mode only");

  // In M-mode: with MIE = 0 (as in a trap handler) the trigger does not match; with MIE = 1 it does.
  const mload = (mie: boolean) => `
    li t1, ${DATA}
    csrw tdata2, t1
    li t2, ${MCONTROL6 | M | LOAD}
    csrw tdata1, t2
    ${mie ? "csrsi mstatus, 8" : ""}
    ld s1, 0(t1)
    li a0, 77
    ecall
`;
  r = runTo(mload(false));
  assert.equal(r.cause, 77n, "MIE = 0: no match (reentrancy rule)");
  r = runTo(mload(true));
  assert.deepEqual([r.cause, r.tval], [3n, BigInt(DATA)]);
});
