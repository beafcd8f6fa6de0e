// A virtual machine: one VirtBoard plus the run loop that drives its harts, serves the built-in
// SBI's hypercalls, idles harts that wait for interrupts, and turns the guest's poweroff / reboot /
// panic into a VM exit. The machine builder (MachineBuilder.ts) creates it for the CLI's `run` and
// `start` and for the control plane's VM processes, which use stats() and the event callbacks.
//
// The loop is single-threaded and cooperative: it runs each hart for a slice of instructions, then
// yields to Node's event loop often enough (every ~10 ms of wall time) that terminal input, disk I/O
// completions and timers are served while the guest is busy.
import { yieldToEventLoop } from "./EventLoop.js";
import { ExitReason } from "../riscv/ExitReason.js";
import { Cause } from "../riscv/Trap.js";
import { VirtBoard, type RebasableTimer, type VirtBoardOptions } from "./VirtBoard.js";
import { HartState } from "./Sbi.js";
import type { CharBackend } from "../devices/chardev/CharBackend.js";
import type { Hart } from "../riscv/Hart.js";
import type { HypervisorStats } from "../riscv/Hypervisor.js";
import { addDbtStats, emptyDbtStats, type DbtStats } from "../dbt/Dbt.js";
import type { EngineName } from "../dbt/Engine.js";
import { VcpuSet, type VcpuStats } from "./vcpu/VcpuSet.js";
import type { VcpuReport } from "./vcpu/Vcpu.js";
import { clockFrom, clockOrigin } from "./vcpu/VcpuShared.js";
import { VIRT } from "./VirtDeviceTree.js";
import { Irq } from "../riscv/Trap.js";

export type VmState = "created" | "running" | "paused" | "stopped";

export interface VmExit {
  /** poweroff: the guest powered off (status = its exit code); panic: guest kernel panic;
   *  stopped: stop() was called; error: the guest did something the machine can't continue from. */
  reason: "poweroff" | "panic" | "stopped" | "error";
  status: number;
  message?: string;
}

export interface VmStats {
  /** Instructions retired, all harts, since the VM started (across reboots). */
  instructions: number;
  wallSeconds: number;
  /** Guest MIPS over the VM's running time. */
  mips: number;
  reboots: number;
  /** The harts' CPU engine (--engine). */
  engine: EngineName;
  /** With --engine dbt: the translators' statistics summed over all harts and boots. */
  dbt?: DbtStats;
  /**
   * With the hypervisor extension (--hext): world switches of the harts' own hardware-assisted
   * guests (entries into V=1 by sret/mret, exits from it by traps), guest-page faults (G-stage
   * faults, the "two-level mapping" at work) and virtual-instruction exceptions, summed over all
   * harts (vCPU threads too) and boots.
   */
  hypervisor?: { vmEntries: number; vmExits: number; guestPageFaults: number; virtualInsns: number };
  /** SBI calls served by the built-in firmware, keyed "extension.function". */
  sbiCalls: Record<string, number>;
  /** Exits from guest execution to the VMM, by kind (hypercall, wfi, budget, halt). */
  exits: Record<string, number>;
  /** Exceptions taken (into the guest's handlers or to the VMM), by cause name. */
  exceptions: Record<string, number>;
  /** Interrupts taken, by name. */
  interrupts: Record<string, number>;
  /** With vCPU threads: each vCPU's instructions, exits and time running vs. waiting (this boot). */
  vcpus?: VcpuStats[];
  /**
   * Privileged operations the VMM emulated (the hart interprets every one of them: no guest
   * instruction runs natively), grouped into the lecture's classes (Popek & Goldberg 1974):
   *  - privileged: trap when executed unprivileged: every CSR access, sret, mret, sfence.vma, wfi;
   *  - control-sensitive: change the machine's configuration: sret/mret (privilege mode),
   *    sfence.vma (address translation), wfi (processor state), and CSR accesses (which may write);
   *  - behaviour-sensitive: results depend on the configuration: CSR accesses (reads of mode-
   *    dependent state).
   * On RISC-V every sensitive instruction is privileged (the ISA is classically virtualizable), so
   * the sensitive classes are subsets of the privileged one.
   */
  emulated: {
    privileged: Record<string, number>;
    controlSensitive: Record<string, number>;
    behaviourSensitive: Record<string, number>;
  };
}

