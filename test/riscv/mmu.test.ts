// Virtual memory (Privileged ISA 20211203 ch. 4): Sv39/Sv48/Sv57 walks, superpages, A/D updates,
// permission checks with SUM/MXR/MPRV, canonical addresses, and the TLB's obedience to SFENCE.VMA.
import { test } from "node:test";
import assert from "node:assert/strict";
import { assemble, machine, toolchainMissing, RAM_BASE, type Machine } from "./asm.js";
import { ExitReason, PRIV_M, PRIV_S, PRIV_U } from "../../src/riscv/Hart.js";
import { gpa } from "../../src/memory/Address.js";

const skip = toolchainMissing();
const V = 1,
  R = 2,
  W = 4,
  X = 8,
  U = 16,
  G = 32,
  A = 64,
  D = 128;

/** Builds page tables in guest RAM from the host side. */
class PageTables {
  root: number;
  private next: number;
  constructor(
    private readonly m: Machine,
    readonly levels: number,
    base = RAM_BASE + 0x100000,
  ) {
    this.next = base;
    this.root = this.alloc();
  }
  alloc(): number {
    const p = this.next;
    this.next += 4096;
    this.m.memory.write(gpa(p), new Uint8Array(4096));
    return p;
  }
  /** Maps va to pa with a leaf at `level` (0 = 4 KiB, 1 = 2 MiB, 2 = 1 GiB); returns the PTE address. */
  map(va: bigint, pa: number, flags: number, level = 0): number {
    let table = this.root;
    for (let i = this.levels - 1; i > level; i--) {
      const a = table + Number((va >> BigInt(12 + 9 * i)) & 511n) * 8;
      let pte = this.m.memory.readU64(gpa(a));
      if ((pte & 1n) === 0n) {
        pte = (BigInt(this.alloc() / 4096) << 10n) | 1n;
        this.m.memory.writeU64(gpa(a), pte);
      }
      table = Number(pte >> 10n) * 4096;
    }
    const a = table + Number((va >> BigInt(12 + 9 * level)) & 511n) * 8;
    this.m.memory.writeU64(gpa(a), (BigInt(Math.floor(pa / 4096)) << 10n) | BigInt(flags));
    return a;
  }
  satp(asid = 0): bigint {
    const mode = this.levels === 3 ? 8n : this.levels === 4 ? 9n : 10n;
    return (mode << 60n) | (BigInt(asid) << 44n) | BigInt(this.root / 4096);
  }
}

const DATA1 = RAM_BASE + 0x200000,
  DATA2 = RAM_BASE + 0x201000;

/**
 * A machine running `src` (assembled at RAM_BASE) in `priv` with paging: the code's 1 GiB region is
 * identity-mapped by a global gigapage. Every ebreak returns to the host; step() continues after it.
 */
function vmMachine(src: string, levels = 3, priv = PRIV_S) {
  const m = machine(assemble(`.option norvc\n${src}\n`));
  const pt = new PageTables(m, levels);
  pt.map(BigInt(RAM_BASE), RAM_BASE, V | R | W | X | G | A | D, 2);
  m.memory.writeU64(gpa(DATA1), 0x1111n);
  m.memory.writeU64(gpa(DATA2), 0x2222n);
  m.hart.exitMask = 0xffff_ffff;
  m.hart.priv = priv;
  const step = (expectCause = 3): void => {
    assert.equal(m.hart.run(1000), ExitReason.Trap);
    assert.equal(
      m.hart.exitCause,
      expectCause,
      `cause at pc 0x${m.hart.getPc().toString(16)}, tval 0x${m.hart.exitTval.toString(16)}`,
    );
    m.hart.setPc(m.hart.getPc() + 4n);
  };
  return { m, pt, hart: m.hart, step };
}

/** Two loads and a store through two Sv39 4 KiB pages (p1, p2: their leaf PTEs' addresses). */
function loadStoreMachine() {
  const vm = vmMachine(`
    li t0, 0x40001000
    li t1, 0x40002000
    ld a0, 0(t0)
    ld a1, 8(t1)
    li t2, 0x77
    sd t2, 0(t1)
    ebreak
  `);
  const p1 = vm.pt.map(0x40001000n, DATA1, V | R | W);
  const p2 = vm.pt.map(0x40002000n, DATA1 - 4096, V | R | W);
  vm.m.memory.writeU64(gpa(DATA1 - 4096 + 8), 0x3333n);
  vm.hart.writeCsr(0x180, vm.pt.satp());
  return { ...vm, p1, p2 };
}

