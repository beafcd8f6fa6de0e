// The hypervisor extension (Privileged ISA 20211203 ch. 8, H 1.0), written from the specification:
// CSR reset values and WARL fields, the V=1 redirection of S CSRs, trap routing to M/HS/VS with
// their trap state, the virtual-instruction exception, two-stage translation (VS-stage and G-stage,
// superpages at both stages, misaligned G-stage superpages, hgatp modes, VMID/ASID tagging),
// HLV/HLVX/HSV with hstatus.HU/SPVP, and VS-level interrupts and timers.
//
// Every program starts in M-mode at RAM_BASE, where a prologue MRETs to `guest` (offset 0x200) in
// the mode the test put in mstatus.MPP/MPV. Trap handlers are `ebreak`s at fixed offsets (M 0x100,
// HS 0x140, VS 0x180); ebreak exits to the host (exitMask), which then reads where the hart is.
import { test } from "node:test";
import assert from "node:assert/strict";
import { assemble, machine, toolchainMissing, RAM_BASE, type Machine } from "./asm.js";
import { ExitReason, PRIV_M, PRIV_S, PRIV_U } from "../../src/riscv/Hart.js";
import { gpa } from "../../src/memory/Address.js";
import * as C from "../../src/riscv/Csr.js";

const skip = toolchainMissing();
const V = 1,
  R = 2,
  W = 4,
  X = 8,
  U = 16,
  A = 64,
  D = 128;
const MTRAP = RAM_BASE + 0x100,
  HSTRAP = RAM_BASE + 0x140,
  VSTRAP = RAM_BASE + 0x180,
  GUEST = RAM_BASE + 0x200;
const MPP_S = 1n << 11n,
  MPV = 1n << 39n,
  MPRV = 1n << 17n;
const SPV = 1n << 7n,
  SPVP = 1n << 8n,
  HU = 1n << 9n,
  GVA = 1n << 6n,
  VTVM = 1n << 20n,
  VTW = 1n << 21n,
  VTSR = 1n << 22n;

/** Page tables written from the host: VS-stage/S-stage (x4 = false) or G-stage (x4 = true: 16 KiB root, 2 more index bits). */
class Tables {
  readonly root: number;
  private next: number;
  constructor(
    private readonly m: Machine,
    readonly levels: number,
    base: number,
    readonly x4: boolean,
  ) {
    this.next = base;
    this.root = this.alloc(x4 ? 16384 : 4096);
  }
  alloc(size = 4096): number {
    const p = this.next;
    this.next += size;
    this.m.memory.write(gpa(p), new Uint8Array(size));
    return p;
  }
  private index(va: bigint, i: number): number {
    const bits = i === this.levels - 1 && this.x4 ? 2047n : 511n;
    return Number((va >> BigInt(12 + 9 * i)) & bits);
  }
  /** Maps va to pa with a leaf at `level` (0 = 4 KiB, 1 = 2 MiB, 2 = 1 GiB); returns the PTE's address. */
  map(va: bigint, pa: number, flags: number, level = 0): number {
    let table = this.root;
    for (let i = this.levels - 1; i > level; i--) {
      const a = table + this.index(va, i) * 8;
      let pte = this.m.memory.readU64(gpa(a));
      if ((pte & 1n) === 0n) {
        pte = (BigInt(this.alloc() / 4096) << 10n) | 1n;
        this.m.memory.writeU64(gpa(a), pte);
      }
      table = Number(pte >> 10n) * 4096;
    }
    const a = table + this.index(va, level) * 8;
    this.m.memory.writeU64(gpa(a), (BigInt(Math.floor(pa / 4096)) << 10n) | BigInt(flags));
    return a;
  }
  /** satp/vsatp (x4 = false) or hgatp (x4 = true) value: MODE, ASID/VMID, root PPN. */
  atp(id = 0): bigint {
    const mode = this.levels === 3 ? 8n : this.levels === 4 ? 9n : 10n;
    return (mode << 60n) | (BigInt(id) << 44n) | BigInt(this.root / 4096);
  }
}

const PROLOGUE = `
  .option norvc
  .option arch, +h
  la t0, guest
  csrw mepc, t0
  mret
.org 0x100
  ebreak
.org 0x140
  ebreak
.org 0x180
  ebreak
.org 0x200
guest:
`;

/** A hart with H running `guest` code (entered by MRET with mstatus = `mstatus`). */
function hmachine(guest: string, mstatus = MPP_S | MPV): Machine {
  const m = machine(assemble(PROLOGUE + guest), 8 << 20, { hypervisor: true });
  const h = m.hart;
  h.exitMask = 1 << 3;
  h.writeCsr(C.CSR_MTVEC, BigInt(MTRAP));
  h.writeCsr(C.CSR_STVEC, BigInt(HSTRAP));
  h.writeCsr(C.CSR_VSTVEC, BigInt(VSTRAP));
  h.writeCsr(C.CSR_MSTATUS, mstatus | (1n << 13n)); // FS = Initial
  h.writeCsr(C.CSR_MCOUNTEREN, 0xffffffffn);
  return m;
}

