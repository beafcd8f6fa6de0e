// virtio-blk end to end through the test-side driver: negotiation, config, read/write/flush
// round trips checked in the image file, indirect chains, read-only disks, serial, write-zeroes,
// copy-on-write overlays.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  VirtioBlk,
  VIRTIO_BLK_F_RO,
  VIRTIO_BLK_S_IOERR,
  VIRTIO_BLK_S_OK,
  VIRTIO_BLK_T_FLUSH,
  VIRTIO_BLK_T_GET_ID,
  VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_OUT,
  VIRTIO_BLK_T_WRITE_ZEROES,
  VIRTIO_BLK_F_FLUSH,
} from "../../src/devices/virtio/VirtioBlk.js";
import { openDisk } from "../../src/devices/block/openDisk.js";
import type { BlockBackend } from "../../src/devices/block/BlockBackend.js";
import { STATUS_DEVICE_NEEDS_RESET } from "../../src/devices/virtio/VirtioMmio.js";
import { bit } from "../../src/devices/virtio/VirtioDevice.js";
import { makeGuest, rig, sentinelIntact, tempDir, type Rig } from "./helpers.js";
import { blkRequest } from "./blkRequest.js";
import { gpa } from "../../src/memory/Address.js";

async function blkRig(
  t: { after(fn: () => unknown): void },
  backend: BlockBackend,
  serial?: string,
): Promise<Rig & { blk: VirtioBlk }> {
  const mem = makeGuest();
  let blk!: VirtioBlk;
  const r = rig(mem, (m) => (blk = new VirtioBlk(m, backend, { serial })));
  t.after(() => backend.close());
  return { ...r, blk };
}

test("virtio-blk: negotiation, capacity, and a written block is in the image file after flush", async (t) => {
  const dir = tempDir(t);
  const img = join(dir, "disk.img");
  writeFileSync(img, Buffer.alloc(1 << 20));
  const r = await blkRig(t, await openDisk({ path: img }));
  r.drv.init(bit(VIRTIO_BLK_F_FLUSH) | bit(13) | bit(14) | bit(2), 1);
  assert.equal(r.mmio.read(8, 4), 2, "device ID 2 (block)");
  assert.equal(r.drv.config64(0), 2048n, "capacity in 512-byte sectors");
  const q = r.drv.queues[0]!;
  const data = randomBytes(8192);
  let res = await blkRequest(r, q, VIRTIO_BLK_T_OUT, 10, data);
  assert.equal(res.status, VIRTIO_BLK_S_OK);
  assert.equal(res.len, 1, "used.len counts only the status byte for a write");
  res = await blkRequest(r, q, VIRTIO_BLK_T_FLUSH, 0, 0);
  assert.equal(res.status, VIRTIO_BLK_S_OK);
  assert.deepEqual(
    readFileSync(img).subarray(10 * 512, 10 * 512 + 8192),
    data,
    "data is in the image file after flush",
  );
  r.mem.takeDirty();
  res = await blkRequest(r, q, VIRTIO_BLK_T_IN, 10, 8192);
  assert.equal(res.status, VIRTIO_BLK_S_OK);
  assert.equal(res.len, 8193);
  const dirty = r.mem.takeDirty();
  const usedPage = (q.used - r.mem.base) >>> 12;
  assert.ok(dirty.includes(usedPage), "the used ring page is marked dirty for migration");
  assert.ok(dirty.length >= 3, "the DMA'd data pages are marked dirty too");
  assert.deepEqual(Buffer.from(res.data), data, "read back what was written");
  assert.ok(r.irq.raised >= 1 && r.drv.usedIrqs >= 1, "used-buffer interrupts were raised");
  assert.ok(sentinelIntact(r.mem));
});

