// The Vm run loop and the virt board with small S-mode programs standing in for a kernel: they
// check the boot protocol (a0/a1), make hypercalls to the built-in SBI, use the timer and devices,
// and end the VM by each of the ways a guest can.
import { test } from "node:test";
import assert from "node:assert/strict";
import { assemble, toolchainMissing } from "../riscv/asm.js";
import { Vm, type VmExit } from "../../src/vmm/Vm.js";
import { MemoryBackend } from "../../src/devices/chardev/MemoryBackend.js";
import { DEFAULT_ENGINE, type EngineName } from "../../src/dbt/Engine.js";

const KERNEL_BASE = 0x80200000;

// Prints the string at label `msg` (length msglen) with SBI DBCN console_write.
const PRINT = (text: string) => `
  li a7, 0x4442434E
  li a6, 0
  li a0, ${Buffer.byteLength(text.replace(/\\n/g, "\n"))}
  la a1, msg
  li a2, 0
  ecall
`;
const SHUTDOWN = `
  li a7, 0x53525354
  li a6, 0
  li a0, 0
  li a1, 0
  ecall
1: j 1b
`;
const msg = (s: string) => `
msg: .ascii "${s}"
`;

async function boot(
  src: string,
  opts: { cpus?: number; stopAfterReboot?: boolean; engine?: EngineName } = {},
): Promise<{ exit: VmExit; out: string; vm: Vm }> {
  const kernel = assemble(src, KERNEL_BASE);
  const console = new MemoryBackend();
  let vm: Vm | undefined = undefined;
  vm = new Vm({
    config: {
      memory: 32 << 20,
      cpus: opts.cpus ?? 1,
      kernel: { name: "test-kernel", bytes: kernel },
      append: "tv.test",
      engine: opts.engine,
    },
    console,
    onReboot: opts.stopAfterReboot ? () => vm!.stop() : undefined,
  });
  const timer = setTimeout(() => vm!.stop(), 20_000);
  const exit = await vm.start();
  clearTimeout(timer);
  vm.board.uart.flushTx();
  return { exit, out: console.text(), vm };
}

test("the kernel starts in S-mode with a0 = hart id and a1 = the DTB; SBI shutdown ends the VM with status 0", async (t) => {
  const why = toolchainMissing();
  if (why) return t.skip(why);
  const { exit, out, vm } = await boot(`
  bnez a0, bad
  lwu t0, 0(a1)
  li t1, 0xedfe0dd0          # FDT magic 0xd00dfeed, big-endian in memory
  bne t0, t1, bad
  csrr t2, sstatus           # readable: we are in S-mode (an M-only CSR would trap)
  ${PRINT("hello from S-mode\\n")}
  ${SHUTDOWN}
bad:
  li a7, 0x53525354
  li a6, 0
  li a0, 0
  li a1, 1                   # reason: system failure
  ecall
  ${msg("hello from S-mode\\n")}
`);
  assert.deepEqual(exit, { reason: "poweroff", status: 0 });
  assert.equal(out, "hello from S-mode\n");
  const s = vm.stats();
  assert.equal(s.sbiCalls["dbcn.console_write"], 1);
  assert.equal(s.sbiCalls["srst.system_reset"], 1);
  assert.equal(s.exceptions["ecall-from-S"], 2);
  assert.ok(s.instructions > 10 && s.instructions < 100);
});

test("the syscon device powers off with the failure code the guest wrote", async (t) => {
  const why = toolchainMissing();
  if (why) return t.skip(why);
  const { exit } = await boot(`
  li t0, 0x100000
  li t1, (5 << 16) | 0x3333
  sw t1, 0(t0)
1: j 1b
`);
  assert.deepEqual(exit, { reason: "poweroff", status: 5 });
});

test("a kernel panic report on the console ends the VM with a non-zero status", async (t) => {
  const why = toolchainMissing();
  if (why) return t.skip(why);
  const { exit, out } = await boot(`
  ${PRINT("Kernel panic - not syncing: test\\n---[ end Kernel panic - not syncing: test ]---\\n")}
1: j 1b
  ${msg("Kernel panic - not syncing: test\\n---[ end Kernel panic - not syncing: test ]---\\n")}
`);
  assert.equal(exit.reason, "panic");
  assert.notEqual(exit.status, 0);
  assert.match(out, /end Kernel panic/);
});