/** Runs to the next ebreak; returns where it stopped (an address) and leaves pc after it. */
function stop(m: Machine, budget = 100_000): number {
  const h = m.hart;
  assert.equal(
    h.run(budget),
    ExitReason.Trap,
    `no ebreak within ${budget} instructions (pc 0x${h.getPc().toString(16)})`,
  );
  assert.equal(
    h.exitCause,
    3,
    `cause ${h.exitCause} at pc 0x${h.getPc().toString(16)} tval 0x${h.exitTval.toString(16)}`,
  );
  const pc = Number(h.getPc());
  h.setPc(h.getPc() + 4n);
  return pc;
}

/** Identity G-stage for the first GiB of RAM (code, tables, data) with U|R|W|X, as KVM would map guest RAM. */
function gstage(m: Machine, levels = 3): Tables {
  const g = new Tables(m, levels, RAM_BASE + 0x100000, true);
  g.map(BigInt(RAM_BASE), RAM_BASE, V | R | W | X | U | A | D, 2);
  return g;
}

test("H CSRs: misa.H, reset values, WARL masks, read-only fields; without H they do not exist", { skip }, () => {
  const h = hmachine("ebreak").hart;
  assert.equal(h.readCsr(C.CSR_MISA) & (1n << 7n), 1n << 7n, "misa.H");
  assert.equal(h.readCsr(C.CSR_HSTATUS), 2n << 32n, "hstatus: VSXL = 64, rest 0");
  h.writeCsr(C.CSR_HSTATUS, -1n);
  assert.equal(h.readCsr(C.CSR_HSTATUS), (2n << 32n) | BigInt(C.HSTATUS_WMASK), "VGEIN (GEILEN = 0), VSBE read-only 0");
  h.writeCsr(C.CSR_HEDELEG, -1n);
  assert.equal(h.readCsr(C.CSR_HEDELEG), 0xb1ffn, "hedeleg: ecalls from HS/VS/M and causes 20-23 are read-only 0");
  h.writeCsr(C.CSR_HIDELEG, -1n);
  assert.equal(h.readCsr(C.CSR_HIDELEG), 0x444n, "hideleg: VSSI VSTI VSEI");
  h.writeCsr(C.CSR_HVIP, -1n);
  assert.equal(h.readCsr(C.CSR_HVIP), 0x444n);
  assert.equal(h.readCsr(C.CSR_HIP), 0x444n, "hip shows hvip's bits");
  assert.equal(h.readCsr(C.CSR_MIP) & 0x444n, 0x444n, "mip aliases them");
  h.writeCsr(C.CSR_HVIP, 0n);
  h.writeCsr(C.CSR_MIDELEG, 0n);
  assert.equal(h.readCsr(C.CSR_MIDELEG), 0x1444n, "mideleg: VS bits and SGEI read-only 1");
  h.writeCsr(C.CSR_MEDELEG, -1n);
  assert.equal(h.readCsr(C.CSR_MEDELEG), 0xf0b7ffn, "medeleg: + ecall-VS, guest-page faults, virtual instruction");
  h.writeCsr(C.CSR_HGEIE, -1n);
  assert.equal(h.readCsr(C.CSR_HGEIE), 0n, "GEILEN = 0");
  assert.equal(h.readCsr(C.CSR_HGEIP), 0n);
  h.writeCsr(C.CSR_HIE, -1n);
  assert.equal(h.readCsr(C.CSR_HIE), 0x1444n);
  // hgatp: an unsupported MODE leaves it unchanged; VMID is 14 bits; PPN[1:0] are zero (16 KiB root).
  h.writeCsr(C.CSR_HGATP, (8n << 60n) | (0xffffn << 44n) | 0x12347n);
  assert.equal(h.readCsr(C.CSR_HGATP), (8n << 60n) | (0x3fffn << 44n) | 0x12344n);
  h.writeCsr(C.CSR_HGATP, (3n << 60n) | 5n);
  assert.equal(
    h.readCsr(C.CSR_HGATP),
    (8n << 60n) | (0x3fffn << 44n) | 0x12344n,
    "MODE 3 is not supported: write ignored",
  );
  h.writeCsr(C.CSR_VSATP, (9n << 60n) | (7n << 44n) | 0x99n);
  assert.equal(h.readCsr(C.CSR_VSATP), (9n << 60n) | (7n << 44n) | 0x99n);
  h.writeCsr(C.CSR_HENVCFG, -1n);
  assert.equal(h.readCsr(C.CSR_HENVCFG), (1n << 63n) | 1n, "henvcfg: STCE and FIOM");
  for (const n of [C.CSR_HTIMEDELTA, C.CSR_HTVAL, C.CSR_HTINST, C.CSR_MTVAL2, C.CSR_MTINST, C.CSR_VSSCRATCH]) {
    h.writeCsr(n, 0x123456789abcdef0n);
    assert.equal(h.readCsr(n), 0x123456789abcdef0n, `CSR 0x${n.toString(16)}`);
  }
  h.writeCsr(C.CSR_VSSTATUS, -1n);
  assert.equal(
    h.readCsr(C.CSR_VSSTATUS),
    (1n << 63n) | (2n << 32n) | BigInt(C.SSTATUS_WMASK),
    "vsstatus: UXL = 64, SD",
  );
  h.writeCsr(C.CSR_MSTATUS, MPV | (1n << 38n));
  assert.equal(h.readCsr(C.CSR_MSTATUS) & (3n << 38n), 3n << 38n, "mstatus.MPV and GVA are writable");
  const plain = machine(assemble("ebreak")).hart;
  assert.equal(plain.readCsr(C.CSR_MISA) & (1n << 7n), 0n);
  assert.throws(() => plain.readCsr(C.CSR_HSTATUS), /does not exist/);
  assert.throws(() => plain.readCsr(C.CSR_VSATP), /does not exist/);
});