test("Sv39 4 KiB pages: loads and stores translate and set A, and D only on stores", { skip }, () => {
  const { m, hart, step, p1, p2 } = loadStoreMachine();
  step();
  assert.equal(hart.getX(10), 0x1111n);
  assert.equal(hart.getX(11), 0x3333n);
  assert.equal(m.memory.readU64(gpa(DATA1 - 4096)), 0x77n);
  assert.equal(m.memory.readU64(gpa(p1)) & BigInt(A | D), BigInt(A), "load sets A only");
  assert.equal(m.memory.readU64(gpa(p2)) & BigInt(A | D), BigInt(A | D), "store sets A and D");
});

test(
  "lazy residency (lazy snapshot restore): fetches, page walks, loads and stores bring absent pages in first",
  { skip },
  () => {
    const { m, pt, hart, step, p1, p2 } = loadStoreMachine();
    // Every non-zero page goes to a "snapshot file" and RAM reads zero until a page's first touch.
    const file = m.memory.bytes.slice();
    const absent = new Uint8Array(m.memory.size / 4096);
    absent.forEach((_, p) => {
      if (!file.subarray(p * 4096, (p + 1) * 4096).some((b) => b !== 0)) return;
      absent[p] = 1;
      m.memory.bytes.fill(0, p * 4096, (p + 1) * 4096);
    });
    const loaded = new Set<number>();
    m.memory.beginLazy(absent, (p) => {
      loaded.add(p);
      m.memory.bytes.set(file.subarray(p * 4096, (p + 1) * 4096), p * 4096);
    });
    step();
    const page = (a: number) => (a - RAM_BASE) / 4096;
    // Before the host reads anything: the code, the root table, both leaf tables' pages and the data.
    for (const a of [RAM_BASE, pt.root, p1 - (p1 % 4096), DATA1, DATA1 - 4096])
      assert.ok(loaded.has(page(a)), `page 0x${a.toString(16)} was not brought in by the hart`);
    assert.equal(hart.getX(10), 0x1111n);
    assert.equal(hart.getX(11), 0x3333n);
    assert.equal(m.memory.readU64(gpa(DATA1 - 4096)), 0x77n);
    assert.equal(m.memory.readU64(gpa(p1)) & BigInt(A | D), BigInt(A), "load sets A only");
    assert.equal(m.memory.readU64(gpa(p2)) & BigInt(A | D), BigInt(A | D), "store sets A and D");
  },
);

test("Sv39 megapages and gigapages; a misaligned superpage is a page fault", { skip }, () => {
  const { m, pt, hart, step } = vmMachine(`
    li t0, 0x40212008
    ld a0, 0(t0)
    li t0, 0x100201000
    ld a1, 0(t0)
    ebreak
    li t0, 0x60000000
    ld a2, 0(t0)
  `);
  pt.map(0x40200000n, RAM_BASE, V | R | A, 1); // 2 MiB at RAM_BASE: 0x40212008 -> RAM_BASE + 0x12008
  pt.map(0x100000000n, RAM_BASE - 0x40000000 + 0x40000000, V | R | A, 2); // 1 GiB gigapage at PA 0x80000000
  pt.map(0x60000000n, RAM_BASE + 0x1000, V | R | A, 1); // megapage whose PPN is not 2 MiB aligned
  m.memory.writeU64(gpa(RAM_BASE + 0x12008), 0xabcdn);
  hart.writeCsr(0x180, pt.satp());
  step();
  assert.equal(hart.getX(10), 0xabcdn);
  assert.equal(hart.getX(11), 0x2222n);
  step(13);
  assert.equal(hart.exitTval, 0x60000000n);
});

test("Sv48 and Sv57 walks reach the top and bottom of their canonical ranges", { skip }, () => {
  for (const [levels, lo, hi] of [
    [4, 0x00007ffffffff000n, 0xffff800000000000n],
    [5, 0x00fffffffffff000n, 0xff00000000000000n],
  ] as const) {
    const { m, pt, hart, step } = vmMachine(
      `
      ld a0, 0(s0)
      ld a1, 0(s1)
      ebreak
    `,
      levels,
    );
    pt.map(lo, DATA1, V | R | A);
    pt.map(hi, DATA2, V | R | A);
    hart.setX(8, lo);
    hart.setX(9, hi);
    hart.writeCsr(0x180, pt.satp());
    step();
    assert.equal(hart.getX(10), 0x1111n, `Sv${levels * 9 + 12} low`);
    assert.equal(hart.getX(11), 0x2222n, `Sv${levels * 9 + 12} high`);
    void m;
  }
});

