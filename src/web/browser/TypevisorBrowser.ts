// The embedding API in a page: `const vm = await Typevisor.boot({ kernel, initrd, disks, memory,
// cpus, console: element })`. The guest runs in a VM worker (vm-worker.ts, beside this bundle);
// with `console`, an xterm.js terminal in that element shows it and types into it. The returned
// object has the same shape as the in-process API's (src/web/Typevisor.ts), plus the terminal.
import { Terminal } from "@xterm/xterm";
import { FitAddon } from "@xterm/addon-fit";
import type { DownloadProgress, TypevisorEvents, TypevisorVm } from "../Typevisor.js";
import type { VmExit, VmStats } from "../../vmm/Vm.js";
import type { FromWorker, ToWorker, WorkerBootOptions } from "./Protocol.js";

export interface BrowserBootOptions extends WorkerBootOptions {
  /** An element to show the console in (an xterm.js terminal fitted to it), or your own Terminal. */
  console?: HTMLElement | Terminal;
  onProgress?: (p: DownloadProgress) => void;
  /** Messages about the boot worth showing (where the disk's changes are kept). */
  onNote?: (message: string) => void;
  /** The worker script (default: vm-worker.js beside this module). */
  workerUrl?: string | URL;
}

export interface BrowserVm extends TypevisorVm {
  /** The console's terminal, when `console` was given. */
  readonly terminal: Terminal | undefined;
  /** Fits the terminal to its element again (call after layout changes; window resizes are handled). */
  fit(): void;
  /** Disk `index` as a Blob to download (the image with the guest's writes). */
  diskBlob(index: number): Promise<Blob>;
}

/** Why this page cannot run a VM, or undefined when it can. */
export function isolationProblem(): string | undefined {
  if (typeof SharedArrayBuffer === "undefined" || !crossOriginIsolated)
    return "this page is not cross-origin isolated, so SharedArrayBuffer (the guest's RAM, shared with the translated code) is not available. Serve it with the headers 'Cross-Origin-Opener-Policy: same-origin' and 'Cross-Origin-Embedder-Policy: require-corp' (typevisor web does; see docs/WEB.md for static hosts).";
  if (typeof WebAssembly === "undefined") return "this browser has no WebAssembly.";
  return undefined;
}

const absolute = <T>(v: T): T => (typeof v === "string" ? (new URL(v, location.href).href as T) : v);

export async function boot(opts: BrowserBootOptions): Promise<BrowserVm> {
  const problem = isolationProblem();
  if (problem) throw new Error(problem);
  const worker = new Worker(opts.workerUrl ?? new URL("./vm-worker.js", import.meta.url), { type: "module" });
  let terminal: Terminal | undefined;
  let fitAddon: FitAddon | undefined;
  if (opts.console instanceof Terminal) terminal = opts.console;
  else if (opts.console) {
    terminal = new Terminal({ convertEol: false, scrollback: 5000, fontSize: 14 });
    fitAddon = new FitAddon();
    terminal.loadAddon(fitAddon);
    terminal.open(opts.console);
    fitAddon.fit();
  }
  const send = (m: ToWorker, transfer: Transferable[] = []) => worker.postMessage(m, transfer);
  const listeners: { [K in keyof TypevisorEvents]: Set<(v: TypevisorEvents[K]) => void> } = {
    console: new Set(),
    exit: new Set(),
    state: new Set(),
  };
  const replies = new Map<number, { resolve: (v: FromWorker) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  const request = (m: ToWorker & { id: number }): Promise<FromWorker> =>
    new Promise((resolve, reject) => {
      replies.set(m.id, { resolve, reject });
      send(m);
    });
  let resolveExit!: (e: VmExit) => void;
  const exited = new Promise<VmExit>((r) => (resolveExit = r));
  const booted = new Promise<void>((resolve, reject) => {
    worker.onerror = (ev) => reject(new Error(`the VM worker failed: ${ev.message}`));
    worker.onmessage = (ev: MessageEvent<FromWorker>) => {
      const m = ev.data;
      switch (m.t) {
        case "progress":
          opts.onProgress?.(m.p);
          return;
        case "booted":
          resolve();
          return;
        case "note":
          opts.onNote?.(m.message);
          return;
        case "error":
          reject(new Error(m.message));
          return;
        case "console":
          terminal?.write(m.data);
          for (const l of listeners.console) l(m.data);
          return;
        case "state":
          for (const l of listeners.state) l(m.state);
          return;
        case "exit":
          for (const l of listeners.exit) l(m.exit);
          resolveExit(m.exit);
          worker.terminate();
          return;
        default: {
          const r = replies.get(m.id);
          replies.delete(m.id);
          if (m.t === "reply-error") r?.reject(new Error(m.message));
          else r?.resolve(m);
        }
      }
    };
  });
  const { console: _c, onProgress: _p, onNote: _n, workerUrl: _w, ...rest } = opts;
  const wopts: WorkerBootOptions = {
    ...rest,
    kernel: absolute(rest.kernel),
    initrd: absolute(rest.initrd),
    disks: rest.disks?.map(absolute),
    ...(terminal ? { consoleSize: { cols: terminal.cols, rows: terminal.rows } } : {}),
  };
  send({ t: "boot", opts: wopts });
  const encoder = new TextEncoder();
  const input = (data: string | Uint8Array) =>
    send({ t: "input", data: typeof data === "string" ? encoder.encode(data) : data });
  terminal?.onData((d) => input(d));
  terminal?.onBinary((d) => input(Uint8Array.from(d, (c) => c.charCodeAt(0) & 0xff)));
  // The terminal's new size (after fit() on a window resize, or the caller's own resize) reaches
  // the guest through hvc0 (virtio-console SIZE), so full-screen programs redraw to fit.
  const resize = (cols: number, rows: number) => send({ t: "resize", cols, rows });
  terminal?.onResize(({ cols, rows }) => resize(cols, rows));
  const onResize = () => fitAddon?.fit();
  if (fitAddon) addEventListener("resize", onResize);
  try {
    await booted;
  } catch (e) {
    worker.terminate();
    removeEventListener("resize", onResize);
    throw e;
  }
  const diskBlob = async (index: number): Promise<Blob> =>
    ((await request({ t: "disk", id: nextId++, index })) as { blob: Blob }).blob;
  return {
    terminal,
    fit: onResize,
    on(event, listener) {
      const set = listeners[event] as Set<typeof listener>;
      set.add(listener);
      return () => set.delete(listener);
    },
    input,
    resize,
    async stats() {
      const r = await request({ t: "stats", id: nextId++ });
      return (r as { stats: VmStats }).stats;
    },
    pause: () => send({ t: "pause" }),
    resume: () => send({ t: "resume" }),
    stop: () => send({ t: "stop" }),
    exited,
    diskBlob,
    async diskImage(index) {
      return [new Uint8Array(await (await diskBlob(index)).arrayBuffer())];
    },
    async diskChanges(index) {
      const r = (await request({ t: "changes", id: nextId++, index })) as { bytes: number };
      return r.bytes;
    },
  };
}

export const Typevisor = { boot, isolationProblem };