test("entering VS by MRET (MPV) and SRET (SPV); S CSRs are the VS copies when V=1", { skip }, () => {
  const m = hmachine(`
    csrw sscratch, 7
    li t0, 0x40
    csrw sepc, t0
    csrr a0, sstatus
    csrs sstatus, 2      # vsstatus.SIE
    ebreak
  `);
  const h = m.hart;
  h.writeCsr(C.CSR_VSSTATUS, 1n << 8n); // SPP = S
  h.writeCsr(C.CSR_SSCRATCH, 99n);
  assert.equal(stop(m), GUEST + 20);
  assert.equal(h.virt, 1);
  assert.equal(h.priv, PRIV_S);
  assert.equal(h.readCsr(C.CSR_VSSCRATCH), 7n);
  assert.equal(h.readCsr(C.CSR_SSCRATCH), 99n, "the HS sscratch is untouched");
  assert.equal(h.readCsr(C.CSR_VSEPC), 0x40n);
  assert.equal(h.getX(10) & 0x100n, 0x100n, "sstatus read gives vsstatus (SPP = S)");
  assert.equal(h.readCsr(C.CSR_VSSTATUS) & 2n, 2n);
  assert.equal(h.readCsr(C.CSR_SSTATUS) & 2n, 0n, "HS sstatus.SIE unchanged");
  assert.equal(h.readCsr(C.CSR_MSTATUS) & MPV, 0n, "MRET clears MPV");
  assert.equal(h.hyp!.stats.vmEntries, 1);

  // SRET from HS with hstatus.SPV = 1 enters VU (sstatus.SPP = 0) and clears SPV.
  const m2 = hmachine(
    `
    la t0, 1f
    csrw sepc, t0
    li t0, 0x80         # hstatus.SPV
    csrw hstatus, t0
    sret
1:  ebreak
  `,
    MPP_S,
  );
  assert.equal(stop(m2), GUEST + 24);
  assert.equal(m2.hart.virt, 1);
  assert.equal(m2.hart.priv, PRIV_U);
  assert.equal(m2.hart.readCsr(C.CSR_HSTATUS) & SPV, 0n, "SRET clears SPV");
});

test("traps from V=1: hedeleg to VS, otherwise HS (SPV, SPVP, GVA, htval) or M (MPV, GVA, mtval2)", { skip }, () => {
  // ecall from VS (cause 10) can't be delegated to VS: HS gets it with SPV = 1 and SPVP = 1.
  let m = hmachine("ecall");
  let h = m.hart;
  h.writeCsr(C.CSR_MEDELEG, -1n);
  h.writeCsr(C.CSR_HEDELEG, -1n);
  assert.equal(stop(m), HSTRAP);
  assert.equal([h.virt, h.priv].join(), [0, PRIV_S].join());
  assert.equal(h.readCsr(C.CSR_SCAUSE), 10n);
  assert.equal(h.readCsr(C.CSR_SEPC), BigInt(GUEST));
  assert.equal(h.readCsr(C.CSR_HSTATUS) & (SPV | SPVP | GVA), SPV | SPVP);
  assert.equal(h.readCsr(C.CSR_SSTATUS) & 0x100n, 0x100n, "sstatus.SPP = S (the guest was in VS)");
  assert.equal(h.hyp!.stats.vmExits, 1);

  // An illegal instruction delegated by hedeleg stays in VS.
  m = hmachine(".word 0");
  h = m.hart;
  h.writeCsr(C.CSR_MEDELEG, -1n);
  h.writeCsr(C.CSR_HEDELEG, 1n << 2n);
  assert.equal(stop(m), VSTRAP);
  assert.equal([h.virt, h.priv].join(), [1, PRIV_S].join());
  assert.equal(h.readCsr(C.CSR_VSCAUSE), 2n);
  assert.equal(h.readCsr(C.CSR_VSEPC), BigInt(GUEST));
  assert.equal(h.readCsr(C.CSR_SCAUSE), 0n, "HS state untouched");

  // ecall from VU is cause 8; an access fault from V=1 not delegated goes to M with MPV and GVA.
  m = hmachine("ecall", MPV);
  h = m.hart;
  h.writeCsr(C.CSR_MEDELEG, -1n);
  assert.equal(stop(m), HSTRAP);
  assert.equal(h.readCsr(C.CSR_SCAUSE), 8n);
  assert.equal(h.readCsr(C.CSR_HSTATUS) & (SPV | SPVP), SPV, "SPVP = 0: the guest was in VU");

  m = hmachine(`
    li t0, 0x1000       # no RAM or device there (hgatp Bare): access fault
    ld a0, 0(t0)
  `);
  h = m.hart;
  assert.equal(stop(m), MTRAP);
  assert.equal([h.virt, h.priv].join(), [0, PRIV_M].join());
  assert.equal(h.readCsr(C.CSR_MCAUSE), 5n);
  assert.equal(h.readCsr(C.CSR_MTVAL), 0x1000n);
  assert.equal(h.readCsr(C.CSR_MSTATUS) & (MPV | (1n << 38n)), MPV | (1n << 38n), "MPV = 1, GVA = 1");
  assert.equal((h.readCsr(C.CSR_MSTATUS) >> 11n) & 3n, 1n, "MPP = S");
  // MRET back with MPV = 1 returns to VS.
  h.writeCsr(C.CSR_MEPC, BigInt(GUEST + 8));
  m.memory.writeU32(gpa(GUEST + 8), 0x00100073); // ebreak
  h.setPc(BigInt(MTRAP + 4));
  m.memory.writeU32(gpa(MTRAP + 4), 0x30200073); // mret
  assert.equal(stop(m), GUEST + 8);
  assert.equal(h.virt, 1);
});