test("virtio-blk: requests through indirect descriptor tables", async (t) => {
  const dir = tempDir(t);
  const img = join(dir, "disk.img");
  const content = randomBytes(1 << 16);
  writeFileSync(img, content);
  const r = await blkRig(t, await openDisk({ path: img }));
  r.drv.init(0n, 1, { indirect: true });
  const q = r.drv.queues[0]!;
  const res = await blkRequest(r, q, VIRTIO_BLK_T_IN, 3, 4096, true);
  assert.equal(res.status, VIRTIO_BLK_S_OK);
  assert.deepEqual(Buffer.from(res.data), content.subarray(3 * 512, 3 * 512 + 4096));
});

test("virtio-blk: many requests in flight at once all complete, with event-index interrupt suppression", async (t) => {
  const dir = tempDir(t);
  const img = join(dir, "disk.img");
  const content = randomBytes(1 << 20);
  writeFileSync(img, content);
  const r = await blkRig(t, await openDisk({ path: img }));
  r.drv.init(0n, 1, { eventIdx: true });
  const q = r.drv.queues[0]!;
  const bufs: number[] = [];
  for (let i = 0; i < 32; i++) {
    const hdr = r.drv.alloc.alloc(16);
    r.mem.writeU32(gpa(hdr), VIRTIO_BLK_T_IN);
    r.mem.writeU64(gpa(hdr + 8), BigInt(i * 8));
    const buf = r.drv.alloc.alloc(4097, 512);
    bufs.push(buf);
    q.add(
      [{ addr: hdr, len: 16 }],
      [
        { addr: buf, len: 4096 },
        { addr: buf + 4096, len: 1 },
      ],
    );
  }
  assert.equal(q.kick(), true);
  const used = await r.drv.waitUsed(q, 32);
  assert.equal(used.length, 32);
  for (let i = 0; i < 32; i++) {
    assert.equal(r.mem.readU8(gpa(bufs[i]! + 4096)), VIRTIO_BLK_S_OK);
    assert.deepEqual(Buffer.from(r.mem.read(gpa(bufs[i]!), 4096)), content.subarray(i * 4096, i * 4096 + 4096));
  }
});

test("virtio-blk: a read-only disk offers VIRTIO_BLK_F_RO, fails writes with IOERR and leaves the file alone", async (t) => {
  const dir = tempDir(t);
  const img = join(dir, "ro.img");
  const content = randomBytes(65536);
  writeFileSync(img, content);
  const r = await blkRig(t, await openDisk({ path: img, readOnly: true }));
  r.drv.init(bit(VIRTIO_BLK_F_RO), 1);
  assert.ok(r.drv.features & bit(VIRTIO_BLK_F_RO));
  const q = r.drv.queues[0]!;
  const res = await blkRequest(r, q, VIRTIO_BLK_T_OUT, 0, new Uint8Array(512).fill(7));
  assert.equal(res.status, VIRTIO_BLK_S_IOERR);
  assert.deepEqual(readFileSync(img), content);
  assert.equal((await blkRequest(r, q, VIRTIO_BLK_T_IN, 0, 512)).status, VIRTIO_BLK_S_OK);
});

test("virtio-blk: GET_ID returns the configured serial", async (t) => {
  const dir = tempDir(t);
  const img = join(dir, "d.img");
  writeFileSync(img, Buffer.alloc(4096));
  const r = await blkRig(t, await openDisk({ path: img }), "TV-SERIAL-0042");
  r.drv.init(0n, 1);
  const res = await blkRequest(r, r.drv.queues[0]!, VIRTIO_BLK_T_GET_ID, 0, 20);
  assert.equal(res.status, VIRTIO_BLK_S_OK);
  assert.equal(Buffer.from(res.data).toString("latin1").replace(/\0+$/, ""), "TV-SERIAL-0042");
});

