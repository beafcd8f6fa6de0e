// The embedding API: boot a Linux guest from bytes or URLs with one call, in-process, and follow it
// through events. The same code runs under Node (`import { Typevisor } from
// "typevisor/dist/src/web/Typevisor.js"`) and inside the page's VM worker (src/web/browser/
// vm-worker.ts); the page's own `Typevisor.boot` (src/web/browser/TypevisorBrowser.ts) has the same
// shape and adds `console: element` (an xterm.js terminal). docs/WEB.md documents it.
import { buildVirtMachine, type VirtMachine } from "../vmm/MachineBuilder.js";
import type { MachineBackends } from "../vmm/MachineBackends.js";
import type { BlockBackend } from "../devices/block/BlockBackend.js";
import type { CharBackend, CharSink } from "../devices/chardev/CharBackend.js";
import type { VmExit, VmState, VmStats } from "../vmm/Vm.js";
import type { EngineName } from "../dbt/Engine.js";
import { MemoryDisk } from "./MemoryDisk.js";
import { yieldToEventLoop } from "../vmm/EventLoop.js";

/** File contents, or a URL to fetch them from. */
export type Bytes = Uint8Array | ArrayBuffer | string;

export interface DownloadProgress {
  /** "kernel", "initrd", "disk0", ... */
  file: string;
  loaded: number;
  /** From Content-Length; undefined when the server did not say. */
  total: number | undefined;
}

export interface BootOptions {
  /** A RISC-V Linux Image (or ELF, or gzip-compressed Image). */
  kernel: Bytes;
  initrd?: Bytes;
  /** virtio-blk disks (vda, vdb, ...): image bytes (kept in memory, writes too) or your own backend. */
  disks?: (Bytes | BlockBackend)[];
  /** Guest RAM: bytes, or "256M", "1G" (default 256M). */
  memory?: number | string;
  cpus?: number;
  /** Kernel command line (default "console=ttyS0"). */
  append?: string;
  /** CPU engine (default: the translator, "dbt"). */
  engine?: EngineName;
  /**
   * Run each hart on its own thread (default: when cpus > 1): a worker_threads worker under Node, a
   * Web Worker in the page; false runs them all round-robin on one thread.
   */
  vcpuThreads?: boolean;
  /**
   * The console terminal's size, given to the guest's hvc0 (virtio-console); follow changes with
   * resize(). The image's init copies hvc0's size to the serial console the shell runs on.
   */
  consoleSize?: { cols: number; rows: number };
  /** Where the console goes besides the "console" event (e.g. a host terminal under Node). */
  terminal?: CharBackend;
  onProgress?: (p: DownloadProgress) => void;
}

export interface TypevisorEvents {
  /** Bytes the guest wrote to its console. */
  console: Uint8Array;
  /** The VM ended. */
  exit: VmExit;
  state: VmState;
}

export interface TypevisorVm {
  on<K extends keyof TypevisorEvents>(event: K, listener: (value: TypevisorEvents[K]) => void): () => void;
  /** Types into the guest's console. */
  input(data: string | Uint8Array): void;
  /** The console terminal has a new size: tells the guest (hvc0's size, SIGWINCH in the guest). */
  resize(cols: number, rows: number): void;
  stats(): Promise<VmStats>;
  pause(): void;
  resume(): void;
  /** Pulls the plug; `exited` resolves with reason "stopped". */
  stop(): void;
  readonly exited: Promise<VmExit>;
  /** Disk `index` as it is now (the image with the guest's writes), in pieces to join. */
  diskImage(index: number): Promise<Uint8Array[]>;
  /** Bytes of disk `index` the guest has changed (in 64 KiB chunks). */
  diskChanges(index: number): Promise<number>;
}

export class BootError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BootError";
  }
}

/** "256M", "1G", "1048576" or a number of bytes. */
export function parseMemory(m: number | string | undefined): number {
  if (m === undefined) return 256 * 1024 * 1024;
  if (typeof m === "number") return m;
  const r = /^(\d+)([KMG]?)i?B?$/i.exec(m.trim());
  if (!r) throw new BootError(`memory: '${m}' is not a size like 256M or 1G`);
  const unit = { "": 1, K: 1 << 10, M: 1 << 20, G: 1 << 30 }[r[2]!.toUpperCase() as "" | "K" | "M" | "G"];
  return Number(r[1]) * unit;
}

/** Fetches `url` into one buffer, reporting progress as the body arrives. */
export async function fetchBytes(
  url: string,
  file: string,
  onProgress?: (p: DownloadProgress) => void,
): Promise<Uint8Array> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new BootError(`${file}: cannot fetch ${url}: ${(e as Error).message}`);
  }
  if (!res.ok) throw new BootError(`${file}: ${url} answered ${res.status} ${res.statusText}`);
  const header = res.headers.get("content-length");
  const total = header !== null && /^\d+$/.test(header) ? Number(header) : undefined;
  const reader = res.body?.getReader();
  if (!reader) return new Uint8Array(await res.arrayBuffer());
  let buf = new Uint8Array(total ?? 1 << 20);
  let loaded = 0;
  onProgress?.({ file, loaded, total });
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (loaded + value.length > buf.length) {
      const bigger = new Uint8Array(Math.max(buf.length * 2, loaded + value.length));
      bigger.set(buf.subarray(0, loaded));
      buf = bigger;
    }
    buf.set(value, loaded);
    loaded += value.length;
    onProgress?.({ file, loaded, total });
  }
  return loaded === buf.length ? buf : buf.slice(0, loaded);
}