test("virtual-instruction exceptions (cause 22) and the illegal-instruction cases around them", { skip }, () => {
  const cases: [string, bigint, bigint, number, string][] = [
    // [guest code, mstatus (mode), hstatus, expected cause, why]
    ["csrr a0, hstatus", MPP_S | MPV, 0n, 22, "VS reads a hypervisor CSR"],
    ["csrr a0, vsstatus", MPP_S | MPV, 0n, 22, "VS reads a VS CSR by its own number"],
    ["csrr a0, mstatus", MPP_S | MPV, 0n, 2, "M-level CSR: illegal"],
    ["csrr a0, sstatus", MPV, 0n, 22, "VU reads a supervisor CSR"],
    ["csrw hgeip, x0", MPP_S | MPV, 0n, 2, "write to a read-only CSR: illegal"],
    ["hfence.gvma", MPP_S | MPV, 0n, 22, "hypervisor fence in VS"],
    ["hfence.vvma", MPP_S | MPV, 0n, 22, "hypervisor fence in VS"],
    ["hlv.d a0, (sp)", MPP_S | MPV, 0n, 22, "HLV in VS"],
    ["sret", MPV, 0n, 22, "SRET in VU"],
    ["sret", MPP_S | MPV, VTSR, 22, "SRET in VS with VTSR"],
    ["sfence.vma", MPV, 0n, 22, "SFENCE.VMA in VU"],
    ["sfence.vma", MPP_S | MPV, VTVM, 22, "SFENCE.VMA in VS with VTVM"],
    ["csrr a0, satp", MPP_S | MPV, VTVM, 22, "satp in VS with VTVM"],
    ["wfi", MPP_S | MPV, VTW, 22, "WFI in VS with VTW"],
    ["wfi", MPV, 0n, 22, "WFI in VU"],
    ["wfi", MPP_S | MPV | (1n << 21n), 0n, 2, "WFI with mstatus.TW: illegal"],
    ["rdtime a0", MPP_S | MPV, 0n, 22, "time with hcounteren.TM = 0"],
    ["hfence.gvma", 0n, 0n, 2, "hypervisor fence in U-mode: illegal"],
    ["hlv.d a0, (sp)", 0n, 0n, 2, "HLV in U-mode with HU = 0: illegal"],
    ["csrr a0, hstatus", 0n, 0n, 2, "U-mode reads a hypervisor CSR: illegal"],
  ];
  for (const [code, ms, hs, cause, why] of cases) {
    const m = hmachine(code, ms);
    const h = m.hart;
    h.writeCsr(C.CSR_MEDELEG, -1n);
    h.writeCsr(C.CSR_HSTATUS, hs);
    assert.equal(stop(m), HSTRAP, why);
    assert.equal(h.readCsr(C.CSR_SCAUSE), BigInt(cause), why);
    assert.equal(h.readCsr(C.CSR_STVAL), BigInt(m.memory.readU32(gpa(GUEST))), `${why}: stval = the instruction`);
  }
  // The permitted forms run: time with hcounteren.TM reads mtime + htimedelta.
  const m = hmachine("rdtime a0\nebreak");
  m.hart.writeCsr(C.CSR_HCOUNTEREN, 2n);
  m.hart.writeCsr(C.CSR_HTIMEDELTA, -100n);
  m.timer.t = 1000;
  stop(m);
  assert.equal(m.hart.getX(10), 900n, "time + htimedelta (mod 2^64)");
});

