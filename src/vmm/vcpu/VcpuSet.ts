// The VMM thread's side of the vCPU threads: starts one host thread per hart over the board's
// shared memory (Vcpu.ts; a worker_threads worker under Node, a Web Worker in the page: spawnVcpu.ts,
// the SpawnVcpu backend of MachineBackends.ts), serves their MMIO on the board's devices (MmioChannel.ts),
// delivers device interrupts into shared memory (VcpuShared.ts), and collects their console output,
// events and statistics. The board's devices and the event loop stay on this thread.
import type { VirtBoard, BoardEvent } from "../VirtBoard.js";
import { MmioServer, mmioChannelBuffer } from "./MmioChannel.js";
import { HartState } from "../Sbi.js";
import { registeredTierUp } from "../../dbt/TierUp.js";
import type { VcpuInit, VcpuReport } from "./Vcpu.js";
import type { HartSavedState } from "../../riscv/HartPersist.js";
import { Irq } from "../../riscv/Trap.js";
import { spawnVcpu } from "./spawnVcpu.js";
import {
  A_SAVE,
  A_STORES,
  FENCE_DONE,
  FENCE_REQ,
  G_EPOCH,
  IRQ,
  PARKED,
  RUN_GO,
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
  STAT_WORDS,
  STATE,
  MTIMECMP,
  VcpuShared,
} from "./VcpuShared.js";

export interface VcpuSetOptions {
  /** Instructions per run() of a vCPU between two looks at its attention word. */
  slice: number;
  /** process.hrtime.bigint() at mtime 0 (the board's timer must count from the same origin). */
  timerOrigin: bigint;
  /** The SBI debug console's output. */
  consoleWrite(bytes: Uint8Array): void;
  /** The guest asked for poweroff or reboot through the SBI. */
  onEvent(ev: BoardEvent): void;
  /** A vCPU cannot go on (an unexpected exception, a thread crash, a device model error). */
  onError(message: string): void;
}

/** Per-vCPU counters for --stats. */
export interface VcpuStats {
  hart: number;
  instructions: number;
  exits: Record<string, number>;
  /** Time the thread spent running guest code and waiting (wfi, stopped, paused). */
  runningSeconds: number;
  waitingSeconds: number;
  mmio: number;
}

/** What the vCPU threads hold that a snapshot needs (VcpuSet.gather). */
export interface GatheredHarts {
  harts: HartSavedState[];
  /** Each hart's SBI HSM state. */
  hartStates: HartState[];
  /** The ACLINT's msip bytes. */
  msip: number[];
}

/** Device-driven mip bits, the ones the shared IRQ word carries. */
const IRQ_BITS = [Irq.MSI, Irq.SEI, Irq.MEI];
/** How long a pause or a gather may take before it is reported as a hung vCPU thread. */
const PARK_TIMEOUT_MS = 10_000;

/** Atomics.waitAsync (ES2024; Node 20 has it, the project's TypeScript lib does not declare it yet). */
type WaitAsync = (
  a: Int32Array,
  i: number,
  v: number,
  t?: number,
) => { async: false; value: string } | { async: true; value: Promise<string> };
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

export class VcpuSet {
  readonly shared: VcpuShared;
  private readonly exited: Promise<void>[] = [];
  private readonly server: MmioServer;
  readonly reports: (VcpuReport | undefined)[];
  /** gather(): the states asked for, by hart. */
  private readonly saved: ((s: HartSavedState) => void)[] = [];

