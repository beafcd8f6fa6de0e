// Lazy restore with several threads (GuestMemory.beginLazy over shared marks, as vCPU threads do):
// threads touching the same absent pages at once read each page in exactly once, and a store a
// thread makes right after its touch is never overwritten by another thread's late read of the page.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Worker } from "node:worker_threads";
import type { ToucherInit } from "./lazyToucher.js";

const SIZE = 2 << 20;
const THREADS = 3;

test("threads sharing lazy marks read each page in once and keep each other's stores", async () => {
  const memory = new WebAssembly.Memory({ initial: SIZE / 65536, maximum: SIZE / 65536, shared: true });
  const pages = SIZE / 4096;
  const absent = new SharedArrayBuffer(pages);
  new Uint8Array(absent).fill(1);
  const source = new SharedArrayBuffer(SIZE);
  const src = new Uint8Array(source);
  for (let i = 0; i < SIZE; i++) src[i] = (i * 31 + (i >>> 12)) & 0x7f;
  const reads = new SharedArrayBuffer(4 * pages);
  const start = new SharedArrayBuffer(4);
  const done = Array.from({ length: THREADS }, (_, id) => {
    const init: ToucherInit = { id, memory, size: SIZE, absent, source, reads, start };
    const w = new Worker(new URL("./lazyToucher.js", import.meta.url), { workerData: init });
    return new Promise<void>((resolve, reject) => {
      w.once("message", () => resolve());
      w.once("error", reject);
    }).finally(() => w.terminate());
  });
  await new Promise((r) => setTimeout(r, 200)); // let every thread reach its start
  Atomics.store(new Int32Array(start), 0, 1);
  Atomics.notify(new Int32Array(start), 0);
  await Promise.all(done);
  const ram = new Uint8Array(memory.buffer, 0, SIZE);
  const r = new Int32Array(reads);
  for (let p = 0; p < pages; p++) {
    assert.equal(r[p], 1, `page ${p} was read in ${r[p]} times`);
    assert.equal(new Uint8Array(absent)[p], 0, `page ${p} still marked`);
    for (let id = 0; id < THREADS; id++)
      assert.equal(ram[p * 4096 + id], 0xf0 + id, `page ${p}: thread ${id}'s store was overwritten`);
    for (let i = THREADS; i < 4096; i += 97)
      assert.equal(ram[p * 4096 + i], src[p * 4096 + i], `page ${p} byte ${i} is not the file's`);
  }
});
