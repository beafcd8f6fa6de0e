// One vCPU on its own host thread (a worker_threads worker; VcpuWorker.ts is the entry point): a
// hart over the VM's shared WebAssembly.Memory with its CPU engine, the built-in SBI served right
// here, the ACLINT served from shared memory, and every other MMIO access sent to the VMM thread's
// device models through the MMIO channel. Other threads reach it through its attention word
// (VcpuShared.ts): device interrupts, IPIs, remote fences, hart start, pause and stop.
import { Hart, PRIV_M } from "../../riscv/Hart.js";
import { ExitReason } from "../../riscv/ExitReason.js";
import { Cause, Irq } from "../../riscv/Trap.js";
import { CSR_MIP, CSR_STIMECMP } from "../../riscv/Csr.js";
import type { HypervisorStats } from "../../riscv/Hypervisor.js";
import { GuestMemory } from "../../memory/GuestMemory.js";
import { IoBus, type BusDevice } from "../../memory/IoBus.js";
import { Aclint } from "../../devices/Aclint.js";
import { useEngine, type EngineName } from "../../dbt/Engine.js";
import type { Dbt, DbtOptions, DbtStats } from "../../dbt/Dbt.js";
import { HartState, Sbi, type SbiPlatform } from "../Sbi.js";
import type { BoardEvent } from "../VirtBoard.js";
import { enterSupervisor } from "../HartSetup.js";
import { MmioClient } from "./MmioChannel.js";
import type { HartSavedState } from "../../riscv/HartPersist.js";
import {
  A_FENCE_I,
  A_IRQ,
  A_MTIMECMP,
  A_SAVE,
  A_SSIP_CLEAR,
  A_SSIP_SET,
  A_START,
  A_STORES,
  A_TLB,
  ATTN,
  clockFrom,
  FENCE_DONE,
  FENCE_REQ,
  G_EPOCH,
  IRQ,
  MTIMECMP,
  OPAQUE,
  PARKED,
  RUN_PAUSE,
  RUN_STOP,
  S_BUDGET,
  S_HALT,
  S_HYPERCALL,
  S_INSTRET,
  S_MMIO,
  S_RUN_MS,
  S_WAIT_MS,
  S_WFI,
  START,
  STAT_WORDS,
  STATE,
  VcpuShared,
} from "./VcpuShared.js";

/** How the VMM thread starts a vCPU thread (the worker's workerData; structured-cloneable). */
export interface VcpuInit {
  hart: number;
  harts: number;
  memory: WebAssembly.Memory;
  /** The VMM thread's dirty log (GuestMemory.dirtyLog): this thread's harts mark their stores in it. */
  dirtyLog: SharedArrayBuffer;
  ramBase: number;
  ramSize: number;
  engineBytes: number;
  ctl: SharedArrayBuffer;
  stats: SharedArrayBuffer;
  mmio: SharedArrayBuffer;
  engine: EngineName;
  engineOptions: DbtOptions;
  /** The harts implement the H extension (VirtMachineConfig.hypervisor). */
  hypervisor: boolean;
  timerOrigin: bigint;
  frequency: number;
  /** The VMM thread's device windows (everything but the CLINT). */
  devices: { base: number; size: number; name: string }[];
  clint: { base: number; size: number };
  /** sbi: built-in SBI, hart 0 enters the kernel in S-mode; bios: every hart enters the firmware in M-mode. */
  boot: { kind: "sbi"; entry: number; dtb: number } | { kind: "bios"; entry: number; dtb: number; info: number };
  /**
   * A restore: the hart starts from this saved state instead of booting (its SBI state, mtimecmp,
   * msip and device interrupt levels are in the shared block already, VcpuSet).
   */
  resume?: HartSavedState;
  /**
   * A lazy restore not finished (GuestMemory.absent): the snapshot file and the shared marks. The
   * thread reads the pages it touches first from the file itself (VcpuWorker.ts opens it).
   */
  lazyRam?: { file: string; absent: SharedArrayBuffer };
  /** Instructions per run() between two looks at the attention word and the statistics. */
  slice: number;
  /**
   * The VMM thread has the translator's optimizing tier (src/dbt/TierUp.ts): a tier-up function the
   * entry point registered on its own thread, which the vCPU thread's entry point registers again.
   */
  optimizingTier: boolean;
}

