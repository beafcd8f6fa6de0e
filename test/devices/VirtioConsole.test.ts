// virtio-console: hvc0 bytes both ways, the MULTIPORT control handshake Linux performs, named
// ports, emergency write, and hostile buffers.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  MAX_CONTROL_BACKLOG,
  VirtioConsole,
  VIRTIO_CONSOLE_F_MULTIPORT,
  VIRTIO_CONSOLE_F_SIZE,
  VIRTIO_CONSOLE_DEVICE_READY,
  VIRTIO_CONSOLE_DEVICE_ADD,
  VIRTIO_CONSOLE_PORT_READY,
  VIRTIO_CONSOLE_CONSOLE_PORT,
  VIRTIO_CONSOLE_PORT_OPEN,
  VIRTIO_CONSOLE_PORT_NAME,
} from "../../src/devices/virtio/VirtioConsole.js";
import { MemoryBackend } from "../../src/devices/chardev/MemoryBackend.js";
import { STATUS_DEVICE_NEEDS_RESET } from "../../src/devices/virtio/VirtioMmio.js";
import { bit } from "../../src/devices/virtio/VirtioDevice.js";
import { makeGuest, rig, sentinelIntact, RAM_BASE, type Rig } from "./helpers.js";
import type { DriverQueue } from "./VirtioDriver.js";
import { gpa } from "../../src/memory/Address.js";

function post(r: Rig, q: DriverQueue, n: number, size: number): number[] {
  const bufs: number[] = [];
  for (let i = 0; i < n; i++) {
    const b = r.drv.alloc.alloc(size);
    bufs.push(b);
    q.add([], [{ addr: b, len: size }]);
  }
  q.kick();
  return bufs;
}

function send(r: Rig, q: DriverQueue, data: Uint8Array): void {
  const b = r.drv.alloc.alloc(data.length);
  r.mem.write(gpa(b), data);
  q.add([{ addr: b, len: data.length }], []);
  q.kick();
}

test("virtio-console: hvc0 bytes flow both ways", async () => {
  const be = new MemoryBackend();
  const r = rig(makeGuest(), (m) => new VirtioConsole(m, [{ backend: be }]));
  r.drv.init(0n, 2);
  assert.equal(r.mmio.read(8, 4), 3);
  const [rx, tx] = r.drv.queues as [DriverQueue, DriverQueue];
  const bufs = post(r, rx, 4, 64);
  be.input("root\n");
  const u = await r.drv.waitUsed(rx);
  assert.equal(u[0]!.len, 5);
  assert.equal(Buffer.from(r.mem.read(gpa(bufs[0]!), 5)).toString(), "root\n");
  send(r, tx, new TextEncoder().encode("login: "));
  await r.drv.waitUsed(tx);
  assert.equal(be.text(), "login: ");
  // Input larger than one buffer spreads over several.
  be.input("x".repeat(100));
  const u2 = await r.drv.waitUsed(rx, 2);
  assert.deepEqual(
    u2.map((x) => x.len),
    [64, 36],
  );
});