  constructor(
    private readonly board: VirtBoard,
    opts: VcpuSetOptions,
  ) {
    const n = board.config.cpus;
    const sh = new VcpuShared(n);
    this.shared = sh;
    this.reports = new Array<VcpuReport | undefined>(n).fill(undefined);
    board.irqSink = (h, bit, level) => sh.setIrq(h, bit, level);
    const mmio = mmioChannelBuffer(n);
    this.server = new MmioServer(mmio, n, board.bus, (e) =>
      opts.onError(`device model error: ${e.stack ?? e.message}`),
    );
    const clint = board.bus.devices().find((d) => d.dev === board.clint)!;
    const devices = board.bus
      .devices()
      .filter((d) => d.dev !== board.clint)
      .map((d) => ({ base: d.base, size: d.size, name: d.dev.name }));
    // A restore (restoreMachineState put the snapshot's harts into board.harts): every thread starts
    // from its hart's saved state, and the shared block from the rest of it.
    const resume = board.resumeFromHarts ? board.harts.map((h) => h.saveState()) : undefined;
    board.resumeFromHarts = false;
    // Where the harts boot; a restore only needs the kind of firmware (board.layout would read the
    // kernel and initramfs, which a restore does not need: Snapshot.ts lazyRef).
    const L = resume ? undefined : board.layout;
    const boot: VcpuInit["boot"] = board.builtinSbi
      ? { kind: "sbi", entry: L?.kernel.entry ?? 0, dtb: L?.dtbAddr ?? 0 }
      : { kind: "bios", entry: L?.bios!.entry ?? 0, dtb: L?.dtbAddr ?? 0, info: L?.fwInfoAddr ?? 0 };
    if (resume) {
      for (let h = 0; h < n; h++) {
        Atomics.store(sh.ctl, sh.w(h, STATE), board.hartStates[h]!);
        Atomics.store(sh.ctl64, sh.d(h, MTIMECMP), BigInt.asIntN(64, board.harts[h]!.mtimecmp));
        let irq = 0;
        for (const b of IRQ_BITS) irq |= resume[h]!.mipExt & (1 << b);
        Atomics.store(sh.ctl, sh.w(h, IRQ), irq);
      }
      sh.msip.set(board.clint.saveState().msip);
    } else {
      // The SBI hart states before any thread runs: with the built-in SBI hart 0 boots and the others
      // wait for hart_start (which hart 0 may ask for before their threads are up); a firmware gets all.
      for (let h = 0; h < n; h++) {
        const started = !board.builtinSbi || h === 0;
        Atomics.store(sh.ctl, sh.w(h, STATE), started ? HartState.Started : HartState.Stopped);
        // mtimecmp resets to all ones (no timer armed), as a fresh hart's mtimecmp reads.
        Atomics.store(sh.ctl64, sh.d(h, MTIMECMP), -1n);
      }
    }
    const mem = board.memory;
    for (let h = 0; h < n; h++) {
      const init: VcpuInit = {
        hart: h,
        harts: n,
        memory: mem.wasmMemory,
        dirtyLog: mem.dirtyLogBuffer as SharedArrayBuffer,
        ramBase: mem.base,
        ramSize: mem.size,
        engineBytes: mem.engineBytes,
        ctl: sh.ctlBuffer,
        stats: sh.statsBuffer,
        mmio,
        engine: board.engine,
        engineOptions: board.config.engineOptions ?? {},
        // As the board's own harts and its device tree: the H extension unless configured off.
        hypervisor: board.config.hypervisor ?? true,
        timerOrigin: opts.timerOrigin,
        frequency: board.timer.frequency,
        devices,
        clint: { base: clint.base, size: clint.size },
        boot,
        slice: opts.slice,
        optimizingTier: registeredTierUp() !== undefined,
        ...(resume ? { resume: resume[h]! } : {}),
        ...(mem.absent && mem.lazySource
          ? { lazyRam: { file: mem.lazySource, absent: mem.absent.buffer as SharedArrayBuffer } }
          : {}),
      };
      const thread = spawnVcpu(init, {
        message: (m) => {
          if (m.kind === "console") opts.consoleWrite(m.bytes);
          else if (m.kind === "event") opts.onEvent(m.event);
          else if (m.kind === "error") opts.onError(m.message);
          else if (m.kind === "state") this.saved[m.hart]?.(m.state);
          else this.reports[m.report.hart] = m.report;
        },
        error: (e) => opts.onError(`vCPU ${h} thread: ${e.stack ?? e.message}`),
      });
      this.exited.push(thread.exited);
    }
  }

  pause(): void {
    this.shared.control(RUN_PAUSE);
  }

  resume(): void {
    this.shared.control(RUN_GO);
  }

  /**
   * After pause(): resolves once every vCPU thread is parked (stopped between two instructions, no
   * SBI call or posted MMIO store unfinished: Vcpu.park). Then no guest code runs until resume().
   */
  async park(): Promise<void> {
    const sh = this.shared;
    const epoch = Atomics.load(sh.ctl, G_EPOCH);
    await this.waitAll(PARKED, () => epoch, "stop between two instructions");
  }

