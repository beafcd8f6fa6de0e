// The jump cache across run() calls and privilege switches (docs/DBT.md "Session 6: code"): its
// entries survive a new run() (the trampoline chains only into units compared with their snapshot
// in the current generation, ENG_VERIFIED) and a U/S switch (entries are tagged with the privilege
// they were made under). Lockstep against the interpreter: code rewritten by the host between two
// runs while a caller chains into it, and U-mode jumping to an S-mode function that S-mode had
// chained into (the interpreter raises an instruction page fault).
import { test } from "node:test";
import assert from "node:assert/strict";
import { ExitReason, Hart, PRIV_M } from "../../src/riscv/Hart.js";
import { lockstep } from "../../src/dbt/Lockstep.js";
import { gpa } from "../../src/memory/Address.js";
import { RAM_BASE, toolchainMissing } from "../riscv/asm.js";
import { enterS, lockstepToEbreak, pair } from "./machine.js";
import { attachDbt, type DbtOptions } from "../../src/dbt/Dbt.js";
import { ENG_JC, JC_ENTRIES } from "../../src/dbt/EngineArea.js";

const skip = toolchainMissing();

/**
 * Registers the test for both chaining paths: a unit's own tail call (docs/DBT.md "Session 7:
 * chaining") and the trampoline's call (DbtOptions.tailCalls false, engines without wasm tail calls).
 */
function both(name: string, fn: (opts: DbtOptions) => void): void {
  for (const [path, tailCalls] of [
    ["tail calls", true],
    ["trampoline", false],
  ] as const)
    test(`${name} (${path})`, { skip }, () => fn({ hotThreshold: 1, tailCalls }));
}

both("a unit chained into after the host rewrote its page between two runs runs the new code", (opts) => {
  const { a, b } = pair(
    `
    li s1, 3000
    li s2, 0
1:  call far               # another page: chained through the jump cache once it is filled
    add s2, s2, a0
    addi s1, s1, -1
    bnez s1, 1b
    ebreak
    .balign 4096
    .option norvc
far:
    addi a0, zero, 1       # rewritten by the host to addi a0, zero, 2
    ret
  `,
    opts,
  );
  const patch = new Uint8Array(new Uint32Array([0x00200513]).buffer);
  let chunks = 0,
    patched = false;
  a.hart.exitMask = b.hart.exitMask = 1 << 3;
  const r = lockstep(a.hart, b.hart, {
    // 7 instructions per iteration: every run stops at the same pc, the block after the call, so a
    // new run enters the caller's page and the next call into far is chained (not a dispatcher entry).
    chunk: 700,
    maxInsns: 100_000,
    onChunk: () => {
      // once the caller's page is where both stopped (so the dispatcher enters it, not far)
      if (++chunks >= 10 && !patched && a.hart.getPc() < BigInt(RAM_BASE + 4096)) {
        for (const m of [a, b]) m.memory.write(gpa(RAM_BASE + 4096), patch);
        patched = true;
      }
      return "continue";
    },
  });
  assert.equal(r.divergence, undefined);
  assert.equal(r.reason, ExitReason.Trap);
  const s2 = a.hart.getX(18);
  assert.ok(s2 > 3000n && s2 < 6000n, `s2 = ${s2}: both forms of far ran`);
  assert.ok(a.dbt!.stats.unitCalls > 2 * a.dbt!.stats.cacheHits, "calls were chained");
});

both("U-mode does not chain into S-mode code through the jump cache", (opts) => {
  const { a, b } = pair(
    `
    li t0, 0x80200000      # Sv39 root table: gigapages, 2 GiB -> RAM for S only, 1 GiB -> RAM for U too
    li t1, ((0x80000000 >> 12) << 10) | 0xcf
    sd t1, 16(t0)
    li t1, ((0x80000000 >> 12) << 10) | 0xdf
    sd t1, 8(t0)
${enterS("(1 << 12) | (1 << 8)")}   # instruction page faults and U ecalls go to S
    mret
kmain:
    li s1, 20              # rounds: S calls kfunc, U jumps to it and faults back into S
round:
    li s6, 5
1:  call kfunc             # S-mode enters kfunc through the dispatcher, then chains into it
    addi s6, s6, -1
    bnez s6, 1b
    la t0, umain
    li t1, 0x40000000
    sub t0, t0, t1         # umain's U-mode alias
    csrw sepc, t0
    sret                   # SPP = U (never set)
umain:
    la t1, kaddr           # (the U alias)
    ld t0, 0(t1)           # kfunc's S-only address
    jalr t0                # an instruction page fault, not kfunc
    li s3, 8
    ebreak
strap:
    csrr s5, scause
    addi s1, s1, -1
    bnez s1, round
    ebreak
kaddr:
    .dword kfunc
    .balign 4096
kfunc:
    addi s4, s4, 1
    ret
  `,
    opts,
  );
  lockstepToEbreak(a, b, 1000, 0.05);
  assert.equal(a.hart.getX(21), 12n, "scause: instruction page fault");
  assert.equal(a.hart.getX(19), 0n, "U-mode never returned from kfunc");
  assert.equal(a.hart.getX(20), 100n, "kfunc ran only in S-mode");
});