async function bytesOf(b: Bytes, file: string, onProgress?: (p: DownloadProgress) => void): Promise<Uint8Array> {
  if (typeof b === "string") return fetchBytes(b, file, onProgress);
  return b instanceof Uint8Array ? b : new Uint8Array(b);
}

/**
 * The console as events: guest output goes to the listeners (and to `terminal` if given), and
 * input() reaches the guest. Input waits while the UART's buffer is full (pause/resume), bounded.
 */
class EventConsole implements CharBackend {
  private sink: CharSink | undefined;
  private paused = false;
  private held: Uint8Array[] = [];
  private heldBytes = 0;

  constructor(
    private readonly emit: (b: Uint8Array) => void,
    private readonly terminal: CharBackend | undefined,
  ) {}

  write(data: Uint8Array): void {
    this.emit(data);
    this.terminal?.write(data);
  }
  attach(sink: CharSink): void {
    this.sink = sink;
    this.terminal?.attach(sink);
  }
  pause(): void {
    this.paused = true;
    this.terminal?.pause();
  }
  resume(): void {
    this.paused = false;
    this.terminal?.resume();
    this.drain();
  }
  /** Hands held input to the guest until it is all delivered or the UART pauses again. */
  private drain(): void {
    while (this.held.length > 0 && !this.paused) {
      const b = this.held.shift()!;
      this.heldBytes -= b.length;
      this.sink?.input(b);
    }
  }
  input(data: Uint8Array): void {
    if (!this.paused && this.held.length === 0) {
      this.sink?.input(data);
      return;
    }
    // A paste larger than this while the guest is not reading is cut, not buffered without bound.
    if (this.heldBytes + data.length > 1 << 20) return;
    this.held.push(data);
    this.heldBytes += data.length;
  }
  close(): Promise<void> {
    return this.terminal?.close() ?? Promise.resolve();
  }
}

type Listeners = { [K in keyof TypevisorEvents]: Set<(v: TypevisorEvents[K]) => void> };

/** Boots a guest in this thread (Node, or the page's VM worker). */
export async function boot(opts: BootOptions): Promise<TypevisorVm> {
  const memory = parseMemory(opts.memory);
  const [kernel, initrd] = await Promise.all([
    bytesOf(opts.kernel, "kernel", opts.onProgress),
    opts.initrd !== undefined ? bytesOf(opts.initrd, "initrd", opts.onProgress) : undefined,
  ]);
  const disks: BlockBackend[] = [];
  for (const [i, d] of (opts.disks ?? []).entries()) {
    if (typeof d === "string" || d instanceof Uint8Array || d instanceof ArrayBuffer)
      disks.push(new MemoryDisk(await bytesOf(d, `disk${i}`, opts.onProgress), false, `disk${i}`));
    else disks.push(d);
  }
  const listeners: Listeners = { console: new Set(), exit: new Set(), state: new Set() };
  const emit = <K extends keyof TypevisorEvents>(k: K, v: TypevisorEvents[K]) => {
    for (const l of listeners[k] as Set<(v: TypevisorEvents[K]) => void>) l(v);
  };
  const console = new EventConsole((b) => emit("console", b), opts.terminal);
  const backends: MachineBackends = {
    openDisk: (d) => {
      const b = disks[Number(d.path)];
      if (!b) throw new BootError(`no disk ${d.path}`);
      return Promise.resolve(b);
    },
    openNic: () => Promise.reject(new BootError("this front end has no network backends")),
    openShare: () => {
      throw new BootError("this front end has no shared directories");
    },
  };
  let machine: VirtMachine;
  try {
    machine = await buildVirtMachine(
      {
        memory,
        cpus: opts.cpus ?? 1,
        kernel: { name: "kernel", bytes: kernel },
        initrd: initrd && { name: "initrd", bytes: initrd },
        append: opts.append ?? "console=ttyS0",
        engine: opts.engine,
        ...(opts.vcpuThreads !== undefined ? { vcpuThreads: opts.vcpuThreads } : {}),
        disks: disks.map((b, i) => ({ path: String(i), readOnly: b.readOnly })),
        nics: [],
      },
      {
        console,
        backends,
        onStateChange: (s) => emit("state", s),
        ...(opts.consoleSize ? { consoleSize: opts.consoleSize } : {}),
      },
    );
  } catch (e) {
    throw new BootError((e as Error).message);
  }
  const vm = machine.vm;
  // Started after the caller's `await boot(...)` has resumed (a macrotask later), so listeners it
  // adds right away see the guest's first output.
  const exited = yieldToEventLoop()
    .then(() => machine.run())
    .then((exit) => {
      emit("exit", exit);
      return exit;
    });
  const memoryDisk = (i: number): MemoryDisk => {
    const d = disks[i];
    if (!(d instanceof MemoryDisk)) throw new BootError(`disk ${i} is not a disk this API holds in memory`);
    return d;
  };
  return {
    on(event, listener) {
      const set = listeners[event] as Set<typeof listener>;
      set.add(listener);
      return () => set.delete(listener);
    },
    input: (data) => console.input(typeof data === "string" ? new TextEncoder().encode(data) : data),
    resize: (cols, rows) => vm.board.hvc?.resize(cols, rows),
    stats: () => Promise.resolve(vm.stats()),
    pause: () => vm.pause(),
    resume: () => vm.resume(),
    stop: () => vm.stop(),
    exited,
    diskImage: (i) => Promise.resolve(memoryDisk(i).pieces()),
    diskChanges: (i) => Promise.resolve(memoryDisk(i).changedBytes),
  };
}

/** The API's namespace, as the page exports it too. */
export const Typevisor = { boot };
