// Unit-to-unit transitions (docs/DBT.md "Session 7: chaining"): a unit leaving its page with budget
// left tail-calls the next unit through the jump cache (or, with DbtOptions.tailCalls false, returns
// to the trampoline, which calls it). Lockstep against the interpreter, in chunks that end in the
// middle of chains, so a budget or instret off by one anywhere in the chain shows; and a timer
// interrupt taken in a loop whose every iteration crosses pages. The chained units step CSR
// instructions through the interpreter (the `step` import), which reads the page's virtual address
// and the budget the chain left. The checks that keep chains out
// of stale, unverified or other-privilege units are tested in jumpCache.test.ts, on both paths.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ExitReason } from "../../src/riscv/Hart.js";
import { toolchainMissing } from "../riscv/asm.js";
import { lockstepToEbreak, pair } from "./machine.js";

const skip = toolchainMissing();

/** Calls, jumps and returns across four pages; s2 accumulates what each page computed. */
const acrossPages = `
    li s1, 3000
    li s2, 0
1:  andi a0, s1, 7
    call p1                # JALR to another page (auipc + jalr)
    add s2, s2, a0
    jal p3                 # JAL to another page
    xor s2, s2, a0
    addi s1, s1, -1
    bnez s1, 1b
    ebreak
    .balign 4096
    .skip 0x120
p1: slli a0, a0, 2
    csrr t1, mscratch      # stepped by the interpreter inside a chained unit
    addi t1, t1, 1
    csrw mscratch, t1
    addi a0, a0, 5
    beqz s1, 2f            # never taken: a branch out of the page
    j p2                   # JAL out of the page, returning from p2 to the first page
2:  ret
    .balign 4096
    .skip 0x340
p2: addi a0, a0, 3
    csrr t2, mscratch
    add a0, a0, t2
    ret
    .balign 4096
    .skip 0x560
p3: mul a0, a0, s1
    ret
`;

for (const tailCalls of [true, false]) {
  const path = tailCalls ? "tail calls" : "trampoline";

  for (const chunk of [53, 1000]) {
    test(`chained units keep instret and the budget exact, in chunks of ${chunk} (${path})`, { skip }, () => {
      const { a, b } = pair(acrossPages, { hotThreshold: 1, tailCalls });
      lockstepToEbreak(a, b, chunk, 0.8);
      assert.equal(a.hart.getX(18), b.hart.getX(18));
      const st = a.dbt!.stats;
      // ~4 transitions per 19-instruction iteration; nearly all of them chained, not dispatched.
      assert.ok(st.unitCalls > 10_000, `unit calls ${st.unitCalls}`);
      if (chunk === 1000) assert.ok(st.unitCalls > 5 * st.cacheHits, `${st.unitCalls} calls, ${st.cacheHits} entries`);
      // Each unit of a chain is credited its own instructions (the optimizing tier's hotness), not
      // the unit the chain was entered at: p2 runs 4 per iteration, p3 2 (3000 iterations).
      const ran = new Map(a.dbt!.hotPages(8));
      const p2 = ran.get(0x2000) ?? 0,
        p3 = ran.get(0x3000) ?? 0;
      assert.ok(p2 > 0.8 * 12_000 && p2 <= 12_000, `p2 executed ${p2}`);
      assert.ok(p3 > 0.8 * 6_000 && p3 <= 6_000, `p3 executed ${p3}`);
    });
  }

  test(`a timer interrupt is taken in a loop that leaves its page at every iteration (${path})`, { skip }, () => {
    const { a } = pair(
      `
    la t0, handler
    csrw mtvec, t0
    li t0, 0x80
    csrw mie, t0           # MTIE
    csrsi mstatus, 8       # MIE
    li a0, 0
spin:
    addi a0, a0, 1
    j away
    .align 2               # mtvec.BASE is 4-byte aligned
handler:
    csrr a1, mcause
    ebreak
    .balign 4096
    .skip 0x80
away:
    addi a0, a0, 1
    j spin
  `,
      { hotThreshold: 1, tailCalls },
    );
    a.hart.exitMask = 1 << 3;
    a.hart.mtimecmp = 1000n;
    assert.equal(a.hart.run(200_000), ExitReason.Budget);
    const st = a.dbt!.stats;
    assert.ok(st.translatedInsns > 100_000);
    assert.ok(st.unitCalls > 20 * st.cacheHits, `${st.unitCalls} calls, ${st.cacheHits} entries: not chained`);
    a.timer.t = 2000;
    assert.equal(a.hart.run(20_000), ExitReason.Trap, "interrupt not taken within 20000 instructions");
    assert.equal(a.hart.getX(11), 0x8000000000000007n);
  });
}
