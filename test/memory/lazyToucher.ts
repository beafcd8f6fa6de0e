// Worker for LazyShared.test.ts: a thread's own GuestMemory view over the shared RAM and lazy marks,
// touching every page (in its own order) and then storing its marker byte in each.
import { workerData, parentPort } from "node:worker_threads";
import { GuestMemory } from "../../src/memory/GuestMemory.js";

export interface ToucherInit {
  id: number;
  memory: WebAssembly.Memory;
  size: number;
  absent: SharedArrayBuffer;
  /** The "snapshot file": page p's bytes. */
  source: SharedArrayBuffer;
  /** pageIn calls per page, over all threads. */
  reads: SharedArrayBuffer;
  /** Word 0: 0 until every thread may go. */
  start: SharedArrayBuffer;
}

const init = workerData as ToucherInit;
const mem = new GuestMemory({ base: 0x80000000, size: init.size, wasmMemory: init.memory });
const source = new Uint8Array(init.source);
const reads = new Int32Array(init.reads);
mem.beginLazy(new Uint8Array(init.absent), (p) => {
  Atomics.add(reads, p, 1);
  mem.bytes.set(source.subarray(p * 4096, (p + 1) * 4096), p * 4096);
});
const pages = init.size / 4096;
Atomics.wait(new Int32Array(init.start), 0, 0);
// Each thread walks the pages from its own starting point, so they meet on pages in all orders.
for (let i = 0; i < pages; i++) {
  const p = (i * (2 * init.id + 1) + init.id * 97) % pages;
  mem.touch(p * 4096);
  mem.bytes[p * 4096 + init.id] = 0xf0 + init.id;
}
parentPort?.postMessage("done");
