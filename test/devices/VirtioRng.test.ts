// virtio-rng: random bytes into guest buffers, rate limiting, hostile buffers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { VirtioRng } from "../../src/devices/virtio/VirtioRng.js";
import { STATUS_DEVICE_NEEDS_RESET } from "../../src/devices/virtio/VirtioMmio.js";
import { makeGuest, rig, sentinelIntact, RAM_BASE } from "./helpers.js";
import { gpa } from "../../src/memory/Address.js";

test("virtio-rng: fills device-writable buffers with fresh random bytes", async () => {
  const r = rig(makeGuest(), (m) => new VirtioRng(m));
  r.drv.init(0n, 1);
  assert.equal(r.mmio.read(8, 4), 4, "device ID 4 (entropy)");
  const q = r.drv.queues[0]!;
  const a = r.drv.alloc.alloc(64),
    b = r.drv.alloc.alloc(64);
  q.add([], [{ addr: a, len: 64 }]);
  q.add(
    [],
    [
      { addr: b, len: 32 },
      { addr: b + 32, len: 32 },
    ],
  );
  q.kick();
  const used = await r.drv.waitUsed(q, 2);
  assert.deepEqual(
    used.map((u) => u.len),
    [64, 64],
  );
  const x = Buffer.from(r.mem.read(gpa(a), 64)),
    y = Buffer.from(r.mem.read(gpa(b), 64));
  assert.notDeepEqual(x, y);
  assert.ok(!x.every((v) => v === 0) && !y.every((v) => v === 0));
  assert.equal(r.irq.raised >= 1, true);
});

test("virtio-rng: the token bucket limits how many bytes a guest gets per second", () => {
  let now = 0;
  const rng = { dev: null as VirtioRng | null };
  const r = rig(makeGuest(), (m) => (rng.dev = new VirtioRng(m, { bytesPerSecond: 1000, burst: 100, now: () => now })));
  r.drv.init(0n, 1);
  const q = r.drv.queues[0]!;
  const a = r.drv.alloc.alloc(4096);
  q.add([], [{ addr: a, len: 4096 }]);
  q.add([], [{ addr: a, len: 4096 }]);
  q.kick();
  let u = q.getUsed();
  assert.equal(u?.len, 100, "only the burst is served at once");
  assert.equal(q.getUsed(), null, "the second request waits for tokens");
  now += 50; // 50 ms at 1000 B/s = 50 bytes
  r.drv.setReg(0x50, 0);
  u = q.getUsed();
  assert.equal(u?.len, 50);
  assert.equal(rng.dev!.bytesServed, 150);
  r.drv.setReg(0x70, 0); // reset cancels the refill timer
});

test("hostile: virtio-rng buffers outside RAM or device-readable are not written", async () => {
  const r = rig(makeGuest(), (m) => new VirtioRng(m));
  r.drv.init(0n, 1);
  const q = r.drv.queues[0]!;
  const a = r.drv.alloc.alloc(64);
  q.add([], [{ addr: RAM_BASE + (4 << 20) - 16, len: 64 }]);
  q.add([{ addr: a, len: 64 }], []);
  q.kick();
  const used = await r.drv.waitUsed(q, 2);
  assert.deepEqual(
    used.map((x) => x.len),
    [0, 0],
  );
  assert.ok(
    r.mem.read(gpa(a), 64).every((v) => v === 0),
    "a device-readable buffer is never written",
  );
  assert.ok(sentinelIntact(r.mem));
  assert.equal(r.mmio.status & STATUS_DEVICE_NEEDS_RESET, 0);
  assert.ok(r.logs.some((l) => /outside guest RAM/.test(l)));
});
