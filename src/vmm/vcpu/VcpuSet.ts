// The VMM thread's side of the vCPU threads: starts one host thread per hart over the board's
// shared memory (Vcpu.ts; a worker_threads worker under Node, a Web Worker in the page: spawnVcpu.ts,
// the SpawnVcpu backend of MachineBackends.ts), serves their MMIO on the board's devices (MmioChannel.ts),
// delivers device interrupts into shared memory (VcpuShared.ts), and collects their console output,
// events and statistics. The board's devices and the event loop stay on this thread.
import type { VirtBoard, BoardEvent } from "../VirtBoard.js";
import { MmioServer, mmioChannelBuffer } from "./MmioChannel.js";
import { HartState } from "../Sbi.js";
import { optimizingCompiler } from "../../dbt/OptimizingCompile.js";
import type { VcpuInit, VcpuReport } from "./Vcpu.js";
import { spawnVcpu } from "./spawnVcpu.js";
import {
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

export class VcpuSet {
  readonly shared: VcpuShared;
  private readonly exited: Promise<void>[] = [];
  private readonly server: MmioServer;
  readonly reports: (VcpuReport | undefined)[];

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
    const L = board.layout;
    const boot: VcpuInit["boot"] = board.builtinSbi
      ? { kind: "sbi", entry: L.kernel.entry, dtb: L.dtbAddr }
      : { kind: "bios", entry: L.bios!.entry, dtb: L.dtbAddr, info: L.fwInfoAddr };
    // The SBI hart states before any thread runs: with the built-in SBI hart 0 boots and the others
    // wait for hart_start (which hart 0 may ask for before their threads are up); a firmware gets all.
    for (let h = 0; h < n; h++) {
      const started = !board.builtinSbi || h === 0;
      Atomics.store(sh.ctl, sh.w(h, STATE), started ? HartState.Started : HartState.Stopped);
      // mtimecmp resets to all ones (no timer armed), as a fresh hart's mtimecmp reads.
      Atomics.store(sh.ctl64, sh.d(h, MTIMECMP), -1n);
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
        optimizingTier: optimizingCompiler() !== undefined,
      };
      const thread = spawnVcpu(init, {
        message: (m) => {
          if (m.kind === "console") opts.consoleWrite(m.bytes);
          else if (m.kind === "event") opts.onEvent(m.event);
          else if (m.kind === "error") opts.onError(m.message);
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