test(
  "two-stage translation: VS-stage Sv39 over G-stage Sv39x4, A/D at both stages, guest-page faults",
  { skip },
  () => {
    const m = hmachine(`
    li t0, 0x40000000
    ld a0, 0(t0)         # VS page -> GPA 0x1_0000_0000 -> data
    sd a0, 8(t0)         # store: D at both stages
    ebreak
    li t0, 0x40001000
    ld a1, 0(t0)         # VS page -> GPA 0x1_0000_1000: not mapped in the G-stage
  `);
    const h = m.hart;
    const g = gstage(m);
    const vs = new Tables(m, 3, RAM_BASE + 0x180000, false);
    vs.map(BigInt(RAM_BASE), RAM_BASE, V | R | W | X | A | D, 2); // the guest's code, identity
    const vsPte = vs.map(0x40000000n, 0x1_0000_0000, V | R | W);
    vs.map(0x40001000n, 0x1_0000_1000, V | R | W | A);
    const data = RAM_BASE + 0x300000;
    const gPte = g.map(0x1_0000_0000n, data, V | R | W | U);
    m.memory.writeU64(gpa(data), 0x1234n);
    h.writeCsr(C.CSR_HGATP, g.atp(1));
    h.writeCsr(C.CSR_VSATP, vs.atp(2));
    h.writeCsr(C.CSR_MEDELEG, -1n);
    assert.equal(stop(m), GUEST + 12);
    assert.equal(h.getX(10), 0x1234n);
    assert.equal(m.memory.readU64(gpa(data + 8)), 0x1234n);
    assert.equal(m.memory.readU64(gpa(vsPte)) & BigInt(A | D), BigInt(A | D), "VS-stage A and D");
    assert.equal(m.memory.readU64(gpa(gPte)) & BigInt(A | D), BigInt(A | D), "G-stage A and D");
    assert.equal(stop(m), HSTRAP);
    assert.equal(h.readCsr(C.CSR_SCAUSE), 21n, "load guest-page fault");
    assert.equal(h.readCsr(C.CSR_STVAL), 0x40001000n, "stval = the guest virtual address");
    assert.equal(h.readCsr(C.CSR_HTVAL), 0x1_0000_1000n >> 2n, "htval = GPA >> 2");
    assert.equal(h.readCsr(C.CSR_HTINST), 0n);
    assert.equal(h.readCsr(C.CSR_HSTATUS) & (GVA | SPV), GVA | SPV);
    assert.equal(h.hyp!.stats.guestPageFaults, 1);
  },
);

test(
  "guest-page faults of the VS-stage walk itself (htinst pseudoinstructions), permissions and GPA width",
  { skip },
  () => {
    // The VS-stage root table sits at a GPA the G-stage does not map: the first PTE read faults.
    let m = hmachine("li t0, 0x40000000\nld a0, 0(t0)");
    let h = m.hart;
    let g = gstage(m);
    h.writeCsr(C.CSR_HGATP, g.atp());
    h.writeCsr(C.CSR_VSATP, (8n << 60n) | 0x200000n); // root at GPA 0x2_0000_0000
    h.writeCsr(C.CSR_MEDELEG, -1n);
    // VS-stage Sv39 also translates the code, so the very first fetch's walk faults.
    assert.equal(stop(m), HSTRAP);
    assert.equal(h.readCsr(C.CSR_SCAUSE), 20n, "instruction guest-page fault (the fetch's walk)");
    assert.equal(h.readCsr(C.CSR_HTVAL), (0x2_0000_0000n + 2n * 8n) >> 2n, "the PTE's GPA");
    assert.equal(h.readCsr(C.CSR_HTINST), 0x3000n, "64-bit read pseudoinstruction");

    // A/D update of a VS PTE whose page the G-stage maps read-only: write pseudoinstruction, store GPF.
    m = hmachine("li t0, 0x40000000\nsd zero, 0(t0)");
    h = m.hart;
    g = new Tables(m, 3, RAM_BASE + 0x100000, true);
    g.map(BigInt(RAM_BASE), RAM_BASE, V | R | X | U | A | D, 2); // all of RAM read/execute only
    const vs = new Tables(m, 3, RAM_BASE + 0x180000, false);
    vs.map(BigInt(RAM_BASE), RAM_BASE, V | R | W | X | A | D, 2);
    vs.map(0x40000000n, RAM_BASE + 0x300000, V | R | W); // A = D = 0: the store must write them
    h.writeCsr(C.CSR_HGATP, g.atp());
    h.writeCsr(C.CSR_VSATP, vs.atp());
    h.writeCsr(C.CSR_MEDELEG, -1n);
    assert.equal(stop(m), HSTRAP);
    assert.equal(h.readCsr(C.CSR_SCAUSE), 23n);
    assert.equal(h.readCsr(C.CSR_HTINST), 0x3020n, "64-bit write pseudoinstruction");

    // G-stage leaves need U; a GPA wider than 41 bits faults in Sv39x4; a store needs W.
    for (const [setup, code, cause, htval] of [
      [
        (t: Tables) => t.map(0x1_0000_0000n, RAM_BASE + 0x300000, V | R | W | A | D),
        "li t0, 0x100000000\nld a0, 0(t0)",
        21n,
        0x1_0000_0000n,
      ],
      [(_t: Tables) => 0, "li t0, 1\nslli t0, t0, 41\nld a0, 0(t0)", 21n, 1n << 41n],
      [
        (t: Tables) => t.map(0x1_0000_0000n, RAM_BASE + 0x300000, V | R | U | A | D),
        "li t0, 0x100000000\nsd a0, 0(t0)",
        23n,
        0x1_0000_0000n,
      ],
    ] as const) {
      m = hmachine(code);
      h = m.hart;
      g = gstage(m);
      setup(g);
      h.writeCsr(C.CSR_HGATP, g.atp());
      h.writeCsr(C.CSR_MEDELEG, -1n);
      assert.equal(stop(m), HSTRAP, code);
      assert.equal(h.readCsr(C.CSR_SCAUSE), cause, code);
      assert.equal(h.readCsr(C.CSR_HTVAL), htval >> 2n, code);
    }
  },
);

