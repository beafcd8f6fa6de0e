// Memory-model litmus tests on vCPU threads (src/vmm/vcpu): small S-mode programs that start their
// secondary harts with SBI HSM and then race on shared memory, each hart on its own host thread.
// They check what RVWMO (Unprivileged ISA ch. 17, Appendix A's litmus shapes) promises:
//  - AMO counters: every hart adds 1 with amoadd.w and amoadd.d a million times: the sums are exact
//    (and amomaxu.w / amomin.d, the compare-and-swap loops, find the extremes);
//  - LR/SC counter: every hart increments with an lr.w/sc.w loop: exact;
//  - message passing (MP): data written before `fence w,w` and a flag is seen by a reader that saw
//    the flag and executed `fence r,r`;
//  - store buffering (SB): with `fence rw,rw` between each hart's store and load, the outcome where
//    both loads miss both stores is forbidden.
// Each runs under both CPU engines.
import { test } from "node:test";
import assert from "node:assert/strict";
import { assemble, toolchainMissing } from "../riscv/asm.js";
import { Vm } from "../../src/vmm/Vm.js";
import { MemoryBackend } from "../../src/devices/chardev/MemoryBackend.js";
import type { EngineName } from "../../src/dbt/Engine.js";
import type { DbtOptions } from "../../src/dbt/Dbt.js";
import { setWasmTiering } from "../../src/dbt/WasmTiering.js";
import { gpa } from "../../src/memory/Address.js";

const KERNEL_BASE = 0x80200000;

/** Prints "OK\n" (or "BAD\n" at label bad) through SBI DBCN and powers off. */
const EPILOGUE = `
  la a1, okmsg
  j print
bad:
  la a1, badmsg
print:
  li a7, 0x4442434E
  li a6, 0
  li a0, 3
  li a2, 0
  ecall
  li a7, 0x53525354
  li a6, 0
  li a0, 0
  li a1, 0
  ecall
1: j 1b
okmsg: .ascii "OK\\n"
badmsg: .ascii "BAD"
`;

/** Hart 0 starts harts 1..n-1 at `secondary` (a0 = hart id on entry), then all run `work` with s0 = hart id. */
const START_HARTS = (n: number) => `
_start:
  mv s0, a0
  li s1, 1
2:
  li t0, ${n}
  bge s1, t0, work
  li a7, 0x48534D
  li a6, 0
  mv a0, s1
  la a1, secondary
  li a2, 0
  ecall
  bnez a0, bad
  addi s1, s1, 1
  j 2b
secondary:
  mv s0, a0
`;

/** Shared variables on their own page (not the code page, whose stores would drop translations). */
const DATA = (names: string[]) => `
  .balign 4096
${names.map((n) => `  .balign 64\n${n}: .dword 0`).join("\n")}
`;

async function runLitmus(
  src: string,
  cpus: number,
  engine: EngineName,
  during?: (vm: Vm) => Promise<void>,
  opts: { hypervisor?: boolean; engineOptions?: DbtOptions; after?: (vm: Vm) => void } = {},
): Promise<string> {
  const kernel = assemble(src, KERNEL_BASE);
  const console = new MemoryBackend();
  const vm = new Vm({
    config: {
      memory: 32 << 20,
      cpus,
      kernel: { name: "litmus", bytes: kernel },
      append: "",
      engine,
      vcpuThreads: true,
      ...(opts.hypervisor !== undefined ? { hypervisor: opts.hypervisor } : {}),
      ...(opts.engineOptions ? { engineOptions: opts.engineOptions } : {}),
    },
    console,
  });
  assert.equal(vm.threaded, true);
  const timer = setTimeout(() => vm.stop(), 120_000);
  const done = vm.start();
  await during?.(vm);
  const exit = await done;
  clearTimeout(timer);
  vm.board.uart.flushTx();
  assert.deepEqual(exit, { reason: "poweroff", status: 0 }, console.text());
  const s = vm.stats();
  assert.equal(s.vcpus?.length, cpus, "per-vCPU statistics");
  for (const v of s.vcpus ?? []) assert.ok(v.instructions > 0, `vCPU ${v.hart} ran: ${JSON.stringify(s.vcpus)}`);
  // The hot loops ran as translated code (where AMOs are wasm atomics and FENCE atomic.fence).
  if (engine === "dbt") assert.ok((s.dbt?.translatedInsns ?? 0) > 100_000, `translated ${s.dbt?.translatedInsns}`);
  opts.after?.(vm);
  return console.text();
}