  /** Waits until word `w` of every hart reaches target(h) (a counter: reached = not behind). */
  private async waitAll(w: number, target: (h: number) => number, what: string): Promise<void> {
    const sh = this.shared;
    const until = performance.now() + PARK_TIMEOUT_MS;
    for (let h = 0; h < sh.harts; h++) {
      const i = sh.w(h, w);
      for (;;) {
        const v = Atomics.load(sh.ctl, i);
        if (v - target(h) >= 0) break;
        // Threads that are ending (the guest powered off or rebooted meanwhile) answer nothing.
        if (sh.run() === RUN_STOP) throw new Error(`vCPU ${h} is stopping (the guest powered off or rebooted)`);
        const left = until - performance.now();
        if (left <= 0) throw new Error(`vCPU ${h} did not ${what} within ${PARK_TIMEOUT_MS / 1000} s`);
        const r = waitAsync(sh.ctl, i, v, Math.min(left, 100));
        if (r.async) await r.value;
      }
    }
  }

  /**
   * With every thread parked (park()): each hart's saved state, SBI state and the msip bytes. The
   * threads send their hart's state as a message (A_SAVE); the rest is in shared memory.
   */
  async gather(): Promise<GatheredHarts> {
    const sh = this.shared;
    const harts = await Promise.all(
      Array.from(
        { length: sh.harts },
        (_, h) =>
          new Promise<HartSavedState>((resolve, reject) => {
            const t = setTimeout(
              () => reject(new Error(`vCPU ${h} did not send its state within ${PARK_TIMEOUT_MS / 1000} s`)),
              PARK_TIMEOUT_MS,
            );
            this.saved[h] = (s) => {
              clearTimeout(t);
              delete this.saved[h];
              resolve(s);
            };
            sh.poke(h, A_SAVE);
          }),
      ),
    );
    return {
      harts,
      hartStates: harts.map((_, h) => Atomics.load(sh.ctl, sh.w(h, STATE)) as HartState),
      msip: Array.from(sh.msip),
    };
  }

  /** The device-driven mip bits of hart h as the devices last set them (the shared IRQ word). */
  irqLevels(h: number): number {
    return Atomics.load(this.shared.ctl, this.shared.w(h, IRQ));
  }

  /**
   * Every vCPU drops its fast caches and the translator's mirrors filled from them (Hart.flushFast)
   * and acknowledges through its remote-fence ticket; resolves when all have. Running, sleeping,
   * parked and HSM-stopped threads all serve it (they look at their attention word in every state).
   * The start of a dirty-tracking round (vmm/DirtyRound.ts): after it every guest store reaches the
   * store slow path, which marks its page, before it is cached again.
   */
  async flushStoreCaches(): Promise<void> {
    const sh = this.shared;
    const tickets = Array.from({ length: sh.harts }, (_, h) => {
      const ticket = Atomics.add(sh.ctl, sh.w(h, FENCE_REQ), 1) + 1;
      sh.poke(h, A_STORES);
      return ticket;
    });
    await this.waitAll(FENCE_DONE, (h) => tickets[h]!, "flush its store caches");
  }

  /** Stops every vCPU thread and waits for them (and their last reports). */
  async stop(): Promise<void> {
    this.shared.control(RUN_STOP);
    await Promise.all(this.exited);
    await this.server.close();
    this.board.irqSink = undefined;
  }

  /** The per-vCPU counters (live: read from shared memory). */
  vcpuStats(): VcpuStats[] {
    const st = this.shared.stats;
    return Array.from({ length: this.shared.harts }, (_, h) => {
      const b = h * STAT_WORDS;
      return {
        hart: h,
        instructions: st[b + S_INSTRET]!,
        exits: {
          hypercall: st[b + S_HYPERCALL]!,
          wfi: st[b + S_WFI]!,
          budget: st[b + S_BUDGET]!,
          halt: st[b + S_HALT]!,
        },
        runningSeconds: st[b + S_RUN_MS]! / 1000,
        waitingSeconds: st[b + S_WAIT_MS]! / 1000,
        mmio: st[b + S_MMIO]!,
      };
    });
  }
}