both("a jump-cache entry dies with its page's SFENCE.VMA when S-mode remaps a U code page", (opts) => {
  const pte = (reg: string) => `    srli ${reg}, ${reg}, 12\n    slli ${reg}, ${reg}, 10\n    ori ${reg}, ${reg}, 0xdf`;
  const { a, b } = pair(
    `
    li t0, 0x80200000      # Sv39: 2 GiB gigapage -> RAM for S; 1 GiB: 4 KiB pages for U
    li t1, ((0x80000000 >> 12) << 10) | 0xcf
    sd t1, 16(t0)
    li t1, ((0x80201000 >> 12) << 10) | 1
    sd t1, 8(t0)
    li t0, 0x80201000
    li t1, ((0x80202000 >> 12) << 10) | 1
    sd t1, 0(t0)
    li t0, 0x80202000      # 0x40000000 -> ufuncA (later ufuncB), 0x40001000 -> umain
    la t1, ufuncA
${pte("t1")}
    sd t1, 0(t0)
    la t1, umain
${pte("t1")}
    sd t1, 8(t0)
${enterS("1 << 8")}      # U ecalls go to S
    li s1, 10              # rounds of U calls
    mret
kmain:
    li t0, 0x40001000
    csrw sepc, t0
    sret
strap:
    addi s1, s1, -1
    beqz s1, 2f
    li t0, 5
    bne s1, t0, kmain
    li t0, 0x80202000      # remap 0x40000000 to ufuncB, fence that page only
    la t1, ufuncB
${pte("t1")}
    sd t1, 0(t0)
    li t0, 0x40000000
    sfence.vma t0
    j kmain
2:  ebreak
    .balign 4096
umain:
    li s6, 20
1:  li t0, 0x40000000
    jalr t0                # chained through the jump cache once its entry is filled
    add s2, s2, a0
    addi s6, s6, -1
    bnez s6, 1b
    ecall
    .balign 4096
ufuncA:
    li a0, 1
    ret
    .balign 4096
ufuncB:
    li a0, 2
    ret
  `,
    opts,
  );
  lockstepToEbreak(a, b, 1000, 0.3);
  assert.equal(a.hart.getX(18), 5n * 20n + 5n * 40n, "s2: the new mapping ran after the fence");
});

test(
  "a translator re-created for a rebooted hart does not chain through its predecessor's jump-cache entries",
  { skip },
  () => {
    // Three functions on their own pages, called in one order by boot 1 and in the reverse order by
    // boot 2, so that their units get other table slots; boot 2's translator starts with the same
    // jump-cache generation as boot 1's did, so a surviving entry would chain into the wrong unit.
    const prog = (order: string[]) => `
    li s1, 500
    li s2, 0
1:  ${order.map((f) => `call ${f}\n    add s2, s2, a0`).join("\n    ")}
    addi s1, s1, -1
    bnez s1, 1b
    ebreak
    .balign 4096
f1: li a0, 1
    ret
    .balign 4096
f2: li a0, 10
    ret
    .balign 4096
f3: li a0, 100
    ret
`;
    const { a } = pair(prog(["f1", "f2", "f3"]), { hotThreshold: 1 });
    a.hart.exitMask = 1 << 3;
    while (a.hart.run(100_000) === ExitReason.Budget);
    assert.equal(a.hart.getX(18), 500n * 111n);
    // The reboot: RAM rewritten, a new hart with the same id, a new translator in its engine-area slot.
    const { a: boot2 } = pair(prog(["f3", "f2", "f1"]), { hotThreshold: 1 });
    const code = boot2.memory.read(gpa(RAM_BASE), 4 * 4096);
    a.memory.bytes.fill(0);
    a.memory.write(gpa(RAM_BASE), code);
    const hart = new Hart({ memory: a.memory, bus: a.bus, hartId: 0, timer: a.timer });
    hart.priv = PRIV_M;
    hart.setPc(BigInt(RAM_BASE));
    const tags = () => {
      const e = new Int32Array(a.memory.wasmMemory.buffer, a.memory.engineOffset + ENG_JC, JC_ENTRIES * 4);
      return e.filter((_, i) => i % 4 === 3 && e[i] !== 0).length;
    };
    assert.ok(tags() > 0, "boot 1 left jump-cache entries");
    const dbt = attachDbt(hart, { hotThreshold: 1 });
    // Entries that survived would carry generations the new translator reaches again.
    assert.equal(tags(), 0, "the new translator starts with an empty jump cache");
    hart.exitMask = 1 << 3;
    while (hart.run(100_000) === ExitReason.Budget);
    assert.equal(hart.getX(18), 500n * 111n, "each call ran its own function");
    assert.ok(dbt.stats.translatedInsns > 0.5 * Number(hart.instret), "boot 2 ran translated");
  },
);
