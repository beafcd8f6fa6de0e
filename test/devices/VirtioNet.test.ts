// virtio-net: two VMs' NICs on one VirtualSwitch exchange frames end to end through the test-side
// driver; hostile frames and buffers are dropped with the device still healthy.
import { test } from "node:test";
import assert from "node:assert/strict";
import { VirtioNet, VIRTIO_NET_F_MAC, VIRTIO_NET_HDR_LEN } from "../../src/devices/virtio/VirtioNet.js";
import { VirtualSwitch } from "../../src/devices/net/VirtualSwitch.js";
import { parseMac } from "../../src/devices/net/NetBackend.js";
import type { NetBackend } from "../../src/devices/net/NetBackend.js";
import { STATUS_DEVICE_NEEDS_RESET } from "../../src/devices/virtio/VirtioMmio.js";
import { bit } from "../../src/devices/virtio/VirtioDevice.js";
import { makeGuest, rig, sentinelIntact, RAM_BASE, type Rig } from "./helpers.js";
import { gpa } from "../../src/memory/Address.js";

const MAC_A = parseMac("52:54:00:00:00:0a");
const MAC_B = parseMac("52:54:00:00:00:0b");

function nic(backend: NetBackend, mac: Uint8Array): Rig & { dev: VirtioNet; rxBufs: number[] } {
  let dev!: VirtioNet;
  const r = rig(makeGuest(), (m) => (dev = new VirtioNet(m, backend, { mac })));
  r.drv.init(bit(VIRTIO_NET_F_MAC) | bit(16) | bit(3), 2);
  const rxBufs: number[] = [];
  for (let i = 0; i < 8; i++) {
    const b = r.drv.alloc.alloc(1526);
    rxBufs.push(b);
    r.drv.queues[0]!.add([], [{ addr: b, len: 1526 }]);
  }
  r.drv.queues[0]!.kick();
  return { ...r, dev, rxBufs };
}

function frame(dst: Uint8Array, src: Uint8Array, payload: string): Uint8Array {
  const p = new TextEncoder().encode(payload);
  const f = new Uint8Array(14 + Math.max(p.length, 46));
  f.set(dst, 0);
  f.set(src, 6);
  f[12] = 0x88;
  f[13] = 0xb5; // local experimental EtherType
  f.set(p, 14);
  return f;
}

function transmit(r: Rig, f: Uint8Array, hdr = new Uint8Array(VIRTIO_NET_HDR_LEN)): void {
  const b = r.drv.alloc.alloc(hdr.length + f.length);
  r.mem.write(gpa(b), hdr);
  r.mem.write(gpa(b + hdr.length), f);
  r.drv.queues[1]!.add([{ addr: b, len: hdr.length + f.length }], []);
  r.drv.queues[1]!.kick();
}

async function receiveOne(r: Rig & { rxBufs: number[] }): Promise<Uint8Array | null> {
  const u = await r.drv.waitUsed(r.drv.queues[0]!, 0);
  if (u.length === 0) return null;
  const a = r.rxBufs[u[0]!.id]!;
  assert.equal(r.mem.readU16(gpa(a + 10)), 1, "num_buffers = 1");
  return r.mem.read(gpa(a + VIRTIO_NET_HDR_LEN), u[0]!.len - VIRTIO_NET_HDR_LEN);
}

test("virtio-net: two VMs on a virtual switch exchange broadcast and unicast frames", async () => {
  const sw = new VirtualSwitch();
  const a = nic(sw.connect(), MAC_A);
  const b = nic(sw.connect(), MAC_B);
  assert.equal(a.mmio.read(8, 4), 1);
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5].map((i) => a.drv.config8(i)),
    [...MAC_A],
    "MAC in config space",
  );
  assert.equal(a.drv.config16(6) & 1, 1, "link up");
  const bcast = frame(new Uint8Array(6).fill(0xff), MAC_A, "who has B?");
  transmit(a, bcast);
  await a.drv.waitUsed(a.drv.queues[1]!);
  assert.deepEqual(Buffer.from((await receiveOne(b))!), Buffer.from(bcast));
  assert.equal(await receiveOne(a), null, "a frame never comes back to its sender");
  const reply = frame(MAC_A, MAC_B, "B is here");
  transmit(b, reply);
  await b.drv.waitUsed(b.drv.queues[1]!);
  assert.deepEqual(Buffer.from((await receiveOne(a))!), Buffer.from(reply));
  assert.equal(sw.stats.forwarded, 1, "the reply was switched by the learned MAC, not flooded");
  assert.ok(a.irq.raised >= 1 && b.irq.raised >= 1);
});

test("virtio-net: frames arriving before receive buffers are queued, then delivered", async () => {
  const sw = new VirtualSwitch();
  const a = nic(sw.connect(), MAC_A);
  let dev!: VirtioNet;
  const r = rig(makeGuest(), (m) => (dev = new VirtioNet(m, sw.connect(), { mac: MAC_B })));
  r.drv.init(bit(VIRTIO_NET_F_MAC), 2);
  transmit(a, frame(MAC_B, MAC_A, "early"));
  assert.equal(dev.stats.rxFrames, 0);
  const buf = r.drv.alloc.alloc(1526);
  r.drv.queues[0]!.add([], [{ addr: buf, len: 1526 }]);
  r.drv.queues[0]!.kick();
  const u = await r.drv.waitUsed(r.drv.queues[0]!);
  assert.equal(u[0]!.len, VIRTIO_NET_HDR_LEN + 60);
  assert.equal(Buffer.from(r.mem.read(gpa(buf + VIRTIO_NET_HDR_LEN + 14), 5)).toString(), "early");
});

test("hostile: virtio-net drops runt, giant, offload-flagged and out-of-RAM frames; small rx buffers", async () => {
  const sw = new VirtualSwitch();
  const a = nic(sw.connect(), MAC_A);
  const b = nic(sw.connect(), MAC_B);
  transmit(a, new Uint8Array(8)); // runt
  transmit(a, new Uint8Array(9000)); // jumbo without offloads
  const h = new Uint8Array(VIRTIO_NET_HDR_LEN);
  h[0] = 1; // NEEDS_CSUM, not negotiated
  transmit(a, frame(MAC_B, MAC_A, "csum"), h);
  a.drv.queues[1]!.add([{ addr: RAM_BASE + (4 << 20) - 20, len: 100 }], []);
  a.drv.queues[1]!.kick();
  await a.drv.waitUsed(a.drv.queues[1]!, 4);
  assert.equal(a.dev.stats.txErrors, 4);
  assert.equal(await receiveOne(b), null, "nothing reached the other VM");
  assert.equal(a.mmio.status & STATUS_DEVICE_NEEDS_RESET, 0);
  // A receive buffer too small for the frame: the frame is dropped, the buffer returned empty.
  const r = rig(makeGuest(), (m) => new VirtioNet(m, sw.connect(), { mac: parseMac("52:54:00:00:00:0c") }));
  r.drv.init(0n, 2);
  const small = r.drv.alloc.alloc(20);
  r.drv.queues[0]!.add([], [{ addr: small, len: 20 }]);
  r.drv.queues[0]!.kick();
  transmit(a, frame(parseMac("52:54:00:00:00:0c"), MAC_A, "too big for 20 bytes"));
  const u = await r.drv.waitUsed(r.drv.queues[0]!);
  assert.equal(u[0]!.len, 0);
  assert.ok(sentinelIntact(a.mem) && sentinelIntact(b.mem) && sentinelIntact(r.mem));
  assert.ok(a.logs.some((l) => /outside guest RAM/.test(l)));
});
