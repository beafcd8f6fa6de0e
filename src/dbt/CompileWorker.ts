// A UnitCompiler on a Node worker thread (src/dbt/UnitCompiler.ts): the vCPU's thread posts a unit's
// wasm bytes, the worker validates and compiles it and posts the WebAssembly.Module back (V8 shares
// the compiled code between the threads). The vCPU's thread never waits: it sees finished modules
// through a counter in shared memory and takes them with receiveMessageOnPort, without going through
// the event loop (which a busy vCPU visits only every ~10 ms).
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from "node:worker_threads";
import type { UnitCompiler } from "./UnitCompiler.js";

/** A message from the worker (CompileWorkerThread.ts). */
export interface CompiledUnit {
  id: number;
  module?: WebAssembly.Module;
  error?: string;
  /** A tier-up job's reply: its milliseconds on the worker, -1 if it failed. */
  tierUpMs?: number;
}

/** A job for the worker. */
export interface CompileJob {
  id: number;
  bytes: Uint8Array;
  memoryPages: number;
  shared: boolean;
  /** A tier-up job (UnitCompiler.tierUp): the module whose function "f" TurboFan compiles; bytes are empty. */
  tierUp?: WebAssembly.Module;
}

export class CompileWorker implements UnitCompiler {
  /** Started at the first compile (a machine on the interpreter never needs it). */
  private worker: Worker | undefined;
  private port: MessagePort | undefined;
  /** [0]: modules the worker has posted (it increments after each postMessage). */
  private readonly posted = new Int32Array(new SharedArrayBuffer(4));
  private taken = 0;
  private nextId = 0;
  private readonly waiting = new Map<number, (m: WebAssembly.Module) => void>();
  private readonly tierUps = new Map<number, (ms: number) => void>();
  private failure: Error | undefined;

  private start(): MessagePort {
    const { port1, port2 } = new MessageChannel();
    this.worker = new Worker(new URL("./CompileWorkerThread.js", import.meta.url), {
      workerData: { port: port2, posted: this.posted },
      transferList: [port2],
      // Its own heap holds nothing but the job in hand.
      resourceLimits: { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 64 },
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

  compile(bytes: Uint8Array, memoryPages: number, shared: boolean, done: (module: WebAssembly.Module) => void): void {
    const id = this.nextId++;
    this.waiting.set(id, done);
    const job: CompileJob = { id, bytes, memoryPages, shared };
    // Copied, not transferred: transferring (detaching) the buffers cost 0.4 ms a post on a boot,
    // copying 0.1 ms.
    (this.port ?? this.start()).postMessage(job);
  }

  tierUp(module: WebAssembly.Module, memoryPages: number, shared: boolean, done: (ms: number) => void): void {
    const id = this.nextId++;
    this.tierUps.set(id, done);
    const job: CompileJob = { id, bytes: new Uint8Array(0), memoryPages, shared, tierUp: module };
    (this.port ?? this.start()).postMessage(job);
  }

  ready(): boolean {
    return Atomics.load(this.posted, 0) !== this.taken || this.failure !== undefined;
  }

  drain(): void {
    if (this.failure) throw new Error(`the translator's compile worker failed: ${this.failure.message}`);
    const port = this.port;
    if (port === undefined) return;
    for (;;) {
      const m = receiveMessageOnPort(port) as { message: CompiledUnit } | undefined;
      if (m === undefined) return;
      this.taken++;
      const u = m.message;
      if (u.tierUpMs !== undefined) {
        this.tierUps.get(u.id)?.(u.tierUpMs);
        this.tierUps.delete(u.id);
        continue;
      }
      const done = this.waiting.get(u.id);
      this.waiting.delete(u.id);
      if (u.error !== undefined || u.module === undefined)
        throw new Error(`a translated unit failed to compile: ${u.error ?? "no module"}`);
      done?.(u.module);
    }
  }

  /** Ends the worker (a process exit ends it too: it is unref'd). */
  async close(): Promise<void> {
    await this.worker?.terminate();
  }
}
