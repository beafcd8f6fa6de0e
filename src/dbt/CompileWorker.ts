// A UnitCompiler on a Node worker thread (src/dbt/UnitCompiler.ts): the vCPU's thread posts a page's
// host offset and entries, the worker translates the page from the shared guest RAM, validates and
// compiles the module and posts it back with its snapshot and block map (V8 shares the compiled code
// between the threads). The vCPU's thread never waits: it sees finished units through a counter in
// shared memory and takes them with receiveMessageOnPort, without going through the event loop
// (which a busy vCPU visits only every ~10 ms).
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from "node:worker_threads";
import type { CompiledUnit, UnitCompiler } from "./UnitCompiler.js";
import type { TranslatorConfig } from "./UnitTranslator.js";

/** A message from the worker (CompileWorkerThread.ts): a unit, none (nothing translatable), or an error. */
export interface WorkerReply {
  id: number;
  unit?: CompiledUnit;
  error?: string;
  /** A tier-up job's reply: its milliseconds on the worker, -1 if it failed. */
  tierUpMs?: number;
  /** A compile job's reply. */
  module?: WebAssembly.Module;
}

/** A message to the worker. */
export type WorkerJob =
  /** A translator over a guest memory (no reply). */
  | { kind: "translator"; translator: number; memory: WebAssembly.Memory; config: TranslatorConfig }
  /** Translate and compile one page. */
  | { kind: "translate"; id: number; translator: number; host: number; entries: number[] }
  /** Compile a unit translated on the vCPU's thread (UnitCompiler.compile). */
  | { kind: "compile"; id: number; bytes: Uint8Array; memoryPages: number; shared: boolean }
  /** A tier-up job (UnitCompiler.tierUp): the module whose function "f" TurboFan compiles. */
  | { kind: "tierUp"; id: number; module: WebAssembly.Module; memoryPages: number; shared: boolean };

export class CompileWorker implements UnitCompiler {
  /** Started at the first job (a machine on the interpreter never needs it). */
  private worker: Worker | undefined;
  private port: MessagePort | undefined;
  /** [0]: replies the worker has posted (it increments after each postMessage). */
  private readonly posted = new Int32Array(new SharedArrayBuffer(4));
  private taken = 0;
  private nextId = 0;
  private readonly waiting = new Map<number, (u: CompiledUnit | undefined) => void>();
  private readonly tierUps = new Map<number, (ms: number) => void>();
  private readonly compiles = new Map<number, (m: WebAssembly.Module) => void>();
  private failure: Error | undefined;
  /** Translator handles by memory and configuration. */
  private readonly translators = new WeakMap<WebAssembly.Memory, Map<string, number>>();
  private nextTranslator = 0;

  private start(): MessagePort {
    const { port1, port2 } = new MessageChannel();
    this.worker = new Worker(new URL("./CompileWorkerThread.js", import.meta.url), {
      workerData: { port: port2, posted: this.posted },
      transferList: [port2],
      // Its own heap holds nothing but the job in hand.
      resourceLimits: { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: 64 },
    });
    this.worker.on("error", (e) => {
      this.failure = e;
    });
    // Neither keeps the process alive: a VM's end ends it.
    this.worker.unref();
    port1.unref();
    this.port = port1;
    return port1;
  }

  private post(job: WorkerJob): void {
    (this.port ?? this.start()).postMessage(job);
  }

  addTranslator(memory: WebAssembly.Memory, config: TranslatorConfig): number {
    if (!(memory.buffer instanceof SharedArrayBuffer))
      throw new Error("the compile worker translates from shared guest memory only");
    let byConfig = this.translators.get(memory);
    if (byConfig === undefined) {
      byConfig = new Map();
      this.translators.set(memory, byConfig);
    }
    const key = JSON.stringify(config);
    let handle = byConfig.get(key);
    if (handle === undefined) {
      handle = this.nextTranslator++;
      byConfig.set(key, handle);
      this.post({ kind: "translator", translator: handle, memory, config });
    }
    return handle;
  }

  translate(translator: number, host: number, entries: number[], done: (u: CompiledUnit | undefined) => void): void {
    const id = this.nextId++;
    this.waiting.set(id, done);
    this.post({ kind: "translate", id, translator, host, entries });
  }

  compile(bytes: Uint8Array, memoryPages: number, shared: boolean, done: (m: WebAssembly.Module) => void): void {
    const id = this.nextId++;
    this.compiles.set(id, done);
    // Copied, not transferred: transferring (detaching) the buffers cost 0.4 ms a post on a boot,
    // copying 0.1 ms.
    this.post({ kind: "compile", id, bytes, memoryPages, shared });
  }

  tierUp(module: WebAssembly.Module, memoryPages: number, shared: boolean, done: (ms: number) => void): void {
    const id = this.nextId++;
    this.tierUps.set(id, done);
    this.post({ kind: "tierUp", id, module, memoryPages, shared });
  }

  ready(): boolean {
    return Atomics.load(this.posted, 0) !== this.taken || this.failure !== undefined;
  }

  drain(): void {
    if (this.failure) throw new Error(`the translator's compile worker failed: ${this.failure.message}`);
    const port = this.port;
    if (port === undefined) return;
    for (;;) {
      const m = receiveMessageOnPort(port) as { message: WorkerReply } | undefined;
      if (m === undefined) return;
      this.taken++;
      const r = m.message;
      if (r.tierUpMs !== undefined) {
        this.tierUps.get(r.id)?.(r.tierUpMs);
        this.tierUps.delete(r.id);
        continue;
      }
      if (r.error !== undefined) throw new Error(`a translated unit failed to compile: ${r.error}`);
      const compiled = this.compiles.get(r.id);
      if (compiled !== undefined) {
        this.compiles.delete(r.id);
        if (r.module === undefined) throw new Error("a translated unit failed to compile: no module");
        compiled(r.module);
        continue;
      }
      const done = this.waiting.get(r.id);
      this.waiting.delete(r.id);
      done?.(r.unit);
    }
  }

  /** Ends the worker (a process exit ends it too: it is unref'd). */
  async close(): Promise<void> {
    await this.worker?.terminate();
  }
}
