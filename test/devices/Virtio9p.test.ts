// virtio-9p through the virtio-mmio transport, driven the way Linux's trans_virtio.c drives it: the
// mount tag in configuration space, one T-message per chain (split over several buffers) and the
// R-message written into the device-writable ones; hostile chains still get an answer.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Virtio9p } from "../../src/devices/virtio/Virtio9p.js";
import { P9Server } from "../../src/devices/fs/P9Server.js";
import { STATUS_DEVICE_NEEDS_RESET } from "../../src/devices/virtio/VirtioMmio.js";
import { makeGuest, rig, sentinelIntact, tempDir, type Rig } from "./helpers.js";
import type { DriverQueue } from "./VirtioDriver.js";
import { msg } from "../fs/p9Message.js";
import { gpa } from "../../src/memory/Address.js";

const EMSGSIZE = 90;

function setup(t: { after(fn: () => void): void }): Rig & { q: DriverQueue; share: string } {
  const share = join(tempDir(t), "share");
  mkdirSync(share);
  writeFileSync(join(share, "f.txt"), "0123456789".repeat(100));
  const r = rig(makeGuest(), (m) => new Virtio9p(m, new P9Server(share), "hostdir"));
  r.drv.init(1n, 1);
  return { ...r, q: r.drv.queues[0]!, share };
}

/** Puts `req` in guest memory (in `split` pieces), offers `replyLen` bytes for the reply; returns it. */
async function exchange(r: Rig & { q: DriverQueue }, req: Buffer, replyLen: number, split = 1): Promise<Buffer> {
  const a = r.drv.alloc.alloc(req.length);
  r.mem.write(gpa(a), req);
  const piece = Math.ceil(req.length / split);
  const out = [];
  for (let o = 0; o < req.length; o += piece) out.push({ addr: a + o, len: Math.min(piece, req.length - o) });
  const b = r.drv.alloc.alloc(replyLen);
  const half = replyLen >> 1;
  r.q.add(
    out,
    replyLen > 16
      ? [
          { addr: b, len: half },
          { addr: b + half, len: replyLen - half },
        ]
      : [{ addr: b, len: replyLen }],
  );
  r.q.kick();
  const [u] = await r.drv.waitUsed(r.q, 1);
  assert.ok(u);
  return Buffer.from(r.mem.read(gpa(b), u.len));
}

test("virtio-9p: device ID 9, the mount tag in configuration space, requests and replies over split buffers", async (t) => {
  const r = setup(t);
  assert.equal(r.mmio.read(8, 4), 9, "device ID 9 (9P transport)");
  assert.equal(r.drv.features & 1n, 1n, "VIRTIO_9P_MOUNT_TAG negotiated");
  const len = r.drv.config16(0);
  assert.equal(len, 7);
  assert.equal(String.fromCharCode(...Array.from({ length: len }, (_, i) => r.drv.config8(2 + i))), "hostdir");
  const v = await exchange(r, msg(100, 8192, "9P2000.L"), 64, 2);
  assert.equal(v.readUInt8(4), 101);
  assert.equal(v.readUInt32LE(7), 8192);
  assert.equal((await exchange(r, msg(104, 0, 0xffffffff, "root", "", 0), 64)).readUInt8(4), 105);
  assert.equal((await exchange(r, msg(110, 0, 1, [1, 2], "f.txt"), 64, 3)).readUInt8(4), 111);
  assert.equal((await exchange(r, msg(12, 1, 0), 64)).readUInt8(4), 13);
  const rd = await exchange(r, msg(116, 1, [990n, 8], 100), 200);
  assert.equal(rd.readUInt8(4), 117);
  assert.equal(rd.subarray(11, 11 + rd.readUInt32LE(7)).toString(), "0123456789", "the file's last 10 bytes");
  assert.ok(sentinelIntact(r.mem));
});

test("hostile: virtio-9p answers oversized requests and replies that do not fit with Rlerror EMSGSIZE", async (t) => {
  const r = setup(t);
  await exchange(r, msg(100, 8192, "9P2000.L"), 64);
  await exchange(r, msg(104, 0, 0xffffffff, "root", "", 0), 64);
  await exchange(r, msg(110, 0, 1, [1, 2], "f.txt"), 64);
  await exchange(r, msg(12, 1, 0), 64);
  // A request larger than the negotiated msize: answered, with its tag, not read in full.
  const big = msg(118, 1, [0n, 8], 9000, Buffer.alloc(9000));
  big.writeUInt16LE(0x1234, 5);
  const e = await exchange(r, big, 64);
  assert.equal(e.readUInt8(4), 7, "Rlerror");
  assert.equal(e.readUInt16LE(5), 0x1234, "the request's tag");
  assert.equal(e.readUInt32LE(7), EMSGSIZE);
  // A read whose reply does not fit the buffer offered.
  const small = await exchange(r, msg(116, 1, [0n, 8], 500), 40);
  assert.equal(small.readUInt8(4), 7);
  assert.equal(small.readUInt32LE(7), EMSGSIZE);
  // No room even for an Rlerror: the chain is returned with nothing written.
  assert.equal((await exchange(r, msg(116, 1, [0n, 8], 500), 8)).length, 0);
  // Runt request (shorter than a header).
  assert.equal((await exchange(r, Buffer.from([1, 2, 3]), 64)).readUInt8(4), 7);
  assert.equal(r.mmio.status & STATUS_DEVICE_NEEDS_RESET, 0);
  assert.ok(sentinelIntact(r.mem));
  assert.ok(r.logs.some((l) => /does not fit/.test(l)));
});