/** sum (a new object when sum is undefined) += s. */
function addHypervisorStats(sum: VmStats["hypervisor"], s: HypervisorStats): NonNullable<VmStats["hypervisor"]> {
  const t = sum ?? { vmEntries: 0, vmExits: 0, guestPageFaults: 0, virtualInsns: 0 };
  t.vmEntries += s.vmEntries;
  t.vmExits += s.vmExits;
  t.guestPageFaults += s.guestPageFaults;
  t.virtualInsns += s.virtualInsns;
  return t;
}

const EXCEPTION_NAMES = [
  "instruction-misaligned",
  "instruction-access-fault",
  "illegal-instruction",
  "breakpoint",
  "load-misaligned",
  "load-access-fault",
  "store-misaligned",
  "store-access-fault",
  "ecall-from-U",
  "ecall-from-S",
  "ecall-from-VS",
  "ecall-from-M",
  "instruction-page-fault",
  "load-page-fault",
  "cause-14",
  "store-page-fault",
  "cause-16",
  "cause-17",
  "cause-18",
  "cause-19",
  "instruction-guest-page-fault",
  "load-guest-page-fault",
  "virtual-instruction",
  "store-guest-page-fault",
];
const INTERRUPT_NAMES = [
  "irq-0",
  "supervisor-software",
  "virtual-supervisor-software",
  "machine-software",
  "irq-4",
  "supervisor-timer",
  "virtual-supervisor-timer",
  "machine-timer",
  "irq-8",
  "supervisor-external",
  "virtual-supervisor-external",
  "machine-external",
  "supervisor-guest-external",
];

interface HartTotals {
  exceptions: number[];
  interrupts: number[];
  csrAccesses: number;
  mret: number;
  sret: number;
  sfenceVma: number;
  wfi: number;
}

function emptyTotals(): HartTotals {
  return {
    exceptions: new Array(32).fill(0),
    interrupts: new Array(16).fill(0),
    csrAccesses: 0,
    mret: 0,
    sret: 0,
    sfenceVma: 0,
    wfi: 0,
  };
}

function addHart(t: HartTotals, h: Hart | VcpuReport): void {
  const s = "hartId" in h ? h.stats : h;
  for (let i = 0; i < 32; i++) t.exceptions[i]! += s.exceptions[i] ?? 0;
  for (let i = 0; i < 16; i++) t.interrupts[i]! += s.interrupts[i] ?? 0;
  t.csrAccesses += s.csrAccesses;
  t.mret += s.mret;
  t.sret += s.sret;
  t.sfenceVma += s.sfenceVma;
  t.wfi += s.wfi;
}

export interface VmOptions extends Omit<VirtBoardOptions, "onEvent" | "vcpuThreads"> {
  /** Instructions per hart per scheduling slice (one run() of the hart; default 200,000). */
  slice?: number;
  /**
   * Run each hart on its own host thread (src/vmm/vcpu; default: when there is more than one hart),
   * or all harts round-robin on this thread (deterministic: the order of their slices is fixed).
   */
  vcpuThreads?: boolean;
  onStateChange?: (state: VmState) => void;
  onReboot?: () => void;
}

const PANIC_MARK = new TextEncoder().encode("end Kernel panic");