test("SBI reboot restarts the machine from a fresh RAM image (the guest's writes are gone)", async (t) => {
  const why = toolchainMissing();
  if (why) return t.skip(why);
  const { exit, vm } = await boot(
    `
  la t0, flag
  lw t1, 0(t0)
  bnez t1, bad               # after a reset the flag must be 0 again
  li t1, 1
  sw t1, 0(t0)
  li a7, 0x53525354
  li a6, 0
  li a0, 1                   # cold reboot
  li a1, 0
  ecall
bad: j bad
.align 3
flag: .word 0
`,
    { stopAfterReboot: true },
  );
  assert.equal(exit.reason, "stopped");
  assert.equal(vm.stats().reboots, 1);
});

test("SBI set_timer raises the supervisor timer interrupt; the hart idles in wfi until it fires", async (t) => {
  const why = toolchainMissing();
  if (why) return t.skip(why);
  const { exit, out, vm } = await boot(`
  li t0, 1 << 5
  csrs sie, t0               # STIE; sstatus.SIE stays 0, so wfi wakes without trapping
  rdtime t1
  li t2, 200000              # 20 ms at 10 MHz
  add a0, t1, t2
  li a7, 0x54494D45          # TIME set_timer
  li a6, 0
  ecall
wait:
  wfi
  csrr t3, sip
  andi t3, t3, 1 << 5
  beqz t3, wait
  rdtime t4
  sub t4, t4, t1
  li t5, 200000
  bltu t4, t5, early
  ${PRINT("tick\\n")}
  ${SHUTDOWN}
early:
  li t0, 0x100000
  li t1, (7 << 16) | 0x3333
  sw t1, 0(t0)
1: j 1b
  ${msg("tick\\n")}
`);
  assert.deepEqual(exit, { reason: "poweroff", status: 0 });
  assert.equal(out, "tick\n");
  assert.equal(vm.stats().sbiCalls["time.set_timer"], 1);
});

test("HSM hart_start brings up a second hart with its opaque value in a1", async (t) => {
  const why = toolchainMissing();
  if (why) return t.skip(why);
  const { exit, out } = await boot(
    `
  bnez a0, secondary
  li a7, 0x48534D            # HSM hart_start(1, secondary, 0x1234)
  li a6, 0
  li a0, 1
  la a1, secondary
  li a2, 0x1234
  ecall
  bnez a0, fail
1: j 1b                      # hart 0 spins; hart 1 ends the VM
secondary:
  li t0, 0x1234
  bne a1, t0, fail
  ${PRINT("hart 1 up\\n")}
  ${SHUTDOWN}
fail:
  li t0, 0x100000
  li t1, (9 << 16) | 0x3333
  sw t1, 0(t0)
2: j 2b
  ${msg("hart 1 up\\n")}
`,
    { cpus: 2 },
  );
  assert.deepEqual(exit, { reason: "poweroff", status: 0 });
  assert.equal(out, "hart 1 up\n");
});

test("a device interrupt reaches the hart through the PLIC's S-mode context (UART THRE → source 10 → SEIP)", async (t) => {
  const why = toolchainMissing();
  if (why) return t.skip(why);
  const { exit, out } = await boot(`
  li t0, 0x0c000000
  li t1, 1
  sw t1, 40(t0)              # priority[10] = 1
  li t0, 0x0c002080          # enable bits of context 1 (hart 0, S-mode)
  li t1, 1 << 10
  sw t1, 0(t0)
  li t0, 0x0c201000          # threshold of context 1 = 0
  sw zero, 0(t0)
  li t0, 1 << 9
  csrs sie, t0               # SEIE
  li t0, 0x10000000
  li t1, 2
  sb t1, 1(t0)               # UART IER = THRE interrupt
wait:
  wfi
  csrr t2, sip
  andi t2, t2, 1 << 9
  beqz t2, wait
  li t0, 0x0c201004
  lw t3, 0(t0)               # claim
  li t4, 10
  bne t3, t4, bad
  li t0, 0x10000000
  sb zero, 1(t0)             # IER = 0: the UART drops its line
  li t0, 0x0c201004
  sw t3, 0(t0)               # complete
  csrr t2, sip
  andi t2, t2, 1 << 9
  bnez t2, bad               # SEIP must be clear again
  ${PRINT("irq 10\\n")}
  ${SHUTDOWN}
bad:
  li t0, 0x100000
  li t1, (3 << 16) | 0x3333
  sw t1, 0(t0)
1: j 1b
  ${msg("irq 10\\n")}
`);
  assert.deepEqual(exit, { reason: "poweroff", status: 0 });
  assert.equal(out, "irq 10\n");
});