const N = 1_000_000;
const COUNTERS = (harts: number) => `
${START_HARTS(harts)}
work:
  la t0, c32
  la t1, c64
  la t2, lrsc
  li t3, ${N}
  li t4, 1
1:
  amoadd.w zero, t4, (t0)
  amoadd.d zero, t4, (t1)
  la t5, cmax
  amomaxu.w zero, t3, (t5)
  neg t6, t3
  la t5, cmin
  amomin.d zero, t6, (t5)
  addi t3, t3, -1
  bnez t3, 1b
  li t3, ${N / 10}
3:
  lr.w t5, (t2)
  addi t5, t5, 1
  sc.w t6, t5, (t2)
  bnez t6, 3b
  addi t3, t3, -1
  bnez t3, 3b
  la t0, done
  amoadd.w zero, t4, (t0)
  bnez s0, park
  li t1, ${harts}
4:
  lw t2, 0(t0)
  bne t2, t1, 4b
  fence rw, rw
  la t0, c32
  lw t1, 0(t0)
  li t2, ${harts * N}
  bne t1, t2, bad
  la t0, c64
  ld t1, 0(t0)
  bne t1, t2, bad
  la t0, lrsc
  lw t1, 0(t0)
  li t2, ${(harts * N) / 10}
  bne t1, t2, bad
  la t0, cmax
  lwu t1, 0(t0)
  li t2, ${N}
  bne t1, t2, bad
  la t0, cmin
  ld t1, 0(t0)
  li t2, ${-N}
  bne t1, t2, bad
  j ok
park:
  wfi
  j park
ok:
${EPILOGUE}
${DATA(["c32", "c64", "lrsc", "done", "cmax", "cmin"])}
`;

const ROUNDS = 20_000;
const SB_ROUNDS = 200;
/** MP: hart 1 writes data = 7 * i, fence w,w, flag = i; hart 0 waits for flag = i, fence r,r, reads data. */
const MESSAGE_PASSING = `
${START_HARTS(2)}
work:
  la t0, flag
  la t1, data
  li t3, 1
  li t4, ${ROUNDS}
  bnez s0, writer
reader:
  lw t2, 0(t0)
  bne t2, t3, reader
  fence r, r
  lw t5, 0(t1)
  li t6, 7
  mul t6, t6, t3
  bne t5, t6, bad
  la a3, ack
  sw t3, 0(a3)
  addi t3, t3, 1
  ble t3, t4, reader
  j ok
writer:
  li t6, 7
  mul t6, t6, t3
  sw t6, 0(t1)
  fence w, w
  sw t3, 0(t0)
  la a3, ack
5:
  lw t5, 0(a3)
  bne t5, t3, 5b
  addi t3, t3, 1
  ble t3, t4, writer
6:
  wfi
  j 6b
ok:
${EPILOGUE}
${DATA(["flag", "data", "ack"])}
`;

/**
 * SB: hart 0 coordinates rounds; harts 1 and 2 each store 1 to their variable, fence rw,rw, load the
 * other's, publish what they saw and arrive. Both seeing 0 is forbidden.
 */
const STORE_BUFFERING = `
${START_HARTS(3)}
work:
  la s2, go
  la s3, arrived
  li s4, 1
  bnez s0, player
coord:
  la t0, x
  sd zero, 0(t0)
  la t0, y
  sd zero, 0(t0)
  sw zero, 0(s3)
  fence rw, rw
  sw s4, 0(s2)
7:
  lw t1, 0(s3)
  li t2, 2
  bne t1, t2, 7b
  fence rw, rw
  la t0, r1
  ld t1, 0(t0)
  la t0, r2
  ld t2, 0(t0)
  or t1, t1, t2
  beqz t1, bad
  addi s4, s4, 1
  li t0, ${SB_ROUNDS}
  ble s4, t0, coord
  j ok
player:
  li t0, 1
  la a3, x
  la a4, y
  la a5, r1
  beq s0, t0, 8f
  la a3, y
  la a4, x
  la a5, r2
8:
  lw t1, 0(s2)
  bne t1, s4, 8b
  li t2, 1
  sd t2, 0(a3)
  fence rw, rw
  ld t3, 0(a4)
  sd t3, 0(a5)
  fence rw, rw
  amoadd.w zero, t2, (s3)
  addi s4, s4, 1
  li t0, ${SB_ROUNDS}
  ble s4, t0, 8b
9:
  wfi
  j 9b
ok:
${EPILOGUE}
${DATA(["go", "arrived", "x", "y", "r1", "r2"])}
`;