test(
  "G-stage superpages (2 MiB, 1 GiB), a misaligned G-stage superpage, VS-stage superpages, Sv48x4/Sv57x4",
  { skip },
  () => {
    for (const levels of [3, 4, 5]) {
      const m = hmachine(`
      li t0, 0x40000000
      ld a0, 0x123(t0)     # VS gigapage -> GPA 0x1_4000_0000: G-stage megapage
      li t0, 0x100000000
      ld a1, 0x10(t0)      # VS megapage (GPA 0x1_8020_0000): G-stage gigapage
      ebreak
      li t0, 0x140000000
      ld a2, 0(t0)         # G-stage megapage whose PPN is not 2 MiB aligned
    `);
      const h = m.hart;
      const g = gstage(m, levels);
      const vs = new Tables(m, levels, RAM_BASE + 0x180000, false);
      vs.map(BigInt(RAM_BASE), RAM_BASE, V | R | W | X | A | D, 2);
      vs.map(0x40000000n, 0x1_4000_0000, V | R | A, 2);
      vs.map(0x1_0000_0000n, 0x1_8020_0000, V | R | A, 1);
      vs.map(0x1_4000_0000n, 0x1_c000_0000, V | R | A, 2);
      const d1 = RAM_BASE + 0x400000;
      g.map(0x1_4000_0000n, d1, V | R | U | A, 1); // 2 MiB: GPA offset 0x123 -> d1 + 0x123
      g.map(0x1_8000_0000n, RAM_BASE, V | R | U | A, 2); // 1 GiB: GPA 0x1_8020_0010 -> RAM_BASE + 0x200010
      g.map(0x1_c000_0000n, RAM_BASE + 0x1000, V | R | U | A, 1); // misaligned megapage
      m.memory.writeU64(gpa(d1 + 0x123), 0xaan);
      m.memory.writeU64(gpa(RAM_BASE + 0x200010), 0xbbn);
      h.writeCsr(C.CSR_HGATP, g.atp(3));
      h.writeCsr(C.CSR_VSATP, vs.atp());
      h.writeCsr(C.CSR_MEDELEG, -1n);
      assert.ok(stop(m) > GUEST, `levels ${levels}: reached the ebreak`);
      assert.equal(h.getX(10), 0xaan, `levels ${levels}`);
      assert.equal(h.getX(11), 0xbbn, `levels ${levels}`);
      assert.equal(stop(m), HSTRAP);
      assert.equal(h.readCsr(C.CSR_SCAUSE), 21n, "misaligned G-stage superpage: guest-page fault");
      assert.equal(h.readCsr(C.CSR_HTVAL), 0x1_c000_0000n >> 2n);
    }
  },
);

test("hgatp mode change Bare -> Sv39x4 after HFENCE.GVMA; VMID-tagged TLB keeps two guests apart", { skip }, () => {
  // HS code switches hgatp between VMIDs and enters the guest each time with SRET (SPV = 1).
  const m = hmachine(
    `
    li s0, 0x100000000    # the GPA both guests read
    la s1, 1f
    csrw sepc, s1
    li t0, 0x80           # hstatus.SPV
    csrw hstatus, t0
    li t0, 0x100          # sstatus.SPP = S
    csrs sstatus, t0
    sret
1:  ld a0, 0(s0)          # guest (VS): reads the GPA
    ecall                 # back to HS
  `,
    MPP_S,
  );
  const h = m.hart;
  const g1 = gstage(m);
  const g2 = new Tables(m, 3, RAM_BASE + 0x140000, true);
  g2.map(BigInt(RAM_BASE), RAM_BASE, V | R | W | X | U | A | D, 2);
  const pa1 = RAM_BASE + 0x300000,
    pa2 = RAM_BASE + 0x301000,
    pa3 = RAM_BASE + 0x302000;
  const pte1 = g1.map(0x1_0000_0000n, pa1, V | R | U | A);
  g2.map(0x1_0000_0000n, pa2, V | R | U | A);
  m.memory.writeU64(gpa(pa1), 0x111n);
  m.memory.writeU64(gpa(pa2), 0x222n);
  m.memory.writeU64(gpa(pa3), 0x333n);
  h.writeCsr(C.CSR_MEDELEG, -1n);
  const enterWith = (hgatp: bigint): bigint => {
    h.writeCsr(C.CSR_HGATP, hgatp);
    h.setPc(BigInt(GUEST)); // the HS code again (the last trap left the hart in HS)
    assert.equal(stop(m), HSTRAP, "the guest's ecall lands at the HS handler");
    assert.equal(h.readCsr(C.CSR_SCAUSE), 10n);
    return h.getX(10);
  };
  // hgatp Bare: the GPA is the physical address, which is not RAM: the guest takes an access fault.
  h.writeCsr(C.CSR_HGATP, 0n);
  assert.equal(stop(m), HSTRAP);
  assert.equal(h.readCsr(C.CSR_SCAUSE), 5n, "Bare: access fault at 0x1_0000_0000");
  assert.equal(enterWith(g1.atp(1)), 0x111n, "Sv39x4 VMID 1");
  assert.equal(enterWith(g2.atp(2)), 0x222n, "VMID 2 sees its own mapping");
  assert.equal(enterWith(g1.atp(1)), 0x111n, "VMID 1 again, no fence needed");
  // Remap VMID 1's page; after HFENCE.GVMA (all VMIDs) the new mapping is used.
  m.memory.writeU64(gpa(pte1), (BigInt(pa3 / 4096) << 10n) | BigInt(V | R | U | A));
  h.hyp!.mmu.hfenceGvma(true, 1);
  assert.equal(enterWith(g1.atp(1)), 0x333n);
  assert.equal(enterWith(g2.atp(2)), 0x222n);
});