/** Counters a vCPU thread reports to the VMM thread (every ~250 ms and when it stops). */
export interface VcpuReport {
  hart: number;
  exceptions: number[];
  interrupts: number[];
  csrAccesses: number;
  mret: number;
  sret: number;
  sfenceVma: number;
  wfi: number;
  sbiCalls: [string, number][];
  /** RAM pages this thread read in from a lazy restore's file (GuestMemory.pagedIn). */
  pagedIn: number;
  dbt?: DbtStats;
  hypervisor?: HypervisorStats;
}

/** Messages from a vCPU thread. */
export type VcpuMessage =
  | { kind: "console"; bytes: Uint8Array }
  | { kind: "event"; event: BoardEvent }
  | { kind: "error"; message: string }
  | { kind: "report"; report: VcpuReport }
  /** The parked hart's architectural state (asked for with A_SAVE). */
  | { kind: "state"; hart: number; state: HartSavedState };

/** A device window on the VMM thread, reached through the MMIO channel. */
class RemoteDevice implements BusDevice {
  constructor(
    readonly name: string,
    private readonly base: number,
    private readonly ch: MmioClient,
  ) {}
  read(offset: number, size: 1 | 2 | 4): number {
    return this.ch.load(this.base + offset, size) ? this.ch.lo : 0;
  }
  write(offset: number, size: 1 | 2 | 4, value: number): void {
    this.ch.store(this.base + offset, size, value, 0);
  }
  read64(offset: number): bigint {
    if (!this.ch.load(this.base + offset, 8)) return 0n;
    return (BigInt(this.ch.hi >>> 0) << 32n) | BigInt(this.ch.lo >>> 0);
  }
  write64(offset: number, value: bigint): void {
    this.ch.store(this.base + offset, 8, Number(BigInt.asIntN(32, value)), Number(BigInt.asIntN(32, value >> 32n)));
  }
}

/** A slice that takes longer than this (ms) is halved, down to MIN_SLICE instructions (see run()). */
const SLOW_SLICE_MS = 50;
const MIN_SLICE = 4096;

/**
 * Opens a lazy restore's snapshot file on this thread: reads page `page` of RAM into `ram`
 * (SnapshotReader.lazyRam), and closes the file. Host-specific (Node's VcpuWorker.ts gives it).
 */
export type LazyPageSource = (file: string, ram: Uint8Array) => { pageIn: (page: number) => void; close: () => void };

export class Vcpu {
  readonly hart: Hart;
  private readonly sh: VcpuShared;
  private readonly h: number;
  private readonly attnIdx: number;
  private readonly sbi: Sbi;
  private readonly dbt: Dbt | undefined;
  private readonly mmio: MmioClient;
  private readonly memory: GuestMemory;
  private readonly timer: { frequency: number; now(): number };
  /** Remote-fence tickets to wait for after the current SBI call: [hart, ticket]. */
  private readonly fences: [number, number][] = [];
  private lastReport = 0;