test("virtio-console: MULTIPORT handshake, console port, named port data both ways", async () => {
  const be0 = new MemoryBackend(),
    be1 = new MemoryBackend();
  let dev!: VirtioConsole;
  const r = rig(
    makeGuest(),
    (m) => (dev = new VirtioConsole(m, [{ backend: be0 }, { backend: be1, name: "org.typevisor.agent" }])),
  );
  r.drv.init(bit(VIRTIO_CONSOLE_F_MULTIPORT), 6);
  assert.equal(r.drv.config32(4), 2, "max_nr_ports");
  const q = r.drv.queues;
  const ctrlBufs = post(r, q[2]!, 16, 256);
  const readCtrl = async (): Promise<{ id: number; event: number; value: number; extra: string }[]> => {
    const used = await r.drv.waitUsed(q[2]!, 0);
    const out = used.map((u) => {
      const a = ctrlBufs[u.id]!;
      return {
        id: r.mem.readU32(gpa(a)),
        event: r.mem.readU16(gpa(a + 4)),
        value: r.mem.readU16(gpa(a + 6)),
        extra: Buffer.from(r.mem.read(gpa(a + 8), u.len - 8)).toString(),
      };
    });
    return out;
  };
  const ctrl = (id: number, event: number, value: number) => {
    const m = new Uint8Array(8);
    const v = new DataView(m.buffer);
    v.setUint32(0, id, true);
    v.setUint16(4, event, true);
    v.setUint16(6, value, true);
    send(r, q[3]!, m);
  };
  ctrl(0xffffffff, VIRTIO_CONSOLE_DEVICE_READY, 1);
  let msgs = await readCtrl();
  assert.deepEqual(
    msgs.map((m) => [m.id, m.event]),
    [
      [0, VIRTIO_CONSOLE_DEVICE_ADD],
      [1, VIRTIO_CONSOLE_DEVICE_ADD],
    ],
  );
  ctrl(0, VIRTIO_CONSOLE_PORT_READY, 1);
  ctrl(1, VIRTIO_CONSOLE_PORT_READY, 1);
  msgs = await readCtrl();
  assert.deepEqual(
    msgs.map((m) => [m.id, m.event, m.value]),
    [
      [0, VIRTIO_CONSOLE_CONSOLE_PORT, 1],
      [0, VIRTIO_CONSOLE_PORT_OPEN, 1],
      [1, VIRTIO_CONSOLE_PORT_NAME, 1],
      [1, VIRTIO_CONSOLE_PORT_OPEN, 1],
    ],
  );
  assert.equal(msgs[2]!.extra, "org.typevisor.agent");
  ctrl(1, VIRTIO_CONSOLE_PORT_OPEN, 1);
  await r.drv.waitUsed(q[3]!, 0);
  assert.equal(dev.isOpen(1), true);
  // Port 1 uses queues 4 (rx) and 5 (tx); port 0 still 0/1.
  const p1 = post(r, q[4]!, 2, 64);
  be1.input("ping");
  const u = await r.drv.waitUsed(q[4]!);
  assert.equal(Buffer.from(r.mem.read(gpa(p1[u[0]!.id]!), u[0]!.len)).toString(), "ping");
  send(r, q[5]!, new TextEncoder().encode("pong"));
  send(r, q[1]!, new TextEncoder().encode("console"));
  await r.drv.waitUsed(q[5]!);
  assert.equal(be1.text(), "pong");
  assert.equal(be0.text(), "console");
});

test("virtio-console: emergency write reaches port 0 before queues exist", () => {
  const be = new MemoryBackend();
  const r = rig(makeGuest(), (m) => new VirtioConsole(m, [{ backend: be }]));
  r.mmio.write(0x100 + 8, 4, 0x21);
  assert.equal(be.text(), "!");
});

test("hostile: virtio-console buffers outside RAM and short control messages are dropped, not fatal", async () => {
  const be = new MemoryBackend(),
    be1 = new MemoryBackend();
  const r = rig(makeGuest(), (m) => new VirtioConsole(m, [{ backend: be }, { backend: be1 }]));
  r.drv.init(bit(VIRTIO_CONSOLE_F_MULTIPORT), 6);
  const q = r.drv.queues;
  q[1]!.add([{ addr: RAM_BASE + (4 << 20) - 4, len: 100 }], []);
  q[1]!.kick();
  q[0]!.add([], [{ addr: RAM_BASE + (4 << 20) - 4, len: 100 }]);
  q[0]!.kick();
  const open0 = new Uint8Array(8);
  new DataView(open0.buffer).setUint16(4, VIRTIO_CONSOLE_PORT_OPEN, true);
  new DataView(open0.buffer).setUint16(6, 1, true);
  send(r, q[3]!, open0);
  be.input("secret");
  send(r, q[3]!, new Uint8Array(3));
  await r.drv.waitUsed(q[1]!);
  const u = await r.drv.waitUsed(q[0]!);
  assert.equal(u[0]!.len, 0);
  assert.equal(be.text(), "");
  assert.ok(sentinelIntact(r.mem));
  assert.equal(r.mmio.status & STATUS_DEVICE_NEEDS_RESET, 0);
  assert.ok(r.logs.some((l) => /outside guest RAM/.test(l)));
  assert.ok(r.logs.some((l) => /shorter than 8 bytes/.test(l)));
});