for (const engine of ["interp", "dbt"] as const) {
  test(`vCPU threads (${engine}): AMO and LR/SC counters on 4 harts are exact (${N} amoadd.w + amoadd.d per hart)`, async (t) => {
    const why = toolchainMissing();
    if (why) return t.skip(why);
    assert.equal(await runLitmus(COUNTERS(4), 4, engine), "OK\n");
  });

  test(`vCPU threads (${engine}): message passing with fence w,w / fence r,r, ${ROUNDS} rounds`, async (t) => {
    const why = toolchainMissing();
    if (why) return t.skip(why);
    assert.equal(await runLitmus(MESSAGE_PASSING, 2, engine), "OK\n");
  });

  test(`vCPU threads (${engine}): store buffering with fence rw,rw never loses both stores, ${SB_ROUNDS} rounds`, async (t) => {
    const why = toolchainMissing();
    if (why) return t.skip(why);
    assert.equal(await runLitmus(STORE_BUFFERING, 3, engine), "OK\n");
  });
}

test("vCPU threads: one hart on a vCPU thread (--cpus 1 --vcpu-threads on) runs the counters", async (t) => {
  const why = toolchainMissing();
  if (why) return t.skip(why);
  assert.equal(await runLitmus(COUNTERS(1), 1, "dbt"), "OK\n");
});

test("vCPU threads: pause() stops every vCPU (no instructions retired while paused), resume() goes on", async (t) => {
  const why = toolchainMissing();
  if (why) return t.skip(why);
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  // Both harts count until the test sets the flag at STOP_FLAG (after the pause), then hart 0 ends.
  const STOP_FLAG = 0x80400000;
  const src = `
${START_HARTS(2)}
work:
  li t0, ${STOP_FLAG}
  la t1, c32
  li t4, 1
1:
  amoadd.w zero, t4, (t1)
  lw t2, 0(t0)
  beqz t2, 1b
  la t0, done
  amoadd.w zero, t4, (t0)
  bnez s0, park
  li t1, 2
4:
  lw t2, 0(t0)
  bne t2, t1, 4b
  j ok
park:
  wfi
  j park
ok:
${EPILOGUE}
${DATA(["c32", "done"])}
`;
  const out = await runLitmus(src, 2, "interp", async (vm) => {
    await sleep(300);
    vm.pause();
    assert.equal(vm.state, "paused");
    await sleep(300); // the threads finish their current slice and park
    const a = vm.stats().instructions;
    await sleep(500);
    const b = vm.stats().instructions;
    assert.equal(b, a, "no instructions while paused");
    vm.resume();
    await sleep(200);
    assert.ok(vm.stats().instructions > b, "running again");
    vm.board.memory.writeU32(gpa(STOP_FLAG), 1);
  });
  assert.equal(out, "OK\n");
});

test("vCPU threads: the hypervisor extension's statistics are summed over the vCPU threads", async (t) => {
  const why = toolchainMissing();
  if (why) return t.skip(why);
  // Every hart enters VS-mode once (sret with hstatus.SPV and sstatus.SPP: a world switch in) and
  // leaves it by an ecall from VS, which the built-in SBI's medeleg sends to HS-mode (one out).
  const src = `
${START_HARTS(3)}
work:
  la t0, hs_trap
  csrw stvec, t0
  li t0, 0x80
  csrs 0x600, t0
  li t0, 0x100
  csrs sstatus, t0
  la t0, vs_code
  csrw sepc, t0
  sret
vs_code:
  ecall
  j bad
  .balign 4
hs_trap:
  csrr t0, scause
  li t1, 10
  bne t0, t1, bad
  la t0, done
  li t4, 1
  amoadd.w zero, t4, (t0)
  bnez s0, park
  li t1, 3
4:
  lw t2, 0(t0)
  bne t2, t1, 4b
  j ok
park:
  wfi
  j park
ok:
${EPILOGUE}
${DATA(["done"])}
`;
  let hyp: unknown;
  const out = await runLitmus(src, 3, "interp", undefined, {
    hypervisor: true,
    after: (vm) => (hyp = vm.stats().hypervisor),
  });
  assert.equal(out, "OK\n");
  assert.deepEqual(hyp, { vmEntries: 3, vmExits: 3, guestPageFaults: 0, virtualInsns: 0 });
});

test("vCPU threads: hot units get the optimizing tier the VMM thread's entry point registered", async (t) => {
  const why = toolchainMissing();
  if (why) return t.skip(why);
  // What `typevisor run` does at start (Liftoff, and TurboFan for hot units); each vCPU thread
  // registers the same compiler. The counter loops run millions of instructions per hart.
  setWasmTiering({ tierUp: false });
  let optimized = 0;
  const out = await runLitmus(COUNTERS(2), 2, "dbt", undefined, {
    engineOptions: { hotTier: 1_000_000 },
    after: (vm) => (optimized = vm.stats().dbt?.tieredUp ?? 0),
  });
  assert.equal(out, "OK\n");
  assert.ok(optimized >= 2, `units compiled by the optimizing tier: ${optimized}`);
});