test("non-canonical virtual addresses fault with tval = the address", { skip }, () => {
  for (const [levels, va] of [
    [3, 0x0000004000000000n],
    [4, 0x0000800000000000n],
    [5, 0x0100000000000000n],
  ] as const) {
    const { pt, hart, step } = vmMachine(`ld a0, 0(s0)\n`, levels);
    hart.setX(8, va);
    hart.writeCsr(0x180, pt.satp());
    step(13);
    assert.equal(hart.exitTval, va);
  }
});

test("U/S permission checks with SUM, execute permission, MXR and write permission", { skip }, () => {
  const prog = `ld a0, 0(s0)\n ebreak\n`;
  const run = (flags: number, priv: number, mstatus: bigint, src = prog, va = 0x40001000n) => {
    const { pt, hart, m } = vmMachine(src, 3, priv);
    pt.map(va, DATA1, flags);
    if (priv === PRIV_U) pt.map(BigInt(RAM_BASE), RAM_BASE, V | R | W | X | U | A | D, 2);
    hart.setX(8, va);
    hart.writeCsr(0x180, pt.satp());
    hart.writeCsr(0x300, mstatus);
    assert.equal(hart.run(100), ExitReason.Trap);
    return { cause: hart.exitCause, tval: hart.exitTval, m };
  };
  const SUM = 1n << 18n,
    MXR = 1n << 19n;
  assert.equal(run(V | R | U | A, PRIV_S, 0n).cause, 13, "S load from a U page without SUM");
  assert.equal(run(V | R | U | A, PRIV_S, SUM).cause, 3, "with SUM");
  assert.equal(run(V | R | A, PRIV_U, 0n).cause, 13, "U load from an S page");
  assert.equal(run(V | X | A, PRIV_S, 0n).cause, 13, "execute-only page without MXR");
  assert.equal(run(V | X | A, PRIV_S, MXR).cause, 3, "execute-only page with MXR");
  assert.equal(run(V | R | A, PRIV_S, 0n, `sd a0, 0(s0)\n ebreak\n`).cause, 15, "store to a read-only page");
  const st = run(V | R | A | D, PRIV_S, 0n, `sd a0, 0(s0)\n ebreak\n`);
  assert.equal(st.tval, 0x40001000n);
  assert.equal(run(V | R | W | A | D, PRIV_S, 0n, `amoadd.d a0, a1, (s0)\n ebreak\n`).cause, 3);
  assert.equal(run(V | R | A, PRIV_S, 0n, `amoadd.d a0, a1, (s0)\n ebreak\n`).cause, 15, "AMOs need write permission");
  assert.equal(run(V | R | W | A, PRIV_S, 0n, `jr s0\n`).cause, 12, "fetch from a non-executable page");
  assert.equal(run(V | R | X | U | A, PRIV_S, SUM, `jr s0\n`).cause, 12, "S never executes U pages, even with SUM");
  assert.equal(run(V | R | W | A, PRIV_S, 0n, `ld a0, 0(s0)\n ebreak\n`, 0x40001000n).cause, 3);
  assert.equal(run(W | R | A, PRIV_S, 0n).cause, 13, "invalid PTE");
  assert.equal(run(V | W | A, PRIV_S, 0n).cause, 13, "W without R is reserved");
});

test("MPRV makes M-mode loads and stores use MPP's translation", { skip }, () => {
  const { m, pt, hart, step } = vmMachine(
    `
    li t0, 0x40001000
    ld a0, 0(t0)
    ebreak
    li t1, 0x9
    sd t1, 0(t0)
    ebreak
  `,
    3,
    PRIV_M,
  );
  pt.map(0x40001000n, DATA2, V | R | W | A | D);
  hart.writeCsr(0x180, pt.satp());
  hart.writeCsr(0x300, (1n << 17n) | (1n << 11n)); // MPRV, MPP = S
  step();
  assert.equal(hart.getX(10), 0x2222n);
  step();
  assert.equal(m.memory.readU64(gpa(DATA2)), 9n);
  // Without MPRV the same address is physical and outside RAM.
  hart.writeCsr(0x300, 0n);
  hart.setPc(BigInt(RAM_BASE) + 4n);
  step(5);
});