test("virtio-console: with MULTIPORT, host input waits until the guest opens the port", async () => {
  const be0 = new MemoryBackend(),
    be1 = new MemoryBackend();
  let dev!: VirtioConsole;
  const r = rig(makeGuest(), (m) => (dev = new VirtioConsole(m, [{ backend: be0 }, { backend: be1 }])));
  r.drv.init(bit(VIRTIO_CONSOLE_F_MULTIPORT), 6);
  const q = r.drv.queues;
  const bufs = post(r, q[4]!, 2, 64);
  be1.input("early");
  assert.deepEqual(await r.drv.waitUsed(q[4]!, 0), [], "not delivered to a closed port");
  const m = new Uint8Array(8);
  const v = new DataView(m.buffer);
  v.setUint32(0, 1, true);
  v.setUint16(4, VIRTIO_CONSOLE_PORT_OPEN, true);
  v.setUint16(6, 1, true);
  send(r, q[3]!, m);
  const u = await r.drv.waitUsed(q[4]!);
  assert.equal(dev.isOpen(1), true);
  assert.equal(Buffer.from(r.mem.read(gpa(bufs[u[0]!.id]!), u[0]!.len)).toString(), "early");
});

test("hostile: control messages from a guest that never reads the answers queue a bounded number of replies", async () => {
  let dev!: VirtioConsole;
  const r = rig(
    makeGuest(),
    (m) =>
      (dev = new VirtioConsole(m, [{ backend: new MemoryBackend() }, { backend: new MemoryBackend(), name: "p1" }])),
  );
  r.drv.init(bit(VIRTIO_CONSOLE_F_MULTIPORT), 6);
  const ctrlTx = r.drv.queues[3]!;
  const msg = r.drv.alloc.alloc(8);
  r.mem.writeU32(gpa(msg), 0);
  r.mem.writeU16(gpa(msg + 4), VIRTIO_CONSOLE_DEVICE_READY);
  r.mem.writeU16(gpa(msg + 6), 1);
  // 5,000 DEVICE_READY messages, each asking for one DEVICE_ADD per port, and no control-rx buffers.
  for (let sent = 0; sent < 5000;) {
    while (ctrlTx.free > 0 && sent < 5000) {
      ctrlTx.add([{ addr: msg, len: 8 }], []);
      sent++;
    }
    ctrlTx.kick();
    await r.drv.waitUsed(ctrlTx, 0);
  }
  assert.ok(dev.pendingControlMessages <= MAX_CONTROL_BACKLOG, `${dev.pendingControlMessages} control replies queued`);
  assert.ok(
    r.logs.some((l) => /control replies dropped/.test(l)),
    "the drop is logged",
  );
  assert.equal(r.mmio.status & STATUS_DEVICE_NEEDS_RESET, 0);
});

test("virtio-console: SIZE gives hvc0 the host terminal's size and a resize raises a configuration change", () => {
  const be = new MemoryBackend();
  let dev!: VirtioConsole;
  const r = rig(makeGuest(), (m) => (dev = new VirtioConsole(m, [{ backend: be }], { size: { cols: 132, rows: 43 } })));
  r.drv.init(bit(VIRTIO_CONSOLE_F_SIZE), 2);
  assert.ok((r.drv.features & bit(VIRTIO_CONSOLE_F_SIZE)) !== 0n, "SIZE is offered");
  // struct virtio_console_config { le16 cols; le16 rows; ... } (§5.3.4)
  assert.deepEqual([r.drv.config16(0), r.drv.config16(2)], [132, 43]);
  r.drv.handleInterrupt();
  const before = r.drv.configIrqs;
  dev.resize(80, 24);
  assert.equal(r.drv.handleInterrupt() & 2, 2, "configuration change interrupt");
  assert.equal(r.drv.configIrqs, before + 1);
  assert.deepEqual([r.drv.config16(0), r.drv.config16(2)], [80, 24]);
  // Without a size (the default) SIZE is not offered and resize() is a no-op.
  let plain!: VirtioConsole;
  const r2 = rig(makeGuest(), (m) => (plain = new VirtioConsole(m, [{ backend: be }])));
  r2.drv.init(bit(VIRTIO_CONSOLE_F_SIZE), 2);
  assert.equal(r2.drv.features & bit(VIRTIO_CONSOLE_F_SIZE), 0n);
  plain.resize(100, 30);
  assert.equal(r2.drv.handleInterrupt() & 2, 0);
});