export class Vm {
  readonly board: VirtBoard;
  private _state: VmState = "created";
  private exitInfo: VmExit | undefined;
  private resumeWaiter: (() => void) | undefined;
  private wakeWaiter: (() => void) | undefined;
  private idle: boolean[] = [];
  private readonly slice: number;
  private instretBase = 0;
  private totalsBase = emptyTotals();
  /** Translator statistics of the boots before the last reboot. */
  private dbtBase = emptyDbtStats();
  /** Hypervisor-extension statistics of the boots before the current one (undefined: no H extension seen). */
  private hypBase: VmStats["hypervisor"];
  private reboots = 0;
  private startedAt = 0;
  private runningMs = 0;
  private readonly exits: Record<string, number> = { hypercall: 0, wfi: 0, budget: 0, halt: 0 };
  private panicMatch = 0;
  private panicSeen = false;
  private done: Promise<VmExit> | undefined;

  /** With vCPU threads: the running set (undefined between boots). */
  private vcpus: VcpuSet | undefined;
  /** With vCPU threads: wakes the VMM thread's loop (an event, an error, a panic, stop()). */
  private signal: (() => void) | undefined;
  readonly threaded: boolean;
  /** With vCPU threads: mtime's origin on the threads' shared clock (a restore moves it: rebase). */
  private timerOrigin = clockOrigin();
  /**
   * With vCPU threads: board.harts hold the threads' harts as they are (syncHarts, or the stop of
   * a VM) until the threads run again.
   */
  private hartsSynced = false;
  private readonly tap: CharBackend;
  private sbiBase = new Map<string, number>();
  /** With vCPU threads: RAM pages the threads of the boots that ended read in (lazy restore). */
  private pagedInBase = 0;
  /** With vCPU threads: the per-vCPU counters of the last boot that ended. */
  private lastVcpuStats: VcpuStats[] | undefined;

  constructor(private readonly opts: VmOptions) {
    this.threaded = opts.vcpuThreads ?? opts.config.vcpuThreads ?? opts.config.cpus > 1;
    // 200,000 on vCPU threads too: they look at their attention word every 4096 instructions
    // whatever the slice, so a longer one adds no latency, while every run() ends in an interpreted
    // budget tail and re-verifies the translated pages it enters (50,000 interpreted 72 M more
    // instructions of two cpu-workload.sh on 2 vCPUs: docs/BENCHMARKS.md, issue 17).
    this.slice = opts.slice ?? 200_000;
    const inner = opts.console;
    const tap: CharBackend = {
      write: (b) => this.consoleOut(b, (d) => inner.write(d)),
      attach: (sink) => inner.attach(sink),
      pause: () => inner.pause(),
      resume: () => inner.resume(),
      close: () => inner.close(),
    };
    this.tap = tap;
    this.board = new VirtBoard({
      ...opts,
      console: tap,
      ...(this.threaded
        ? {
            vcpuThreads: true,
            timer: opts.timer ?? this.threadTimer(),
            onEvent: () => this.signal?.(),
          }
        : {}),
    });
    this.board.wake = () => this.wake();
    this.idle = this.board.harts.map(() => false);
  }

  get state(): VmState {
    return this._state;
  }

  /** RAM pages a lazy restore read in on first touch, on every thread (GuestMemory.pagedIn). */
  get pagedIn(): number {
    let n = this.board.memory.pagedIn + this.pagedInBase;
    for (const r of this.vcpus?.reports ?? []) n += r?.pagedIn ?? 0;
    return n;
  }

  /**
   * The vCPU threads' mtime (one clock from timerOrigin, ThreadClock.ts) as the board's timer, which
   * a restore rebases: the threads started after it count from the moved origin.
   */
  private threadTimer(): RebasableTimer {
    const f = VIRT.timebase;
    let clock = clockFrom(this.timerOrigin, f);
    return {
      frequency: f,
      now: () => clock.now(),
      rebase: (ticks: number) => {
        this.timerOrigin = clockOrigin() - BigInt(Math.round((ticks * 1e9) / f));
        clock = clockFrom(this.timerOrigin, f);
      },
    };
  }