test("VS-stage ASIDs: two guest address spaces, SFENCE.VMA in VS, and HFENCE.VVMA from HS", { skip }, () => {
  const m = hmachine(`
    li t0, 0x40000000
    ld a0, 0(t0)
    ebreak
  `);
  const h = m.hart;
  const g = gstage(m);
  const vs1 = new Tables(m, 3, RAM_BASE + 0x180000, false);
  const vs2 = new Tables(m, 3, RAM_BASE + 0x1c0000, false);
  for (const t of [vs1, vs2]) t.map(BigInt(RAM_BASE), RAM_BASE, V | R | W | X | A | D, 2);
  const p1 = vs1.map(0x40000000n, RAM_BASE + 0x300000, V | R | A);
  vs2.map(0x40000000n, RAM_BASE + 0x301000, V | R | A);
  m.memory.writeU64(gpa(RAM_BASE + 0x300000), 1n);
  m.memory.writeU64(gpa(RAM_BASE + 0x301000), 2n);
  m.memory.writeU64(gpa(RAM_BASE + 0x302000), 3n);
  h.writeCsr(C.CSR_HGATP, g.atp(5));
  let first = true;
  const again = (vsatp: bigint): bigint => {
    h.writeCsr(C.CSR_VSATP, vsatp);
    if (!first) h.setPc(BigInt(GUEST)); // still in VS after the ebreak exit
    first = false;
    assert.ok(stop(m) > GUEST);
    assert.equal(h.virt, 1);
    return h.getX(10);
  };
  assert.equal(again(vs1.atp(1)), 1n);
  assert.equal(again(vs2.atp(2)), 2n);
  assert.equal(again(vs1.atp(1)), 1n);
  m.memory.writeU64(gpa(p1), (BigInt((RAM_BASE + 0x302000) / 4096) << 10n) | BigInt(V | R | A));
  h.hyp!.mmu.hfenceVvma(5, false, 0, 0, true, 1);
  h.flushTlb(); // the host changed the table: drop the hart's own caches too
  assert.equal(again(vs1.atp(1)), 3n, "HFENCE.VVMA for ASID 1 of VMID 5");
});

test("HLV/HLVX/HSV: guest privilege from hstatus.SPVP, U-mode with hstatus.HU, execute-only pages", { skip }, () => {
  const code = `
    li t0, 0x40000000
    hlv.d a0, (t0)
    li t1, 0x99
    hsv.w t1, (t0)
    hlv.wu a1, (t0)
    li t2, 0x40001000
    hlvx.wu a2, (t2)       # execute-only page: HLVX reads it
    hlv.b a3, (t0)
    ebreak
    hlv.w a4, (t2)         # ... HLV does not (load page fault)
  `;
  for (const mode of ["HS", "U+HU"] as const) {
    const m = hmachine(code, mode === "HS" ? MPP_S : 0n);
    const h = m.hart;
    const g = gstage(m);
    const vs = new Tables(m, 3, RAM_BASE + 0x180000, false);
    vs.map(0x40000000n, RAM_BASE + 0x300000, V | R | W | U | A | D);
    vs.map(0x40001000n, RAM_BASE + 0x301000, V | X | U | A);
    m.memory.writeU64(gpa(RAM_BASE + 0x300000), 0xffff_ff80_0000_00f0n);
    m.memory.writeU32(gpa(RAM_BASE + 0x301000), 0xcafe);
    h.writeCsr(C.CSR_HGATP, g.atp());
    h.writeCsr(C.CSR_VSATP, vs.atp());
    h.writeCsr(C.CSR_HSTATUS, mode === "HS" ? 0n : HU); // SPVP = 0: as VU (the pages have U)
    h.writeCsr(C.CSR_MEDELEG, -1n);
    assert.equal(stop(m), GUEST + 32, mode);
    assert.equal(h.virt, 0);
    assert.equal(h.getX(10), 0xffff_ff80_0000_00f0n, mode);
    assert.equal(h.getX(11), 0x99n, mode);
    assert.equal(h.getX(12), 0xcafen, mode);
    assert.equal(h.getX(13), 0xffff_ffff_ffff_ff99n, "hlv.b sign-extends");
    assert.equal(stop(m), HSTRAP);
    assert.equal(h.readCsr(C.CSR_SCAUSE), 13n, `${mode}: HLV on an execute-only page`);
    assert.equal(h.readCsr(C.CSR_HSTATUS) & (GVA | SPV), GVA, "GVA = 1 for HLV faults, SPV = 0");
  }
  // SPVP = 1 (as VS): a U page is not accessible without vsstatus.SUM.
  const m = hmachine("li t0, 0x40000000\nhlv.d a0, (t0)\nebreak", MPP_S);
  const h = m.hart;
  const g = gstage(m);
  const vs = new Tables(m, 3, RAM_BASE + 0x180000, false);
  vs.map(0x40000000n, RAM_BASE + 0x300000, V | R | W | U | A | D);
  h.writeCsr(C.CSR_HGATP, g.atp());
  h.writeCsr(C.CSR_VSATP, vs.atp());
  h.writeCsr(C.CSR_HSTATUS, SPVP);
  h.writeCsr(C.CSR_MEDELEG, -1n);
  assert.equal(stop(m), HSTRAP);
  assert.equal(h.readCsr(C.CSR_SCAUSE), 13n);
  h.writeCsr(C.CSR_VSSTATUS, 1n << 18n); // SUM
  h.setPc(BigInt(GUEST));
  h.priv = PRIV_S;
  assert.equal(stop(m), GUEST + 8);
  assert.equal(h.priv, PRIV_S);
});