test("SFENCE.VMA with rs1 = rs2 = x0 makes a changed PTE visible (the TLB caches it until then)", { skip }, () => {
  const { m, pt, hart, step } = vmMachine(`
    li t0, 0x40001000
    ld a0, 0(t0)
    ebreak
    ld a1, 0(t0)
    ebreak
    sfence.vma
    ld a2, 0(t0)
    ebreak
  `);
  const pte = pt.map(0x40001000n, DATA1, V | R | A);
  hart.writeCsr(0x180, pt.satp(1));
  step();
  m.memory.writeU64(gpa(pte), (BigInt(DATA2 / 4096) << 10n) | BigInt(V | R | A));
  step();
  assert.equal(hart.getX(11), 0x1111n, "stale translation still cached before the fence");
  step();
  assert.equal(hart.getX(12), 0x2222n, "new translation after sfence.vma");
});

test("address- and ASID-specific SFENCE.VMA flush that address, and keep global mappings", { skip }, () => {
  const { m, pt, hart, step } = vmMachine(`
    li t0, 0x40001000
    li t1, 0x40005000
    li t2, 7
    ld a0, 0(t0)
    ld a1, 0(t1)
    ebreak
    sfence.vma t0, t2     # this address in ASID 7
    ld a2, 0(t0)
    ld a3, 0(t1)          # other page: may stay cached (it does here)
    ebreak
    sfence.vma x0, t2     # all non-global entries of ASID 7
    ld a4, 0(t1)
    ld a5, 0(s2)          # global page
    ebreak
    sfence.vma s2, x0     # this address in every ASID, global included
    ld a6, 0(s2)
    ebreak
  `);
  const pA = pt.map(0x40001000n, DATA1, V | R | A);
  const pB = pt.map(0x40005000n, DATA1, V | R | A);
  const pG = pt.map(0x40009000n, DATA1, V | R | A | G);
  hart.setX(18, 0x40009000n);
  hart.writeCsr(0x180, pt.satp(7));
  // prime the global page too
  step();
  hart.setPc(hart.getPc() - 4n);
  const resume = hart.getPc();
  hart.setPc(BigInt(RAM_BASE) + 0x200n); // an ld a5, 0(s2) stub placed below
  m.memory.writeU32(gpa(RAM_BASE + 0x200), 0x00093783); // ld a5, 0(s2)
  m.memory.writeU32(gpa(RAM_BASE + 0x204), 0x00100073); // ebreak
  step();
  assert.equal(hart.getX(15), 0x1111n);
  hart.setPc(resume + 4n);
  const to2 = (BigInt(DATA2 / 4096) << 10n) | BigInt(V | R | A);
  m.memory.writeU64(gpa(pA), to2);
  m.memory.writeU64(gpa(pB), to2);
  m.memory.writeU64(gpa(pG), to2 | BigInt(G));
  step();
  assert.equal(hart.getX(12), 0x2222n, "address+ASID fence flushed that page");
  assert.equal(hart.getX(13), 0x1111n, "...and only that page");
  step();
  assert.equal(hart.getX(14), 0x2222n, "ASID fence flushed the ASID's pages");
  assert.equal(hart.getX(15), 0x1111n, "ASID fence keeps global mappings");
  step();
  assert.equal(hart.getX(16), 0x2222n, "address fence with rs2 = x0 flushes global mappings too");
});

test("an address-specific SFENCE.VMA flushes a whole superpage, and ASIDs keep translations apart", { skip }, () => {
  const { m, pt, hart, step } = vmMachine(`
    li t0, 0x40212008
    li t1, 0x40300000
    ld a0, 0(t0)
    ebreak
    sfence.vma t1, x0      # another address inside the same 2 MiB page
    ld a1, 0(t0)
    ebreak
  `);
  const pte = pt.map(0x40200000n, RAM_BASE, V | R | A, 1);
  m.memory.writeU64(gpa(RAM_BASE + 0x12008), 0xaan);
  m.memory.writeU64(gpa(RAM_BASE + 0x200000 + 0x12008), 0xbbn);
  hart.writeCsr(0x180, pt.satp(3));
  step();
  assert.equal(hart.getX(10), 0xaan);
  m.memory.writeU64(gpa(pte), (BigInt((RAM_BASE + 0x200000) / 4096) << 10n) | BigInt(V | R | A));
  step();
  assert.equal(hart.getX(11), 0xbbn);

  // Two address spaces with different ASIDs: switching satp selects the other translation
  // without any fence, and switching back finds the first one.
  const {
    m: m2,
    hart: h2,
    step: s2,
  } = vmMachine(`
    li t0, 0x40001000
    ld a0, 0(t0)
    csrw satp, s3
    ld a1, 0(t0)
    csrw satp, s2
    ld a2, 0(t0)
    ebreak
  `);
  const pt1 = new PageTables(m2, 3, RAM_BASE + 0x180000);
  pt1.map(BigInt(RAM_BASE), RAM_BASE, V | R | W | X | G | A | D, 2);
  pt1.map(0x40001000n, DATA2, V | R | A);
  const pt0 = new PageTables(m2, 3, RAM_BASE + 0x1c0000);
  pt0.map(BigInt(RAM_BASE), RAM_BASE, V | R | W | X | G | A | D, 2);
  pt0.map(0x40001000n, DATA1, V | R | A);
  h2.setX(18, pt0.satp(1));
  h2.setX(19, pt1.satp(2));
  h2.writeCsr(0x180, pt0.satp(1));
  s2();
  assert.deepEqual([h2.getX(10), h2.getX(11), h2.getX(12)], [0x1111n, 0x2222n, 0x1111n]);
});