  /**
   * With vCPU threads and the VM paused (or stopped): waits until every vCPU thread is parked
   * between two instructions and copies the harts' state from the threads into board.harts and
   * board.hartStates (and the ACLINT's msip), where saveMachineState finds them as it finds the
   * single-thread loop's harts. The threads keep their own harts: resume() goes on from there.
   */
  async syncHarts(): Promise<void> {
    if (!this.threaded) return;
    const vcpus = this.vcpus;
    if (!vcpus) {
      if (this.hartsSynced || this._state === "created") return;
      throw new Error("the vCPU threads ended without handing over their harts' state");
    }
    if (this._state === "running") throw new Error("syncHarts: pause the VM first");
    await this.gatherHarts(vcpus);
  }

  private async gatherHarts(vcpus: VcpuSet): Promise<void> {
    await vcpus.park();
    const g = await vcpus.gather();
    const board = this.board;
    board.harts.forEach((h, i) => h.restoreState(g.harts[i]!));
    g.hartStates.forEach((st, i) => (board.hartStates[i] = st));
    board.clint.restoreState({ msip: g.msip });
    // The device lines as they are now (a hart's copy is from when it was asked for its state;
    // board.irq keeps these harts' lines current from here on).
    board.harts.forEach((h, i) => {
      const irq = vcpus.irqLevels(i);
      for (const b of [Irq.MSI, Irq.SEI, Irq.MEI]) h.setInterruptPending(b, ((irq >>> b) & 1) === 1);
    });
    this.hartsSynced = true;
  }

  /**
   * Every hart drops its fast caches and the translator's mirrors (on its own thread with vCPU
   * threads; resolves when all have): the StoreCacheFlush of a dirty-tracking round
   * (vmm/DirtyRound.ts). Between two boots on threads there is nothing to flush (new harts).
   */
  async flushStoreCaches(): Promise<void> {
    if (this.threaded) return this.vcpus?.flushStoreCaches();
    for (const h of this.board.harts) h.flushFast();
  }

