// Hostile-guest tests for the virtio transport and split virtqueue (driven through virtio-blk):
// every malformed case either fails just that request with an error status or sets
// DEVICE_NEEDS_RESET with a logged reason; never an exception, a hang, or a write outside RAM.
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  VirtioBlk,
  VIRTIO_BLK_S_IOERR,
  VIRTIO_BLK_S_UNSUPP,
  VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_OUT,
} from "../../src/devices/virtio/VirtioBlk.js";
import { RawImage } from "../../src/devices/block/RawImage.js";
import {
  REG,
  STATUS_DEVICE_NEEDS_RESET,
  STATUS_FEATURES_OK,
  STATUS_ACKNOWLEDGE,
  STATUS_DRIVER,
} from "../../src/devices/virtio/VirtioMmio.js";
import { makeGuest, rig, sentinelIntact, tempDir, RAM_BASE, type Rig } from "./helpers.js";
import { blkRequest } from "./blkRequest.js";
import { gpa } from "../../src/memory/Address.js";

const RAM = 4 << 20;

async function setup(
  t: { after(fn: () => void): void },
  opts: { indirect?: boolean } = {},
): Promise<Rig & { img: string }> {
  const dir = tempDir(t);
  const img = join(dir, "d.img");
  writeFileSync(img, Buffer.alloc(1 << 16, 0x5a));
  const be = await RawImage.open(img, false);
  // eslint-disable-next-line @typescript-eslint/no-misused-promises -- node:test awaits a hook's promise
  t.after(() => be.close());
  const r = rig(makeGuest(RAM), (m) => new VirtioBlk(m, be));
  r.drv.init(0n, 1, { indirect: opts.indirect ?? true, queueSize: 16 });
  return { ...r, img };
}

function hdr(r: Rig, type: number, sector: bigint): number {
  const h = r.drv.alloc.alloc(16);
  r.mem.writeU32(gpa(h), type);
  r.mem.writeU64(gpa(h + 8), sector);
  return h;
}

function assertNeedsReset(r: Rig, pattern: RegExp): void {
  assert.ok(r.mmio.status & STATUS_DEVICE_NEEDS_RESET, "DEVICE_NEEDS_RESET set");
  assert.match(r.mmio.lastError, pattern);
  assert.ok(
    r.logs.some((l) => pattern.test(l)),
    "reason logged",
  );
  assert.equal(r.drv.handleInterrupt() & 2, 2, "configuration-change interrupt raised");
  assert.ok(sentinelIntact(r.mem), "nothing written outside guest RAM");
}

test("hostile: a descriptor chain that loops sets DEVICE_NEEDS_RESET, no hang", async (t) => {
  const r = await setup(t);
  const q = r.drv.queues[0]!;
  const h = hdr(r, VIRTIO_BLK_T_IN, 0n);
  q.setDesc(0, h, 16, 1, 1);
  q.setDesc(1, h, 16, 1 | 2, 0); // 1 -> 0 -> 1 ...
  q.pushRawHead(0);
  r.drv.setReg(REG.QueueNotify, 0);
  assertNeedsReset(r, /loops/);
  // Further notifies are ignored until reset; a reset makes the device usable again.
  r.drv.setReg(REG.QueueNotify, 0);
  r.drv.setReg(REG.Status, 0);
  assert.equal(r.mmio.status, 0);
  r.drv.init(0n, 1);
  assert.equal((await blkRequest(r, r.drv.queues[0]!, VIRTIO_BLK_T_IN, 0, 512)).status, 0);
});

test("hostile: head or next index past the descriptor table sets DEVICE_NEEDS_RESET", async (t) => {
  const r = await setup(t);
  r.drv.queues[0]!.pushRawHead(40000);
  r.drv.setReg(REG.QueueNotify, 0);
  assertNeedsReset(r, /head index 40000/);

  const r2 = await setup(t);
  const q2 = r2.drv.queues[0]!;
  q2.setDesc(0, hdr(r2, VIRTIO_BLK_T_IN, 0n), 16, 1, 999);
  q2.pushRawHead(0);
  r2.drv.setReg(REG.QueueNotify, 0);
  assertNeedsReset(r2, /links to 999/);
});

test("hostile: avail.idx jumping more than the queue size sets DEVICE_NEEDS_RESET", async (t) => {
  const r = await setup(t);
  const q = r.drv.queues[0]!;
  r.mem.writeU16(gpa(q.avail + 2), 500);
  r.drv.setReg(REG.QueueNotify, 0);
  assertNeedsReset(r, /500 buffers available/);
});

