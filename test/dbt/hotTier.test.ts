// The optimizing tier (DbtOptions.hotTier, src/dbt/TierUp.ts, docs/DBT.md "Session 7: tier-up"): a
// unit that has run enough instructions gets its function compiled by TurboFan in place, on the
// compile worker's thread or on its own, and keeps the interpreter's results, in lockstep; without
// V8's intrinsic the units stay Liftoff code and run the same.
import { test } from "node:test";
import assert from "node:assert/strict";
import { isTurboFan, setWasmTiering, wasmTierUpIntrinsic } from "../../src/dbt/WasmTiering.js";
import { registeredTierUp, setTierUp } from "../../src/dbt/TierUp.js";
import { CompileWorker } from "../../src/dbt/CompileWorker.js";
import { lockstep } from "../../src/dbt/Lockstep.js";
import type { DbtOptions } from "../../src/dbt/Dbt.js";
import { toolchainMissing } from "../riscv/asm.js";
import { lockstepToEbreak, pair } from "./machine.js";

const skip = toolchainMissing();

const HOT_LOOP = (iterations: number) => `
    li s0, 0x80100000
    li s1, ${iterations}
    li a0, 12345
    li s2, 0
1:  slli t0, a0, 13        # xorshift64
    xor a0, a0, t0
    srli t0, a0, 7
    xor a0, a0, t0
    slli t0, a0, 17
    xor a0, a0, t0
    srli a1, a0, 40
    andi a3, a1, 1016
    add a4, s0, a3
    ld a5, 0(a4)
    xor a5, a5, a0
    sd a5, 0(a4)
    lw a6, 4(a4)
    sb a1, 1(a4)
    add s2, s2, a6
    jal ra, helper         # a call and a return through JALR in and out of the unit
    addi s1, s1, -1
    bnez s1, 1b
    ebreak
    .balign 4096
helper:                    # its own page: a unit entered only by chaining from the loop's
    slli t1, a0, 7
    xor s2, s2, t1
    ret
`;

function hotPair(iterations: number, opts: DbtOptions) {
  const p = pair(HOT_LOOP(iterations), opts);
  p.a.hart.exitMask = p.b.hart.exitMask = 1 << 3;
  return p;
}

test("V8's tier-up intrinsic is there (Node >= 20) and makes TurboFan code", () => {
  setWasmTiering({ tierUp: false }); // as a VM's process: Liftoff only, the tier-up function registered
  assert.ok(registeredTierUp() !== undefined, "no tier-up on this Node: hot units would stay Liftoff code");
  assert.ok(wasmTierUpIntrinsic() !== undefined);
});

test("a hot unit tiered up on its own thread gives the interpreter's registers and memory", { skip }, () => {
  setWasmTiering({ tierUp: false });
  const { a, b } = hotPair(10_000, { hotThreshold: 1, hotTier: 20_000 });
  lockstepToEbreak(a, b, 5000, 0.9);
  const st = a.dbt!.stats;
  // Both the loop's page and the helper's, which is only ever entered by chaining (its instructions
  // are counted per unit by the trampoline, not credited to the loop's page).
  assert.ok(st.tieredUp >= 2, `units tiered up: ${st.tieredUp}`);
  assert.equal(st.tieredUpOffThread, 0);
  assert.equal(st.tierUpFailures, 0);
  // Every translated instruction is counted for some unit.
  const counted = a.dbt!.hotPages(10).reduce((n, [, k]) => n + k, 0);
  assert.ok(Math.abs(counted - st.translatedInsns) < 0.01 * st.translatedInsns, `${counted} / ${st.translatedInsns}`);
});

test(
  "a hot unit tiered up on the compile worker runs TurboFan code on this thread",
  { skip, timeout: 60_000 },
  async () => {
    setWasmTiering({ tierUp: false });
    const compiler = new CompileWorker();
    try {
      // The tier-up arrives asynchronously: run (in lockstep) until it has and 50 chunks more ran.
      const { a, b } = hotPair(10_000_000, { hotThreshold: 1, hotTier: 100_000, compiler });
      const st = a.dbt!.stats;
      let after = 0;
      const r = lockstep(a.hart, b.hart, {
        chunk: 5000,
        maxInsns: 100_000_000,
        onChunk: () => (st.tieredUpOffThread >= 1 && ++after > 50 ? "stop" : "continue"),
      });
      assert.equal(r.divergence, undefined);
      assert.ok(st.tieredUpOffThread >= 1, `units tiered up on the worker: ${st.tieredUpOffThread}`);
      assert.equal(st.tieredUp, st.tieredUpOffThread);
      assert.equal(st.tierUpFailures, 0);
    } finally {
      await compiler.close();
    }
  },
);

test("the compile worker's tier-up reaches this thread's instance of the module", { timeout: 30_000 }, async () => {
  setWasmTiering({ tierUp: false });
  // A unit the worker translated from a page of shared memory (two instructions: addi a0, a0, 1; ret),
  // its engine area at 64 KiB: called with budget 0 it returns ExitKind.Budget (2) at once.
  const mem = new WebAssembly.Memory({ initial: 4, maximum: 4, shared: true });
  new Uint8Array(mem.buffer).set([0x13, 0x05, 0x15, 0x00, 0x67, 0x80, 0x00, 0x00]);
  const compiler = new CompileWorker();
  try {
    const t = compiler.addTranslator(mem, {
      engineOffset: 65536,
      memoryPages: 4,
      shared: true,
      regsInLocals: false,
      disabledOpcodes: [],
      atomics: false,
      countMirror: false,
    });
    const module = await new Promise<WebAssembly.Module>((resolve, reject) => {
      compiler.translate(t, 0, [0], (u) => (u ? resolve(u.module) : reject(new Error("nothing translated"))));
      const poll = setInterval(() => {
        try {
          if (compiler.ready()) {
            clearInterval(poll);
            compiler.drain();
          }
        } catch (e) {
          reject(e as Error);
        }
      }, 5);
    });
    const f = new WebAssembly.Instance(module, { e: { m: mem, s: () => 0 } }).exports["f"] as (
      a: number,
      b: number,
    ) => number;
    assert.equal(f(0, 0), 2);
    assert.equal(isTurboFan(f), false);
    const ms = await new Promise<number>((resolve) => {
      compiler.tierUp(module, 4, true, resolve);
      const poll = setInterval(() => {
        if (compiler.ready()) {
          compiler.drain();
          clearInterval(poll);
        }
      }, 5);
    });
    assert.ok(ms >= 0, "the worker could not tier up");
    assert.equal(isTurboFan(f), true, "this thread's instance still runs Liftoff code");
    assert.equal(f(0, 0), 2);
  } finally {
    await compiler.close();
  }
});

test("without the tier-up intrinsic hot units stay Liftoff code and run the same", { skip }, () => {
  setWasmTiering({ tierUp: false });
  setTierUp(undefined); // as on a V8 without %WasmTierUpFunction
  try {
    const { a, b } = hotPair(10_000, { hotThreshold: 1, hotTier: 20_000 });
    lockstepToEbreak(a, b, 5000, 0.9);
    assert.equal(a.dbt!.stats.tieredUp, 0);
  } finally {
    setWasmTiering({ tierUp: false });
  }
});