  constructor(
    private readonly init: VcpuInit,
    private readonly send: (m: VcpuMessage) => void,
    lazyPages?: LazyPageSource,
  ) {
    const h = init.hart;
    this.h = h;
    const sh = new VcpuShared(init.harts, init.ctl, init.stats);
    this.sh = sh;
    this.attnIdx = sh.w(h, ATTN);
    this.timer = clockFrom(init.timerOrigin, init.frequency);
    const memory = new GuestMemory({
      base: init.ramBase,
      size: init.ramSize,
      engineBytes: init.engineBytes,
      wasmMemory: init.memory,
      dirtyLog: init.dirtyLog,
    });
    this.memory = memory;
    if (init.lazyRam) {
      if (!lazyPages) throw new Error("a lazy restore's pages cannot be read on this host's vCPU threads");
      const src = lazyPages(init.lazyRam.file, memory.bytes);
      memory.beginLazy(new Uint8Array(init.lazyRam.absent), src.pageIn, src.close);
    }
    this.mmio = new MmioClient(init.mmio, h, () => sh.run() === RUN_STOP);
    const bus = new IoBus("mmio");
    for (const d of init.devices) bus.map(d.base, d.size, new RemoteDevice(d.name, d.base, this.mmio));
    // The ACLINT is served on this thread: mtime is the shared clock, mtimecmp and msip live in
    // shared memory; a write to another hart's register pokes that hart.
    const clint = new Aclint(
      this.timer,
      Array.from({ length: init.harts }, (_, t) => ({
        setMsip: (l: boolean) => sh.setIrq(t, Irq.MSI, l),
        getMtimecmp: () => BigInt.asUintN(64, Atomics.load(sh.ctl64, sh.d(t, MTIMECMP))),
        setMtimecmp: (v: bigint) => {
          Atomics.store(sh.ctl64, sh.d(t, MTIMECMP), BigInt.asIntN(64, v));
          if (t === h) this.hart.mtimecmp = v;
          else sh.poke(t, A_MTIMECMP);
        },
      })),
      sh.msip,
    );
    bus.map(init.clint.base, init.clint.size, clint);
    const hart = new Hart({ memory, bus, hartId: h, timer: this.timer, hypervisor: init.hypervisor });
    this.hart = hart;
    hart.smp = true;
    hart.attention = sh.ctl;
    hart.attentionIndex = this.attnIdx;
    // Translated AMOs are wasm atomics and FENCE an atomic.fence, like the interpreter's host atomics.
    this.dbt = useEngine(hart, init.engine, { ...init.engineOptions, atomics: true });
    this.sbi = new Sbi(this.platform(memory));
    if (init.resume) hart.restoreState(init.resume);
    else this.boot();
  }

  private boot(): void {
    const b = this.init.boot;
    const hart = this.hart;
    // The VMM thread set every hart's SBI state before starting the threads (VcpuSet), so a
    // hart_start may already be waiting in this hart's attention word.
    if (b.kind === "sbi") {
      if (this.h === 0) enterSupervisor(hart, BigInt(b.entry), BigInt(b.dtb));
    } else {
      // Every hart enters the firmware (it picks a boot hart by itself): OpenSBI fw_dynamic.
      hart.priv = PRIV_M;
      hart.setPc(BigInt(b.entry));
      hart.setX(10, BigInt(this.h));
      hart.setX(11, BigInt(b.dtb));
      hart.setX(12, BigInt(b.info));
    }
  }

  private setState(s: HartState): void {
    Atomics.store(this.sh.ctl, this.sh.w(this.h, STATE), s);
  }

  private state(t: number): HartState {
    return Atomics.load(this.sh.ctl, this.sh.w(t, STATE)) as HartState;
  }

  private setSsip(level: boolean): void {
    const hart = this.hart;
    const mip = hart.readCsr(CSR_MIP) & ~(1n << BigInt(Irq.SEI));
    hart.writeCsr(CSR_MIP, level ? mip | (1n << BigInt(Irq.SSI)) : mip & ~(1n << BigInt(Irq.SSI)));
  }

  /** Asks hart t for a remote fence (waited for in waitFences, after the SBI call). */
  private requestFence(t: number, bits: number): void {
    const sh = this.sh;
    const ticket = Atomics.add(sh.ctl, sh.w(t, FENCE_REQ), 1) + 1;
    this.fences.push([t, ticket]);
    sh.poke(t, bits);
  }