test("pause() freezes the guest (no instructions retire), resume() continues, stop() ends it", async (t) => {
  const why = toolchainMissing();
  if (why) return t.skip(why);
  const states: string[] = [];
  const vm = new Vm({
    config: {
      memory: 32 << 20,
      cpus: 1,
      kernel: { name: "spin", bytes: assemble("1: addi t0, t0, 1\n j 1b", KERNEL_BASE) },
      append: "",
    },
    console: new MemoryBackend(),
    onStateChange: (s) => states.push(s),
  });
  const done = vm.start();
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  await sleep(100);
  vm.pause();
  await sleep(50);
  const a = vm.stats().instructions;
  await sleep(100);
  assert.equal(vm.stats().instructions, a, "no progress while paused");
  assert.equal(vm.state, "paused");
  vm.resume();
  await sleep(100);
  assert.ok(vm.stats().instructions > a, "progress after resume");
  vm.stop();
  assert.deepEqual(await done, { reason: "stopped", status: 0 });
  assert.deepEqual(states, ["running", "paused", "running", "stopped"]);
});

test("engine dbt: every hart gets a translator, re-created on reboot, and stats sum them over boots", async (t) => {
  const why = toolchainMissing();
  if (why) return t.skip(why);
  // A hot loop (translated after 32 dispatches), then SBI cold reboot; the VM is stopped once the
  // board has re-created its harts.
  const kernel = assemble(
    `
  li t0, 200000
1: addi t0, t0, -1
  bnez t0, 1b
  li a7, 0x53525354
  li a6, 0
  li a0, 1
  li a1, 0
  ecall
2: j 2b
`,
    KERNEL_BASE,
  );
  let vm: Vm | undefined = undefined;
  const before: unknown[] = [];
  vm = new Vm({
    // The single-thread path: its harts and translators live on this thread (vCPU threads have theirs in workers).
    config: {
      memory: 32 << 20,
      cpus: 2,
      kernel: { name: "test-kernel", bytes: kernel },
      append: "",
      engine: "dbt",
      vcpuThreads: false,
    },
    console: new MemoryBackend(),
    onReboot: () => vm!.stop(),
  });
  const board = vm.board;
  assert.equal(board.memory.engineBytes > 0, true, "the GuestMemory has an engine area");
  assert.deepEqual(
    board.translators.map((d) => d.hart),
    board.harts,
    "one translator per hart, in hart order",
  );
  before.push(...board.translators);
  const timer = setTimeout(() => vm!.stop(), 20_000);
  const exit = await vm.start();
  clearTimeout(timer);
  assert.equal(exit.reason, "stopped");
  assert.deepEqual(
    board.translators.map((d) => d.hart),
    board.harts,
    "the re-created harts have translators too",
  );
  for (const d of board.translators) assert.ok(!before.includes(d), "a new translator for each new hart");
  const s = vm.stats();
  assert.equal(s.reboots, 1);
  assert.equal(s.engine, "dbt");
  assert.ok(s.dbt, "the translators' statistics are in the VM's");
  // The first boot's translated loop iterations are kept across the reboot.
  assert.ok(s.dbt.translatedInsns > 300_000, `translated ${s.dbt.translatedInsns} instructions`);
  assert.ok(s.instructions >= s.dbt.translatedInsns);
});

test("engine interp: no engine area, no translators, no translator stats; no engine given = DEFAULT_ENGINE", async (t) => {
  const why = toolchainMissing();
  if (why) return t.skip(why);
  assert.equal((await boot(`${SHUTDOWN}`)).vm.board.engine, DEFAULT_ENGINE);
  const { exit, vm } = await boot(`${SHUTDOWN}`, { engine: "interp" });
  assert.deepEqual(exit, { reason: "poweroff", status: 0 });
  assert.equal(vm.board.engine, "interp");
  assert.equal(vm.board.translators.length, 0);
  assert.equal(vm.board.memory.engineBytes, 0);
  assert.equal(vm.stats().engine, "interp");
  assert.equal(vm.stats().dbt, undefined);
});
