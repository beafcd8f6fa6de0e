// The hart's saveState()/restoreState(): every field of Hart is either saved or listed here as
// derived/host-side, so a field added later (by the H extension, SMP, the translator) fails this
// test until it is saved or listed; and a saved state put on a fresh hart reads back identically.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Hart, PRIV_S } from "../../../src/riscv/Hart.js";
import { GuestMemory } from "../../../src/memory/GuestMemory.js";
import { IoBus } from "../../../src/memory/IoBus.js";
import * as C from "../../../src/riscv/Csr.js";

/** Fields whose values saveState() carries (under the same or an obvious name). */
const SAVED = new Set([
  "x",
  "fi",
  "pcLo",
  "pcHi",
  "privLevel",
  "frm",
  "fflags",
  "csr",
  "mstatus",
  "mipSw",
  "mipExt",
  "mtimecmpN",
  "stimecmpN",
  "cycleDelta",
  "resValid",
  "resAddr",
  "instret",
  "exitMask",
  "resLo",
  "resHi",
  "virt",
  "hyp", // its vsstatus/hstatus/mstatusHi/vstimecmp (the rest of H state is in csr)
]);
/** Fields that are not guest state: wiring, views of saved state, caches a restore flushes, statistics. */
const NOT_STATE = new Set([
  "memory",
  "bus",
  "hartId",
  "timer",
  "mmu", // wiring (the restored machine is built the same)
  "state",
  "xb",
  "f",
  "fb", // other views of the x/f register file
  "stats", // statistics
  "mipTimer", // recomputed from the timer at the start of every slice
  "exitCause",
  "exitTvalLo",
  "exitTvalHi",
  "exitReason",
  "exitSlice", // the last run()'s exit, read by the host at once
  "sliceTraps",
  "stepsBefore", // slice bookkeeping, reset by restore
  "ram8",
  "ram16",
  "ram32",
  "memBase",
  "memSize",
  "ctab", // views of RAM and the RVC table
  "vLo",
  "vHi",
  "cLo",
  "cHi",
  "misPa", // scratch of one access (results, a misaligned access's byte addresses)
  "fastTagLo",
  "fastTagHi",
  "fastBase",
  "fastEpoch",
  "fastFullEpoch",
  "superpages",
  "superpageCount", // fast translation caches and their superpage list (flushed by restore)
  "engine",
  "codePages", // the attached translator (a restored board gets its own)
  "triggers", // Sdtrig: no triggers implemented, nothing to hold
  "csrFault", // scratch: the cause of the CSR access being refused
  "smp",
  "attention",
  "attentionIndex", // vCPU-thread wiring (the restored board sets its own)
]);

function newHart(): Hart {
  const memory = new GuestMemory({ base: 0x8000_0000, size: 1 << 20 });
  return new Hart({ memory, bus: new IoBus("mmio") });
}

test("every Hart field is saved by saveState() or listed as not guest state", () => {
  const h = newHart();
  const unknown = Object.keys(h).filter((k) => !SAVED.has(k) && !NOT_STATE.has(k));
  assert.deepEqual(
    unknown,
    [],
    `Hart has fields snapshots do not know: ${unknown.join(", ")}; save them in Hart.saveState()/restoreState() (and HartPersist.ts) or list them in NOT_STATE with the reason`,
  );
  const missing = [...SAVED].filter((k) => !(k in h));
  assert.deepEqual(missing, [], `fields listed as saved no longer exist: ${missing.join(", ")}`);
});

test("a saved hart state survives JSON and a fresh hart and reads back identically", () => {
  const a = newHart();
  for (let i = 1; i < 32; i++) a.setX(i, BigInt(i) * 0x0123_4567_89ab_cdefn);
  for (let i = 0; i < 32; i++) a.setF(i, BigInt(i + 7) * 0x1111_2222_3333n);
  a.setPc(0x8020_1234n);
  const csrs: [number, bigint][] = [
    [C.CSR_MTVEC, 0x8000_0100n],
    [C.CSR_STVEC, 0xffff_ffff_8000_0200n],
    [C.CSR_MSCRATCH, 0xdead_beef_0000_0001n],
    [C.CSR_SSCRATCH, 0x42n],
    [C.CSR_MEPC, 0x8000_0040n],
    [C.CSR_SEPC, 0xffff_ffff_8010_0000n],
    [C.CSR_MEDELEG, 0xb1ffn],
    [C.CSR_MIDELEG, 0x222n],
    [C.CSR_MIE, 0xaaan],
    [C.CSR_MENVCFG, 1n << 63n],
    [C.CSR_STIMECMP, 123456789n],
    [C.CSR_MCOUNTEREN, 7n],
    [C.CSR_SCOUNTEREN, 7n],
    [C.CSR_MSTATUS, (1n << BigInt(C.MS_FS_SHIFT)) | 2n],
    [C.CSR_FCSR, 0x85n],
  ];
  for (const [n, v] of csrs) a.writeCsr(n, v);
  a.mtimecmp = 987654321n;
  a.setInterruptPending(9, true);
  a.exitMask = 1 << 9;
  a.priv = PRIV_S;
  const saved = a.saveState();
  const b = newHart();
  b.restoreState(JSON.parse(JSON.stringify(saved)));
  assert.deepEqual(b.saveState(), saved);
  for (const [n] of csrs) assert.equal(b.readCsr(n), a.readCsr(n), `CSR 0x${n.toString(16)}`);
  for (let i = 0; i < 32; i++) assert.equal(b.getX(i), a.getX(i));
  assert.equal(b.getPc(), a.getPc());
  assert.equal(b.priv, PRIV_S);
  assert.equal(b.mtimecmp, 987654321n);
  assert.equal(b.stimecmp, 123456789n);
});