test("hostile: a data buffer outside guest RAM fails the request with IOERR and touches nothing", async (t) => {
  const r = await setup(t);
  const q = r.drv.queues[0]!;
  const status = r.drv.alloc.alloc(1, 1);
  // Data "buffer" right after RAM: a read would DMA into the sentinel area if unchecked.
  q.add(
    [{ addr: hdr(r, VIRTIO_BLK_T_IN, 0n), len: 16 }],
    [
      { addr: RAM_BASE + RAM - 512, len: 1024 },
      { addr: status, len: 1 },
    ],
  );
  q.kick();
  const used = await r.drv.waitUsed(q);
  assert.equal(used.length, 1);
  assert.equal(r.mem.readU8(gpa(status)), VIRTIO_BLK_S_IOERR);
  assert.equal(r.mmio.status & STATUS_DEVICE_NEEDS_RESET, 0, "only the request failed");
  assert.ok(r.logs.some((l) => /outside guest RAM/.test(l)));
  assert.ok(sentinelIntact(r.mem));
  // Address with the high bits set (wraps in 32 bits) is rejected too.
  q.add(
    [{ addr: hdr(r, VIRTIO_BLK_T_IN, 0n), len: 16 }],
    [
      { addr: 2 ** 52 + RAM_BASE, len: 512 },
      { addr: status, len: 1 },
    ],
  );
  q.kick();
  await r.drv.waitUsed(q);
  assert.equal(r.mem.readU8(gpa(status)), VIRTIO_BLK_S_IOERR);
  assert.ok(sentinelIntact(r.mem));
});

test("hostile: a device-writable buffer before a device-readable one fails the request", async (t) => {
  const r = await setup(t);
  const q = r.drv.queues[0]!;
  const buf = r.drv.alloc.alloc(512);
  const status = r.drv.alloc.alloc(1, 1);
  // Header marked writable, data readable: wrong directions (§2.7.4.2).
  q.setDesc(0, hdr(r, VIRTIO_BLK_T_OUT, 0n), 16, 1 | 2, 1);
  q.setDesc(1, buf, 512, 1, 2);
  q.setDesc(2, status, 1, 2, 0);
  q.pushRawHead(0);
  r.drv.setReg(REG.QueueNotify, 0);
  await r.mmio.idle();
  assert.equal(r.mem.readU8(gpa(status)), VIRTIO_BLK_S_IOERR);
  assert.ok(r.logs.some((l) => /device-readable buffer after a device-writable/.test(l)));
});

test("hostile: reads past the end of the disk, odd lengths, unknown types fail with a status", async (t) => {
  const r = await setup(t);
  const q = r.drv.queues[0]!;
  assert.equal((await blkRequest(r, q, VIRTIO_BLK_T_IN, 127, 1024)).status, VIRTIO_BLK_S_IOERR, "past the end");
  assert.equal((await blkRequest(r, q, VIRTIO_BLK_T_IN, 2 ** 52, 512)).status, VIRTIO_BLK_S_IOERR, "absurd sector");
  assert.equal((await blkRequest(r, q, VIRTIO_BLK_T_IN, 0, 100)).status, VIRTIO_BLK_S_IOERR, "not a sector multiple");
  assert.equal((await blkRequest(r, q, 77, 0, 0)).status, VIRTIO_BLK_S_UNSUPP, "unknown type");
  assert.equal(r.mmio.status & STATUS_DEVICE_NEEDS_RESET, 0);
  assert.ok(sentinelIntact(r.mem));
});

test("hostile: bad indirect tables (nested, absurd length, outside RAM, not negotiated) set DEVICE_NEEDS_RESET", async (t) => {
  const cases: [string, (r: Rig) => void, RegExp][] = [
    [
      "nested",
      (r) => {
        const tbl = r.drv.alloc.alloc(32);
        r.mem.writeU64(gpa(tbl), BigInt(tbl));
        r.mem.writeU32(gpa(tbl + 8), 32);
        r.mem.writeU16(gpa(tbl + 12), 4);
        r.drv.queues[0]!.setDesc(0, tbl, 32, 4, 0);
      },
      /inside an indirect table/,
    ],
    ["absurd length", (r) => r.drv.queues[0]!.setDesc(0, RAM_BASE, 0x100000, 4, 0), /absurdly long/],
    ["odd length", (r) => r.drv.queues[0]!.setDesc(0, RAM_BASE, 24, 4, 0), /multiple of 16/],
    ["outside RAM", (r) => r.drv.queues[0]!.setDesc(0, RAM_BASE + RAM - 16, 64, 4, 0), /outside guest RAM/],
    ["indirect and next", (r) => r.drv.queues[0]!.setDesc(0, RAM_BASE, 16, 4 | 1, 1), /both INDIRECT and NEXT/],
  ];
  for (const [name, mk, re] of cases) {
    const r = await setup(t);
    mk(r);
    r.drv.queues[0]!.pushRawHead(0);
    r.drv.setReg(REG.QueueNotify, 0);
    assert.ok(r.mmio.status & STATUS_DEVICE_NEEDS_RESET, name);
    assertNeedsReset(r, re);
  }
  const r = await setup(t, { indirect: false });
  r.drv.queues[0]!.setDesc(0, RAM_BASE, 16, 4, 0);
  r.drv.queues[0]!.pushRawHead(0);
  r.drv.setReg(REG.QueueNotify, 0);
  assertNeedsReset(r, /not negotiated/);
});