test("a page-table entry outside RAM is an access fault of the access type", { skip }, () => {
  const { hart, step } = vmMachine(`li t0, 0x40001000\n sd a0, 0(t0)\n`);
  hart.writeCsr(0x180, (8n << 60n) | BigInt(0x1000 / 4096)); // root table at PA 0x1000: no RAM there
  // the code fetch itself walks the same root: expect an instruction access fault at the first pc
  step(1);
});

test("changing hart.priv from the host drops translations cached for the old privilege", { skip }, () => {
  // Physically, RAM_BASE holds "li a0, 1"; under Sv39 the same virtual page maps to code doing "li a0, 2".
  const m = machine(assemble(`.option norvc\n li a0, 1\n ebreak\n`));
  m.memory.write(gpa(RAM_BASE + 0x3000), assemble(`.option norvc\n li a0, 2\n ebreak\n`));
  const pt = new PageTables(m, 3);
  pt.map(BigInt(RAM_BASE), RAM_BASE + 0x3000, V | R | X | A);
  const hart = m.hart;
  hart.exitMask = 1 << 3;
  hart.writeCsr(0x180, pt.satp());
  assert.equal(hart.run(100), ExitReason.Trap);
  assert.equal(hart.getX(10), 1n, "M-mode fetches physically");
  hart.priv = PRIV_S;
  hart.setPc(BigInt(RAM_BASE));
  assert.equal(hart.run(100), ExitReason.Trap);
  assert.equal(hart.getX(10), 2n, "S-mode fetch is translated, not served from the M-mode cache");
});

test("an M-to-M trap under MPRV changes MPP, and with it the translation of M-mode loads", { skip }, () => {
  // VA 0x80201000 is physically DATA2 (0x2222); with MPRV and MPP = S it is translated to DATA1 (0x1111).
  const m = machine(
    assemble(`
    .option norvc
    la t0, handler
    csrw mtvec, t0
    li t1, 0x80201000
    ld a0, 0(t1)          # MPRV, MPP = S: translated
    ecall                 # M -> M trap: MPP becomes M, so loads are physical again
handler:
    ld a1, 0(t1)
    ebreak
  `),
  );
  const pt = new PageTables(m, 3);
  pt.map(BigInt(RAM_BASE), RAM_BASE, V | R | W | X | A | D, 1); // the code's 2 MiB
  pt.map(0x80201000n, DATA1, V | R | A);
  m.memory.writeU64(gpa(DATA1), 0x1111n);
  m.memory.writeU64(gpa(DATA2), 0x2222n);
  m.hart.exitMask = 1 << 3;
  m.hart.writeCsr(0x180, pt.satp());
  m.hart.writeCsr(0x300, (1n << 17n) | (1n << 11n)); // MPRV, MPP = S
  assert.equal(m.hart.run(100), ExitReason.Trap);
  assert.equal(m.hart.getX(10), 0x1111n);
  assert.equal(m.hart.getX(11), 0x2222n);
});

test(
  "a 32-bit instruction whose second half is on an unmapped page: epc = its start, tval = the second page",
  { skip },
  () => {
    const m = machine(new Uint8Array(0));
    const pt = new PageTables(m, 3);
    pt.map(0x40000000n, RAM_BASE + 0x5000, V | R | X | A); // the next virtual page stays unmapped
    m.memory.write(gpa(RAM_BASE + 0x5ffe), new Uint8Array([0x13, 0x00])); // low half of "addi x0, x0, 0"
    m.hart.writeCsr(0x180, pt.satp());
    m.hart.priv = PRIV_S;
    m.hart.setPc(0x40000ffen);
    m.hart.exitMask = 1 << 12;
    assert.equal(m.hart.run(10), ExitReason.Trap);
    assert.equal(m.hart.exitCause, 12);
    assert.equal(m.hart.getPc(), 0x40000ffen);
    assert.equal(m.hart.exitTval, 0x40001000n);
  },
);