test("virtio-blk: WRITE_ZEROES zeroes exactly the given sectors", async (t) => {
  const dir = tempDir(t);
  const img = join(dir, "z.img");
  writeFileSync(img, Buffer.alloc(1 << 16, 0xee));
  const r = await blkRig(t, await openDisk({ path: img }));
  r.drv.init(bit(14), 1);
  const seg = new Uint8Array(16);
  const dv = new DataView(seg.buffer);
  dv.setBigUint64(0, 4n, true);
  dv.setUint32(8, 3, true);
  const res = await blkRequest(r, r.drv.queues[0]!, VIRTIO_BLK_T_WRITE_ZEROES, 0, seg);
  assert.equal(res.status, VIRTIO_BLK_S_OK);
  await blkRequest(r, r.drv.queues[0]!, VIRTIO_BLK_T_FLUSH, 0, 0);
  const f = readFileSync(img);
  assert.ok(f.subarray(0, 4 * 512).every((b) => b === 0xee));
  assert.ok(f.subarray(4 * 512, 7 * 512).every((b) => b === 0));
  assert.ok(f.subarray(7 * 512).every((b) => b === 0xee));
});

test("virtio-blk: copy-on-write overlay keeps the base image byte-identical and persists writes", async (t) => {
  const dir = tempDir(t);
  const base = join(dir, "base.img");
  const ovl = join(dir, "vm1.ovl");
  const content = randomBytes(1 << 18);
  writeFileSync(base, content);
  const hash = () => createHash("sha256").update(readFileSync(base)).digest("hex");
  const before = hash();
  {
    const r = await blkRig(t, await openDisk({ path: base, overlay: ovl }));
    r.drv.init(0n, 1);
    const q = r.drv.queues[0]!;
    // Sub-cluster write (copy-up) and a whole-cluster write.
    assert.equal((await blkRequest(r, q, VIRTIO_BLK_T_OUT, 1, new Uint8Array(512).fill(1))).status, VIRTIO_BLK_S_OK);
    assert.equal((await blkRequest(r, q, VIRTIO_BLK_T_OUT, 16, new Uint8Array(8192).fill(2))).status, VIRTIO_BLK_S_OK);
    assert.equal((await blkRequest(r, q, VIRTIO_BLK_T_FLUSH, 0, 0)).status, VIRTIO_BLK_S_OK);
    const res = await blkRequest(r, q, VIRTIO_BLK_T_IN, 0, 16384);
    const expect = Buffer.from(content.subarray(0, 16384));
    expect.fill(1, 512, 1024);
    expect.fill(2, 8192, 16384);
    assert.deepEqual(Buffer.from(res.data), expect);
  }
  assert.equal(hash(), before, "base image unchanged");
  // Reopen the overlay: the writes are still there.
  const r2 = await blkRig(t, await openDisk({ path: base, overlay: ovl }));
  r2.drv.init(0n, 1);
  const res = await blkRequest(r2, r2.drv.queues[0]!, VIRTIO_BLK_T_IN, 0, 1024);
  assert.deepEqual(Buffer.from(res.data.subarray(0, 512)), content.subarray(0, 512));
  assert.ok(res.data.subarray(512).every((b) => b === 1));
});

test("virtio-blk: a reset while I/O is in flight drops the completion instead of writing the new rings", async (t) => {
  const dir = tempDir(t);
  const img = join(dir, "d.img");
  writeFileSync(img, Buffer.alloc(1 << 16, 3));
  const r = await blkRig(t, await openDisk({ path: img }));
  r.drv.init(0n, 1);
  const q = r.drv.queues[0]!;
  const hdr = r.drv.alloc.alloc(16);
  r.mem.writeU32(gpa(hdr), VIRTIO_BLK_T_IN);
  const buf = r.drv.alloc.alloc(4097, 512);
  q.add([{ addr: hdr, len: 16 }], [{ addr: buf, len: 4097 }]);
  q.kick();
  r.drv.setReg(0x70, 0); // reset with the read still in flight
  await r.mmio.idle();
  assert.equal(r.mem.readU16(gpa(q.used + 2)), 0, "no used entry after reset");
  assert.equal(r.irq.level, false);
  assert.equal(r.mmio.status & STATUS_DEVICE_NEEDS_RESET, 0);
});