  private platform(memory: GuestMemory): SbiPlatform {
    const sh = this.sh;
    const self = this.h;
    return {
      memory,
      hartCount: this.init.harts,
      mvendorid: 0n,
      marchid: 0n,
      mimpid: 0n,
      consoleWrite: (b) => this.send({ kind: "console", bytes: b.slice() }),
      consoleRead: () => new Uint8Array(0),
      setTimer: (_h, value) => {
        // With Sstc the supervisor timer is stimecmp (Sstc spec §1), as on the single-thread path.
        this.hart.writeCsr(CSR_STIMECMP, value);
      },
      sendIpi: (t) => {
        if (t === self) this.setSsip(true);
        else sh.poke(t, A_SSIP_SET);
      },
      clearIpi: (t) => {
        if (t === self) this.setSsip(false);
        else sh.poke(t, A_SSIP_CLEAR);
      },
      remoteFence: (t, kind) => {
        if (t === self) {
          if (kind === "vma") this.hart.flushTlb();
          // fence.i: the translator re-verifies every page against its bytes after each run().
        } else this.requestFence(t, kind === "vma" ? A_TLB : A_FENCE_I);
      },
      hartState: (t) => this.state(t),
      hartStart: (t, start, opaque) => {
        Atomics.store(sh.ctl64, sh.d(t, START), BigInt.asIntN(64, start));
        Atomics.store(sh.ctl64, sh.d(t, OPAQUE), BigInt.asIntN(64, opaque));
        Atomics.store(sh.ctl, sh.w(t, STATE), HartState.StartPending);
        sh.poke(t, A_START);
      },
      hartStop: () => this.setState(HartState.Stopped),
      hartSuspend: () => {
        // Retentive suspend behaves as wfi.
      },
      systemReset: (type, reason) =>
        this.send({
          kind: "event",
          event: type === 0 ? { kind: "poweroff", code: reason === 0 ? 0 : 1 } : { kind: "reboot" },
        }),
    };
  }

  /** Carries out what other threads asked of this hart (the attention bits). */
  private attend(bits: number): void {
    const sh = this.sh,
      h = this.h,
      hart = this.hart;
    if (bits & A_IRQ) {
      const irq = Atomics.load(sh.ctl, sh.w(h, IRQ));
      for (const b of [Irq.MSI, Irq.SEI, Irq.MEI]) hart.setInterruptPending(b, ((irq >>> b) & 1) === 1);
    }
    if (bits & A_MTIMECMP) hart.mtimecmp = BigInt.asUintN(64, Atomics.load(sh.ctl64, sh.d(h, MTIMECMP)));
    if (bits & A_SSIP_SET) this.setSsip(true);
    if (bits & A_SSIP_CLEAR) this.setSsip(false);
    if (bits & (A_TLB | A_FENCE_I | A_STORES)) {
      const req = Atomics.load(sh.ctl, sh.w(h, FENCE_REQ));
      // sfence.vma: the whole TLB. fence.i: the translator re-verifies every translated page
      // against guest memory at the start of the next run(), before executing any of it. A dirty
      // round: the fast caches (store entries, the write protection) and the mirrors.
      if (bits & A_TLB) hart.flushTlb();
      else if (bits & A_STORES) hart.flushFast();
      const i = sh.w(h, FENCE_DONE);
      Atomics.store(sh.ctl, i, req);
      Atomics.notify(sh.ctl, i);
    }
    if (bits & A_START) {
      const start = BigInt.asUintN(64, Atomics.load(sh.ctl64, sh.d(h, START)));
      const opaque = BigInt.asUintN(64, Atomics.load(sh.ctl64, sh.d(h, OPAQUE)));
      hart.flushTlb();
      enterSupervisor(hart, start, opaque);
      this.setState(HartState.Started);
    }
    // Last, after the requests above changed the hart (an IPI or a device line that came in while
    // it was parked is in the state it sends).
    if (bits & A_SAVE) this.send({ kind: "state", hart: h, state: hart.saveState() });
  }

  /**
   * Pausing: this hart is between two instructions (run() returned), outside any SBI call (it was
   * finished, remote fences included, before the loop came back here); the store it may have posted
   * to a device is served before it says it is parked, so the devices' state is complete too.
   */
  private park(): void {
    const sh = this.sh;
    const i = sh.w(this.h, PARKED);
    const epoch = Atomics.load(sh.ctl, G_EPOCH);
    if (Atomics.load(sh.ctl, i) === epoch) return;
    this.mmio.drain();
    Atomics.store(sh.ctl, i, epoch);
    Atomics.notify(sh.ctl, i);
  }

  private takeAttention(): void {
    const bits = Atomics.exchange(this.sh.ctl, this.attnIdx, 0);
    if (bits !== 0) this.attend(bits);
  }

  /** Waits until every remote fence this hart asked for is done (serving its own requests meanwhile). */
  private waitFences(): void {
    const sh = this.sh;
    for (const [t, ticket] of this.fences) {
      const i = sh.w(t, FENCE_DONE);
      for (;;) {
        const done = Atomics.load(sh.ctl, i);
        if (done - ticket >= 0 || sh.run() === RUN_STOP) break;
        // Two harts fencing each other at once: each serves the other's request while it waits.
        this.takeAttention();
        Atomics.wait(sh.ctl, i, done, 1);
      }
    }
    this.fences.length = 0;
  }