  /**
   * Watches console output for the end of a Linux panic report ("---[ end Kernel panic - not
   * syncing: ... ]---", kernel/panic.c) so a panicked guest ends the VM instead of spinning forever.
   * Call it with everything the guest writes to any console (the UART tap and the SBI console).
   */
  consoleOut(bytes: Uint8Array, sink: (b: Uint8Array) => void): void {
    sink(bytes);
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i]!;
      if (b === PANIC_MARK[this.panicMatch]) {
        if (++this.panicMatch === PANIC_MARK.length) {
          this.panicSeen = true;
          this.panicMatch = 0;
          for (const h of this.board.harts) h.requestExit();
          this.signal?.();
        }
      } else {
        this.panicMatch = b === PANIC_MARK[0] ? 1 : 0;
      }
    }
  }

  private setState(s: VmState): void {
    this._state = s;
    this.opts.onStateChange?.(s);
  }

  private wake(): void {
    const w = this.wakeWaiter;
    if (w) {
      this.wakeWaiter = undefined;
      w();
    }
  }

  /** Starts the VM; the promise resolves when it exits. */
  start(): Promise<VmExit> {
    if (this.done) return this.done;
    this.startedAt = performance.now();
    this.setState("running");
    this.done = this.threaded ? this.loopThreaded() : this.loop();
    return this.done;
  }

  pause(): void {
    if (this._state === "running") {
      this.setState("paused");
      for (const h of this.board.harts) h.requestExit();
      if (this.threaded) {
        this.vcpus?.pause();
        this.runningMs += performance.now() - this.startedAt;
      }
    }
  }

  resume(): void {
    if (this._state !== "paused") return;
    this.setState("running");
    if (this.threaded) {
      this.startedAt = performance.now();
      // stop() of a paused VM: its vCPUs stay parked (a migrated VM's source must not run on after
      // its state was sent); the run loop gathers their harts and ends them.
      if (!this.exitInfo && this.vcpus) {
        this.hartsSynced = false;
        this.vcpus.resume();
      }
    }
    const r = this.resumeWaiter;
    this.resumeWaiter = undefined;
    r?.();
  }

  /** Stops the VM (as pulling the plug); start()'s promise resolves with reason "stopped". */
  stop(): void {
    if (this._state === "stopped" || this.exitInfo) return;
    this.exitInfo = { reason: "stopped", status: 0 };
    for (const h of this.board.harts) h.requestExit();
    this.resume();
    this.wake();
    this.signal?.();
  }

  stats(): VmStats {
    const harts = this.board.harts;
    let instructions = this.instretBase;
    const vcpus = this.vcpus?.vcpuStats();
    if (this.threaded) for (const v of vcpus ?? []) instructions += v.instructions;
    else for (const h of harts) instructions += h.instret;
    const wallSeconds = (this.runningMs + (this._state === "running" ? performance.now() - this.startedAt : 0)) / 1000;
    const t = emptyTotals();
    const base = this.totalsBase;
    for (let i = 0; i < 32; i++) t.exceptions[i] = base.exceptions[i]!;
    for (let i = 0; i < 16; i++) t.interrupts[i] = base.interrupts[i]!;
    t.csrAccesses = base.csrAccesses;
    t.mret = base.mret;
    t.sret = base.sret;
    t.sfenceVma = base.sfenceVma;
    t.wfi = base.wfi;
    if (this.threaded) for (const r of this.vcpus?.reports ?? []) r && addHart(t, r);
    else for (const h of harts) addHart(t, h);
    const named = (arr: number[], names: string[]) => {
      const out: Record<string, number> = {};
      arr.forEach((n, i) => {
        if (n) out[names[i] ?? `cause-${i}`] = n;
      });
      return out;
    };
    let dbt: DbtStats | undefined;
    if (this.board.engine === "dbt") {
      dbt = emptyDbtStats();
      addDbtStats(dbt, this.dbtBase);
      for (const d of this.board.translators) addDbtStats(dbt, d.stats);
      for (const r of this.vcpus?.reports ?? []) if (r?.dbt) addDbtStats(dbt, r.dbt);
    }
    let hypervisor = this.hypBase && { ...this.hypBase };
    const hyps = this.threaded ? (this.vcpus?.reports ?? []).map((r) => r?.hypervisor) : harts.map((h) => h.hyp?.stats);
    for (const hs of hyps) if (hs !== undefined) hypervisor = addHypervisorStats(hypervisor, hs);
    const exits = { ...this.exits };
    const sbiCalls = new Map(this.sbiBase);
    if (this.threaded) {
      for (const v of vcpus ?? []) for (const [k, n] of Object.entries(v.exits)) exits[k] = (exits[k] ?? 0) + n;
      for (const r of this.vcpus?.reports ?? [])
        for (const [k, n] of r?.sbiCalls ?? []) sbiCalls.set(k, (sbiCalls.get(k) ?? 0) + n);
    } else for (const [k, n] of this.board.sbi.calls) sbiCalls.set(k, (sbiCalls.get(k) ?? 0) + n);
    const ops = { csr: t.csrAccesses, sret: t.sret, mret: t.mret, "sfence.vma": t.sfenceVma, wfi: t.wfi };
    return {
      instructions,
      wallSeconds,
      mips: wallSeconds > 0 ? instructions / wallSeconds / 1e6 : 0,
      reboots: this.reboots,
      engine: this.board.engine,
      ...(dbt ? { dbt } : {}),
      ...(hypervisor ? { hypervisor } : {}),
      sbiCalls: Object.fromEntries(sbiCalls),
      exits,
      ...(this.threaded ? { vcpus: vcpus ?? this.lastVcpuStats ?? [] } : {}),
      exceptions: named(t.exceptions, EXCEPTION_NAMES),
      interrupts: named(t.interrupts, INTERRUPT_NAMES),
      emulated: {
        privileged: ops,
        controlSensitive: { sret: t.sret, mret: t.mret, "sfence.vma": t.sfenceVma, wfi: t.wfi, csr: t.csrAccesses },
        behaviourSensitive: { csr: t.csrAccesses },
      },
    };
  }

  private async loop(): Promise<VmExit> {
    const board = this.board;
    let lastYield = performance.now();
    try {
      for (;;) {
        if (this.exitInfo) break;
        if (this._state === "paused") {
          this.runningMs += performance.now() - this.startedAt;
          await new Promise<void>((r) => (this.resumeWaiter = r));
          this.startedAt = performance.now();
          continue;
        }
        let anyBusy = false;
        const harts = board.harts;
        for (let h = 0; h < harts.length; h++) {
          if (board.hartStates[h] !== HartState.Started) continue;
          const hart = harts[h]!;
          const r = hart.run(this.slice);
          if (r === ExitReason.Trap) {
            if (hart.exitCause === Cause.EcallS && board.builtinSbi) {
              this.exits.hypercall!++;
              board.sbi.handle(h, hart);
              if (board.hartStates[h] === HartState.Started) hart.setPc(hart.getPc() + 4n);
              anyBusy = true;
            } else {
              this.exitInfo = {
                reason: "error",
                status: 1,
                message: `hart ${h}: unexpected exception cause ${hart.exitCause} (tval 0x${BigInt(hart.exitTval).toString(16)}) at pc 0x${hart.getPc().toString(16)}`,
              };
            }
          } else if (r === ExitReason.Wfi) {
            this.exits.wfi!++;
            this.idle[h] = true;
          } else if (r === ExitReason.Halt) {
            this.exits.halt!++;
            anyBusy = true;
          } else {
            this.exits.budget!++;
            this.idle[h] = false;
            anyBusy = true;
          }
        }
        if (this.panicSeen) {
          this.exitInfo = {
            reason: "panic",
            status: 1,
            message: "the guest kernel panicked (see the console output above)",
          };
          break;
        }
        const ev = board.pendingEvent;
        if (ev) {
          if (ev.kind === "poweroff") {
            this.exitInfo = { reason: "poweroff", status: ev.code };
            break;
          }
          for (const hart of harts) {
            this.instretBase += hart.instret;
            addHart(this.totalsBase, hart);
            if (hart.hyp) this.hypBase = addHypervisorStats(this.hypBase, hart.hyp.stats);
          }
          for (const d of board.translators) addDbtStats(this.dbtBase, d.stats);
          this.reboots++;
          if (!this.rebootBoard()) break;
          this.idle = board.harts.map(() => false);
          this.opts.onReboot?.();
          continue;
        }
        if (this.exitInfo) break;
        board.rtc.poll();
        if (!anyBusy) {
          await this.sleepUntilInterrupt();
          lastYield = performance.now();
        } else if (performance.now() - lastYield > 10) {
          await yieldToEventLoop();
          lastYield = performance.now();
        }
      }
    } catch (e) {
      this.exitInfo = { reason: "error", status: 1, message: `machine error: ${(e as Error).stack ?? String(e)}` };
    }
    this.runningMs += performance.now() - this.startedAt;
    this._state = "stopped";
    this.opts.onStateChange?.("stopped");
    await Promise.all(board.virtio.map((t) => t.idle()));
    return this.exitInfo!;
  }

  /**
   * The run loop with vCPU threads: the harts run in workers (vcpu/VcpuSet.ts); this thread serves
   * their MMIO and the devices from its event loop and waits here for the end of a boot (poweroff,
   * reboot, panic, an error or stop()).
   */
  private async loopThreaded(): Promise<VmExit> {
    const board = this.board;
    // The goldfish RTC's alarm is polled (the single-thread loop polls it every slice).
    const rtcPoll = setInterval(() => board.rtc.poll(), 10);
    try {
      for (;;) {
        if (this.exitInfo) break;
        const vcpus = new VcpuSet(board, {
          slice: this.slice,
          timerOrigin: this.timerOrigin,
          consoleWrite: (b) => {
            board.uart.flushTx(); // keep SBI and UART output in order
            this.tap.write(b);
          },
          onEvent: (ev) => {
            board.pendingEvent ??= ev;
            this.signal?.();
          },
          onError: (message) => {
            this.exitInfo ??= { reason: "error", status: 1, message };
            this.signal?.();
          },
        });
        this.vcpus = vcpus;
        this.hartsSynced = false;
        if (this._state === "paused") vcpus.pause();
        await new Promise<void>((resolve) => {
          this.signal = resolve;
          if (this.exitInfo || this.panicSeen || board.pendingEvent) resolve();
        });
        this.signal = undefined;
        // stop(): the threads hand their harts to board.harts before they end, so a snapshot of the
        // stopped VM (run --snapshot-on-exit) has them. Set while awaiting (flow analysis cannot see it).
        if ((this.exitInfo as VmExit | undefined)?.reason === "stopped" && !this.panicSeen && !board.pendingEvent) {
          vcpus.pause();
          await this.gatherHarts(vcpus).catch(() => {});
        }
        await vcpus.stop();
        // Keep the counters of this boot (the next boot's threads start from zero).
        this.lastVcpuStats = vcpus.vcpuStats();
        for (const v of this.lastVcpuStats) {
          this.instretBase += v.instructions;
          for (const [k, n] of Object.entries(v.exits)) this.exits[k] = (this.exits[k] ?? 0) + n;
        }
        for (const r of vcpus.reports) {
          if (!r) continue;
          addHart(this.totalsBase, r);
          if (r.dbt) addDbtStats(this.dbtBase, r.dbt);
          this.pagedInBase += r.pagedIn;
          if (r.hypervisor) this.hypBase = addHypervisorStats(this.hypBase, r.hypervisor);
          for (const [k, n] of r.sbiCalls) this.sbiBase.set(k, (this.sbiBase.get(k) ?? 0) + n);
        }
        this.vcpus = undefined;
        if (this.panicSeen) {
          this.exitInfo ??= {
            reason: "panic",
            status: 1,
            message: "the guest kernel panicked (see the console output above)",
          };
          break;
        }
        // Set by the vCPU threads' callbacks while this loop awaited (flow analysis cannot see it).
        if ((this.exitInfo as VmExit | undefined) !== undefined) break;
        const ev = board.pendingEvent;
        if (ev?.kind === "poweroff") {
          this.exitInfo = { reason: "poweroff", status: ev.code };
          break;
        }
        if (ev?.kind === "reboot") {
          this.reboots++;
          if (!this.rebootBoard()) break;
          this.opts.onReboot?.();
        }
      }
    } catch (e) {
      this.exitInfo ??= { reason: "error", status: 1, message: `machine error: ${(e as Error).stack ?? String(e)}` };
      await this.vcpus?.stop().catch(() => {});
    }
    clearInterval(rtcPoll);
    if (this._state === "running") this.runningMs += performance.now() - this.startedAt;
    this._state = "stopped";
    this.opts.onStateChange?.("stopped");
    await Promise.all(board.virtio.map((t) => t.idle()));
    return this.exitInfo!;
  }

  /**
   * The power-on reset of a guest's reboot; false (with the exit set) when the board cannot boot
   * again, e.g. the kernel file it reads again changed or is gone (BootFile.ts): the message names it.
   */
  private rebootBoard(): boolean {
    try {
      this.board.reset();
      return true;
    } catch (e) {
      this.exitInfo = { reason: "error", status: 1, message: `the guest rebooted, but ${(e as Error).message}` };
      return false;
    }
  }

  /** Every running hart waits in wfi: sleep until the earliest timer deadline or a device interrupt. */
  private async sleepUntilInterrupt(): Promise<void> {
    const board = this.board;
    const timer = board.timer;
    let deadline = Number.POSITIVE_INFINITY;
    for (let h = 0; h < board.harts.length; h++) {
      if (board.hartStates[h] !== HartState.Started) continue;
      deadline = Math.min(deadline, board.harts[h]!.nextTimerDeadline());
    }
    const ms = Math.max(0, Math.min(50, ((deadline - timer.now()) / timer.frequency) * 1000));
    if (ms < 0.05) {
      await yieldToEventLoop();
      return;
    }
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.wakeWaiter = undefined;
        resolve();
      }, ms);
      this.wakeWaiter = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }
}