test("hostile: rings outside RAM at QueueReady set DEVICE_NEEDS_RESET and the queue stays off", async (t) => {
  const r = await setup(t);
  r.drv.setReg(REG.Status, 0);
  r.drv.setReg(REG.Status, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
  r.drv.setReg(REG.DriverFeaturesSel, 1);
  r.drv.setReg(REG.DriverFeatures, 1);
  r.drv.setReg(REG.Status, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
  r.drv.setReg(REG.QueueSel, 0);
  r.drv.setReg(REG.QueueNum, 16);
  r.drv.setReg(REG.QueueDescLow, 0x1000);
  r.drv.setReg(REG.QueueDriverLow, RAM_BASE);
  r.drv.setReg(REG.QueueDeviceLow, RAM_BASE + 0x1000);
  r.drv.setReg(REG.QueueReady, 1);
  assert.equal(r.drv.reg(REG.QueueReady), 0);
  assert.ok(r.mmio.status & STATUS_DEVICE_NEEDS_RESET);
  assert.match(r.mmio.lastError, /outside guest RAM/);
  assert.ok(sentinelIntact(r.mem));
});

test("hostile: a driver that refuses VERSION_1 or accepts unoffered features does not get FEATURES_OK", async (t) => {
  const r = await setup(t);
  r.drv.setReg(REG.Status, 0);
  r.drv.setReg(REG.Status, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
  r.drv.setReg(REG.DriverFeaturesSel, 0);
  r.drv.setReg(REG.DriverFeatures, 0);
  r.drv.setReg(REG.Status, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
  assert.equal(r.drv.status & STATUS_FEATURES_OK, 0);
  assert.match(r.mmio.lastError, /VERSION_1/);
  r.drv.setReg(REG.Status, 0);
  r.drv.setReg(REG.Status, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
  r.drv.setReg(REG.DriverFeaturesSel, 1);
  r.drv.setReg(REG.DriverFeatures, 1 | (1 << 30));
  r.drv.setReg(REG.Status, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
  assert.equal(r.drv.status & STATUS_FEATURES_OK, 0);
  assert.match(r.mmio.lastError, /never offered/);
});

test("hostile: odd-width register accesses and unknown registers are ignored, not fatal", async (t) => {
  const r = await setup(t);
  assert.equal(r.mmio.read(REG.MagicValue, 1), 0);
  r.mmio.write(REG.Status, 2, 0);
  r.mmio.write(0x0f0, 4, 123);
  assert.equal(r.mmio.read(0x100 + 4096, 4), 0, "config read past the end is 0");
  assert.ok(r.drv.status & 4, "still DRIVER_OK");
});

test("hostile: an exception inside a device model parks the device (DEVICE_NEEDS_RESET) instead of escaping to the VMM", () => {
  const r = rig(makeGuest(), () => ({
    deviceId: 99,
    name: "buggy",
    features: 0n,
    queueMaxSizes: [8],
    configRead: () => 0,
    configWrite: () => {},
    activate: () => {},
    reset: () => {},
    idle: () => Promise.resolve(),
    queueNotify: () => {
      throw new TypeError("device bug");
    },
  }));
  r.drv.init(0n, 1);
  assert.doesNotThrow(() => r.drv.setReg(REG.QueueNotify, 0));
  assert.ok(r.mmio.status & STATUS_DEVICE_NEEDS_RESET);
  assert.match(r.mmio.lastError, /internal error.*device bug/);
});

test("status: after the driver sets FAILED, notifications are ignored until reset", async (t) => {
  const r = await setup(t);
  const q = r.drv.queues[0]!;
  r.drv.setReg(REG.Status, r.drv.status | 128);
  const h = hdr(r, VIRTIO_BLK_T_IN, 0n);
  const st = r.drv.alloc.alloc(1, 1);
  r.mem.writeU8(gpa(st), 0xff);
  q.add(
    [{ addr: h, len: 16 }],
    [
      { addr: r.drv.alloc.alloc(512), len: 512 },
      { addr: st, len: 1 },
    ],
  );
  r.drv.setReg(REG.QueueNotify, 0);
  await r.mmio.idle();
  assert.equal(r.mem.readU8(gpa(st)), 0xff, "request not processed");
  assert.equal(r.mem.readU16(gpa(q.used + 2)), 0);
  r.drv.setReg(REG.Status, 0);
  assert.equal(r.drv.status, 0, "reset clears FAILED");
});

test("hostile: a guest that breaks and resets the device in a loop gets a bounded number of log lines", async (t) => {
  const r = await setup(t);
  for (let i = 0; i < 1000; i++) {
    r.drv.setReg(REG.Status, 0);
    r.drv.setReg(REG.Status, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
    r.drv.setReg(REG.QueueSel, 0);
    r.drv.setReg(REG.QueueDescLow, 0x1000); // outside RAM: DEVICE_NEEDS_RESET every round
    r.drv.setReg(REG.QueueReady, 1);
    assert.ok(r.mmio.status & STATUS_DEVICE_NEEDS_RESET);
  }
  assert.match(r.mmio.lastError, /outside guest RAM/, "the reason is still recorded");
  assert.ok(r.logs.length <= 25, `${r.logs.length} log lines`);
  assert.ok(
    r.logs.some((l) => /not logged/.test(l)),
    "says that further errors are not logged",
  );
});
