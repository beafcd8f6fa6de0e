// The embedding API under Node (src/web/Typevisor.ts, the same code the page's VM worker runs):
// Typevisor.boot from bytes, console and exit events, input, stats; and MemoryDisk, the in-memory
// disk that keeps a guest's writes beside its image. The guest is the control tests' tiny echo
// guest (prints TV-GUEST-READY, echoes input, 'p' powers off), so this takes a second or two.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Typevisor, parseMemory, BootError } from "../../src/web/Typevisor.js";
import { CHUNK, MemoryDisk, type ChunkStore } from "../../src/web/MemoryDisk.js";
import { buildGuest, hasCrossGcc } from "../control/guest.js";

test(
  "Typevisor.boot runs a guest in-process: console and exit events, input, stats",
  { timeout: 60_000 },
  async (t) => {
    if (!hasCrossGcc) return t.skip("riscv64-linux-gnu-gcc is not installed (apt-get install gcc-riscv64-linux-gnu)");
    const vm = await Typevisor.boot({ kernel: readFileSync(buildGuest()), memory: "64M", engine: "interp" });
    let out = "";
    const states: string[] = [];
    vm.on("state", (s) => states.push(s));
    const ready = new Promise<void>((resolve) =>
      vm.on("console", (b) => {
        out += Buffer.from(b).toString("latin1");
        if (out.includes("TV-GUEST-READY")) resolve();
      }),
    );
    let exitEvent: unknown;
    vm.on("exit", (e) => (exitEvent = e));
    await ready;
    vm.input("echo-me");
    vm.input(new TextEncoder().encode("p"));
    const exit = await vm.exited;
    assert.deepEqual(exit, { reason: "poweroff", status: 0 });
    assert.deepEqual(exitEvent, exit);
    assert.match(out, /TV-GUEST-READY\r?\n[\s\S]*echo-me/);
    const s = await vm.stats();
    assert.ok(s.instructions > 1000);
    assert.equal(s.engine, "interp");
    assert.ok(states.includes("stopped"));
  },
);

test("Typevisor.boot names what is wrong with its input", async () => {
  await assert.rejects(Typevisor.boot({ kernel: new Uint8Array(16), memory: "lots" }), BootError);
  await assert.rejects(Typevisor.boot({ kernel: new Uint8Array(0) }), /is empty/);
  assert.throws(() => parseMemory("lots"), /not a size like 256M/);
  assert.equal(parseMemory("256M"), 256 << 20);
  assert.equal(parseMemory(undefined), 256 << 20);
});

test("MemoryDisk keeps writes beside the image and hands out the changed image", async () => {
  const base = new Uint8Array(512 * 1024);
  for (let i = 0; i < base.length; i++) base[i] = i & 0xff;
  const copy = base.slice();
  const d = new MemoryDisk(base);
  assert.equal(d.size, base.length);
  // A write across a 64 KiB chunk boundary, scattered over two buffers.
  const at = 64 * 1024 - 100;
  await d.write([new Uint8Array(60).fill(0xaa), new Uint8Array(80).fill(0xbb)], at);
  await d.writeZeroes(300 * 1024, 4096);
  assert.deepEqual(base, copy, "the image itself is never written");
  const r = [new Uint8Array(70), new Uint8Array(70)];
  await d.read(r, at);
  assert.deepEqual(r[0], new Uint8Array(70).fill(0xaa).fill(0xbb, 60));
  assert.deepEqual(r[1], new Uint8Array(70).fill(0xbb));
  assert.equal(d.changedBytes, 3 * 64 * 1024);
  const whole = Buffer.concat(d.pieces());
  const expected = base.slice();
  expected
    .fill(0xaa, at, at + 60)
    .fill(0xbb, at + 60, at + 140)
    .fill(0, 300 * 1024, 300 * 1024 + 4096);
  assert.deepEqual(new Uint8Array(whole), expected);
  const ro = new MemoryDisk(base, true);
  await assert.rejects(ro.write([new Uint8Array(512)], 0), /read-only/);
  assert.throws(() => new MemoryDisk(new Uint8Array(1000)), /512-byte sectors/);
});

test("MemoryDisk saves changed chunks to its store and restores them in the next session", async () => {
  const base = new Uint8Array(4 * CHUNK + 512); // a short last chunk
  const saved = new Map<number, Uint8Array>();
  let flushes = 0;
  const store: ChunkStore = {
    load: () => new Map([...saved].map(([i, c]) => [i, c.slice()])),
    save: (i, c) => void saved.set(i, c.slice()),
    flush: () => void flushes++,
  };
  const d1 = new MemoryDisk(base, false, "d", store);
  await d1.write([new Uint8Array(1024).fill(7)], CHUNK - 512); // chunks 0 and 1
  await d1.write([new Uint8Array(512).fill(9)], 4 * CHUNK); // the short last chunk
  await d1.flush();
  assert.deepEqual([...saved.keys()].sort(), [0, 1, 4]);
  assert.equal(saved.get(4)!.length, 512);
  assert.equal(flushes, 1);
  const d2 = new MemoryDisk(base, false, "d", store);
  const r = new Uint8Array(1024);
  await d2.read([r], CHUNK - 512);
  assert.deepEqual(r, new Uint8Array(1024).fill(7));
  const last = new Uint8Array(512);
  await d2.read([last], 4 * CHUNK);
  assert.deepEqual(last, new Uint8Array(512).fill(9));
  // A store that fails turns a write into a failed request, not an exception.
  const failing: ChunkStore = {
    load: () => new Map(),
    save: () => {
      throw new Error("quota");
    },
    flush: () => {},
  };
  await assert.rejects(
    new MemoryDisk(base, false, "b", failing).write([new Uint8Array(512)], 0),
    /saving the change failed: quota/,
  );
});
