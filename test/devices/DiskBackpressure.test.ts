// Issue 12 item 5: a guest that queues many large writes must not make the host hold a copy of each.
// virtio-blk bounds the bytes in flight per disk (the rest wait in the ring), and the copy-on-write
// overlay writes from guest RAM without copying the request. The full-size reproduction (32 x 64 MiB,
// peak RSS) is test/devices/cowWriteFlood.ts; these are scaled, cheap versions of the same.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import type { BlockBackend } from "../../src/devices/block/BlockBackend.js";
import { CowOverlay } from "../../src/devices/block/CowOverlay.js";
import {
  MAX_INFLIGHT_BYTES,
  VirtioBlk,
  VIRTIO_BLK_S_OK,
  VIRTIO_BLK_T_OUT,
} from "../../src/devices/virtio/VirtioBlk.js";
import { makeGuest, rig, tempDir } from "./helpers.js";
import { gpa } from "../../src/memory/Address.js";

/** A backend whose writes complete only when the test says so. */
class HeldBackend implements BlockBackend {
  readonly size = 1 << 30;
  readonly readOnly = false;
  readonly description = "held";
  readonly pending: (() => void)[] = [];
  inflight = 0;
  peak = 0;
  read(): Promise<void> {
    return Promise.resolve();
  }
  write(bufs: readonly Uint8Array[]): Promise<void> {
    let n = 0;
    for (const b of bufs) n += b.length;
    this.inflight += n;
    this.peak = Math.max(this.peak, this.inflight);
    return new Promise((resolve) =>
      this.pending.push(() => {
        this.inflight -= n;
        resolve();
      }),
    );
  }
  flush(): Promise<void> {
    return Promise.resolve();
  }
  discard(): Promise<void> {
    return Promise.resolve();
  }
  writeZeroes(): Promise<void> {
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

test("virtio-blk: in-flight bytes per disk are bounded; the rest wait in the ring and all complete", async () => {
  const be = new HeldBackend();
  const mem = makeGuest(24 << 20);
  let blk!: VirtioBlk;
  const r = rig(mem, (m) => (blk = new VirtioBlk(m, be)));
  r.drv.init(0n, 1);
  const q = r.drv.queues[0]!;
  const LEN = 16 << 20;
  const N = 12; // 192 MiB of writes from one 16 MiB guest buffer
  const buf = r.drv.alloc.alloc(LEN, 4096);
  const status: number[] = [];
  for (let i = 0; i < N; i++) {
    const hdr = r.drv.alloc.alloc(16);
    mem.writeU32(gpa(hdr), VIRTIO_BLK_T_OUT);
    mem.writeU64(gpa(hdr + 8), BigInt((i * LEN) / 512));
    const s = r.drv.alloc.alloc(1, 1);
    mem.writeU8(gpa(s), 0xff);
    status.push(s);
    q.add(
      [
        { addr: hdr, len: 16 },
        { addr: buf, len: LEN },
      ],
      [{ addr: s, len: 1 }],
    );
  }
  q.kick();
  assert.equal(
    be.pending.length,
    MAX_INFLIGHT_BYTES / LEN,
    "only as many requests as the bound admits reach the backend",
  );
  let done = 0;
  while (be.pending.length > 0) {
    assert.ok(be.inflight <= MAX_INFLIGHT_BYTES, `backend holds ${be.inflight} bytes`);
    be.pending.shift()!();
    done++;
    await new Promise((res) => setImmediate(res));
  }
  assert.equal(done, N);
  const used = await r.drv.waitUsed(q, N);
  assert.equal(used.length, N, "every request completed");
  for (const s of status) assert.equal(mem.readU8(gpa(s)), VIRTIO_BLK_S_OK);
  assert.ok(be.peak <= MAX_INFLIGHT_BYTES);
  assert.ok(blk.stats.peakInflightBytes <= MAX_INFLIGHT_BYTES && blk.stats.throttled > 0);
});

test("overlay: queued writes hold no copy of the guest data", async (t) => {
  const dir = tempDir(t);
  const base = join(dir, "base.img");
  writeFileSync(base, "");
  truncateSync(base, 64 << 20);
  const ovl = await CowOverlay.open(base, join(dir, "o.cow"));
  t.after(() => ovl.close());
  const data = new Uint8Array(16 << 20).fill(7);
  const before = process.memoryUsage().arrayBuffers;
  const writes = [0, 1, 2, 3].map((i) => ovl.write([data], i * data.length));
  const grown = process.memoryUsage().arrayBuffers - before;
  await Promise.all(writes);
  assert.ok(grown < 4 << 20, `4 queued 16 MiB writes allocated ${grown} bytes of buffers`);
  const back = new Uint8Array(data.length);
  await ovl.read([back], 3 * data.length);
  assert.ok(back.every((b) => b === 7));
});

test("overlay: random vectored writes and reads match a byte model (copy-up, runs, reopen)", async (t) => {
  const dir = tempDir(t);
  const base = join(dir, "base.img");
  const SIZE = 64 * 1024;
  const content = randomBytes(SIZE);
  writeFileSync(base, content);
  let n = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(512, 1024, 4096),
      fc.array(
        fc.record({
          sector: fc.nat(SIZE / 512 - 1),
          sectors: fc.integer({ min: 1, max: 24 }),
          split: fc.array(fc.nat(), { maxLength: 3 }),
          fill: fc.integer({ min: 0, max: 255 }),
        }),
        { maxLength: 12 },
      ),
      async (cluster, ops) => {
        const path = join(dir, `o${n++}.cow`);
        const model = Uint8Array.from(content);
        let d = await CowOverlay.open(base, path, cluster);
        for (const op of ops) {
          const pos = op.sector * 512;
          const len = Math.min(op.sectors * 512, SIZE - pos);
          const data = new Uint8Array(len);
          for (let i = 0; i < len; i++) data[i] = (op.fill + i) & 0xff;
          // Split the request into a vector at random points, as a scatter-gather list would be.
          const cuts = [...new Set(op.split.map((s) => s % len))].filter((c) => c > 0).sort((a, b) => a - b);
          const vec: Uint8Array[] = [];
          let prev = 0;
          for (const c of [...cuts, len]) {
            vec.push(data.subarray(prev, c));
            prev = c;
          }
          await d.write(vec, pos);
          model.set(data, pos);
        }
        const check = async (what: string): Promise<void> => {
          const back = new Uint8Array(SIZE);
          await d.read([back.subarray(0, 1000), back.subarray(1000)], 0);
          assert.deepEqual(back, model, what);
        };
        await check("after writes");
        await d.close();
        d = await CowOverlay.open(base, path, cluster);
        await check("after reopening");
        await d.close();
      },
    ),
    { seed: 12, numRuns: 40 },
  );
});