  /** The vCPU's run loop: returns when the VMM thread stops the VM. */
  run(): void {
    const sh = this.sh,
      hart = this.hart,
      h = this.h,
      st = sh.stats,
      s0 = h * STAT_WORDS;
    let slice = this.init.slice;
    for (;;) {
      const run = sh.run();
      if (run === RUN_STOP) break;
      this.takeAttention();
      if (run === RUN_PAUSE) this.park();
      if (run === RUN_PAUSE || this.state(h) !== HartState.Started) {
        const t = performance.now();
        Atomics.wait(sh.ctl, this.attnIdx, 0, 1000);
        st[s0 + S_WAIT_MS]! += performance.now() - t;
        continue;
      }
      const t0 = performance.now();
      const r = hart.run(slice);
      const t1 = performance.now();
      // The counters are published after each slice. A guest polling a device through the MMIO
      // channel runs a few MIPS, so a full slice would publish them seconds apart: halve the slice
      // while slices take long; CPU-bound slices (about a millisecond) grow back to the full one.
      if (t1 - t0 > SLOW_SLICE_MS) slice = Math.max(MIN_SLICE, slice >>> 1);
      else if (slice < this.init.slice) slice = Math.min(this.init.slice, slice * 2);
      st[s0 + S_RUN_MS]! += t1 - t0;
      if (r === ExitReason.Trap) {
        if (hart.exitCause === Cause.EcallS && this.init.boot.kind === "sbi") {
          st[s0 + S_HYPERCALL]!++;
          this.sbi.handle(h, hart);
          if (this.state(h) === HartState.Started) hart.setPc(hart.getPc() + 4n);
          if (this.fences.length > 0) this.waitFences();
        } else {
          this.send({
            kind: "error",
            message: `hart ${h}: unexpected exception cause ${hart.exitCause} (tval 0x${hart.exitTval.toString(16)}) at pc 0x${hart.getPc().toString(16)}`,
          });
          this.setState(HartState.Stopped);
        }
      } else if (r === ExitReason.Wfi) {
        st[s0 + S_WFI]!++;
        this.sleep();
      } else if (r === ExitReason.Halt) st[s0 + S_HALT]!++;
      else st[s0 + S_BUDGET]!++;
      st[s0 + S_INSTRET] = hart.instret;
      st[s0 + S_MMIO] = this.mmio.count;
      if (t1 - this.lastReport > 250) {
        this.lastReport = t1;
        this.report();
      }
    }
    this.report();
    // A lazy restore's file, opened by this thread: descriptors outlive a thread that ends.
    this.memory.endLazy();
  }

  /** wfi: sleep on the attention word until the hart's next timer deadline (no CPU while idle). */
  private sleep(): void {
    const hart = this.hart;
    if (hart.interruptPending()) return;
    const deadline = hart.nextTimerDeadline();
    const ms =
      deadline === Number.POSITIVE_INFINITY ? 1000 : ((deadline - this.timer.now()) / this.timer.frequency) * 1000;
    if (ms <= 0.01) return;
    const t = performance.now();
    Atomics.wait(this.sh.ctl, this.attnIdx, 0, Math.min(ms, 1000));
    this.sh.stats[this.h * STAT_WORDS + S_WAIT_MS]! += performance.now() - t;
  }

  private report(): void {
    const s = this.hart.stats;
    this.send({
      kind: "report",
      report: {
        hart: this.h,
        exceptions: Array.from(s.exceptions),
        interrupts: Array.from(s.interrupts),
        csrAccesses: s.csrAccesses,
        mret: s.mret,
        sret: s.sret,
        sfenceVma: s.sfenceVma,
        wfi: s.wfi,
        sbiCalls: [...this.sbi.calls],
        pagedIn: this.memory.pagedIn,
        ...(this.dbt ? { dbt: this.dbt.stats } : {}),
        ...(this.hart.hyp ? { hypervisor: { ...this.hart.hyp.stats } } : {}),
      },
    });
  }
}