test(
  "VS interrupts: hvip.VSTIP to VS via hideleg (vscause 5), to HS otherwise; vstimecmp with htimedelta",
  { skip },
  () => {
    const m = hmachine(`
    li t0, 0x20           # vsie.STIE (= hie.VSTIE)
    csrw sie, t0
    csrsi sstatus, 2      # vsstatus.SIE
1:  j 1b
  `);
    const h = m.hart;
    h.writeCsr(C.CSR_MEDELEG, -1n);
    h.writeCsr(C.CSR_HIDELEG, 0x444n);
    h.writeCsr(C.CSR_HVIP, 1n << 6n);
    assert.equal(stop(m), VSTRAP);
    assert.equal(h.readCsr(C.CSR_VSCAUSE), (1n << 63n) | 5n, "VSTI arrives as a supervisor timer interrupt");
    assert.equal(h.virt, 1);
    assert.equal(h.readCsr(C.CSR_VSIP), 0x20n, "vsip.STIP");

    // Not delegated by hideleg: HS takes it (cause 6), even with HS sstatus.SIE = 0 (V=1 runs below HS).
    const m2 = hmachine(
      `
    li t0, 0x40           # hie.VSTIE
    csrw hie, t0
1:  j 1b
  `,
      MPP_S,
    );
    m2.hart.writeCsr(C.CSR_HVIP, 1n << 6n);
    m2.hart.writeCsr(C.CSR_MEDELEG, -1n);
    // Run the HS code (it writes hie and spins): with V=0 and SIE=0 the interrupt waits.
    assert.equal(m2.hart.run(200), ExitReason.Budget);
    m2.hart.writeCsr(C.CSR_SSTATUS, 2n);
    assert.equal(stop(m2), HSTRAP);
    assert.equal(m2.hart.readCsr(C.CSR_SCAUSE), (1n << 63n) | 6n);

    // vstimecmp (Sstc): VSTIP once time + htimedelta >= vstimecmp.
    const m3 = hmachine("1: j 1b");
    const h3 = m3.hart;
    h3.writeCsr(C.CSR_MENVCFG, 1n << 63n);
    h3.writeCsr(C.CSR_HENVCFG, 1n << 63n);
    h3.writeCsr(C.CSR_HTIMEDELTA, 1000n);
    h3.writeCsr(C.CSR_VSTIMECMP, 1500n);
    m3.timer.t = 100;
    h3.run(100);
    assert.equal(h3.readCsr(C.CSR_HIP) & 0x40n, 0n);
    assert.equal(h3.nextTimerDeadline(), 500, "the VS deadline in host time");
    m3.timer.t = 600;
    h3.run(100);
    assert.equal(h3.readCsr(C.CSR_HIP) & 0x40n, 0x40n, "VSTIP from vstimecmp");
  },
);

test("FP in VS needs vsstatus.FS too, and sets both FS fields dirty", { skip }, () => {
  const m = hmachine("fmv.d.x f1, zero\nebreak");
  const h = m.hart;
  h.writeCsr(C.CSR_MEDELEG, -1n);
  assert.equal(stop(m), HSTRAP);
  assert.equal(h.readCsr(C.CSR_SCAUSE), 2n, "vsstatus.FS = Off: illegal");
  const m2 = hmachine("fmv.d.x f1, zero\nebreak");
  m2.hart.writeCsr(C.CSR_VSSTATUS, 1n << 13n);
  assert.equal(stop(m2), GUEST + 4);
  assert.equal(m2.hart.readCsr(C.CSR_VSSTATUS) & (3n << 13n), 3n << 13n);
  assert.equal(m2.hart.readCsr(C.CSR_MSTATUS) & (3n << 13n), 3n << 13n);
});

test("MPRV with MPV: M-mode loads go through both stages", { skip }, () => {
  const m = hmachine(
    `
    li t0, 0x100000000
    ld a0, 0(t0)
    ebreak
  `,
    MPP_S | MPV | MPRV,
  );
  const h = m.hart;
  // Skip the prologue: the loads run in M-mode, translated as VS by MPRV/MPV.
  h.setPc(BigInt(GUEST));
  const g = gstage(m);
  g.map(0x1_0000_0000n, RAM_BASE + 0x300000, V | R | U | A);
  m.memory.writeU64(gpa(RAM_BASE + 0x300000), 0x5151n);
  h.writeCsr(C.CSR_HGATP, g.atp());
  assert.equal(stop(m), GUEST + 12);
  assert.equal(h.priv, PRIV_M);
  assert.equal(h.getX(10), 0x5151n);
});
