// Property-based fuzzing of every MMIO device's register space through the IoBus, as a guest's
// loads and stores reach it: random offsets (biased to the defined registers), widths 1/2/4/8 and
// values, in random sequences. Invariants for every device: no exception reaches the bus (a guest
// must not crash the VMM), a read of N bytes returns an unsigned N-byte value, and nothing outside
// guest RAM is written. Per device: the PLIC's interrupt outputs always equal what it reports and a
// claim never returns a source it does not have; the ACLINT only stores MSIP bit 0; syscon acts only
// on its three commands at offset 0; the UART's IRQ line matches its interrupt identification;
// virtio-mmio with each device type behind it (empty slot, blk, console, multiport console, rng,
// net, 9p) never parks itself with an "internal error" (a device-model bug), and random ring memory
// written by a driver that did initialise the device (the hostile case) only fails requests or sets
// DEVICE_NEEDS_RESET (virtio 1.2 §2.1.2).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { IoBus, type AccessSize, type BusDevice } from "../../src/memory/IoBus.js";
import { Plic } from "../../src/devices/Plic.js";
import { Aclint, type AclintHartPort } from "../../src/devices/Aclint.js";
import { GoldfishRtc } from "../../src/devices/GoldfishRtc.js";
import { Syscon, SYSCON_FAIL, SYSCON_PASS, SYSCON_RESET } from "../../src/devices/Syscon.js";
import { Uart16550 } from "../../src/devices/Uart16550.js";
import { MemoryBackend } from "../../src/devices/chardev/MemoryBackend.js";
import {
  INT_CONFIG_CHANGE,
  REG,
  STATUS_DEVICE_NEEDS_RESET,
  STATUS_DRIVER_OK,
  VirtioMmio,
} from "../../src/devices/virtio/VirtioMmio.js";
import type { VirtioDevice } from "../../src/devices/virtio/VirtioDevice.js";
import { VirtioBlk } from "../../src/devices/virtio/VirtioBlk.js";
import { VirtioConsole } from "../../src/devices/virtio/VirtioConsole.js";
import { VirtioRng } from "../../src/devices/virtio/VirtioRng.js";
import { VirtioNet } from "../../src/devices/virtio/VirtioNet.js";
import { VirtualSwitch } from "../../src/devices/net/VirtualSwitch.js";
import { RawImage } from "../../src/devices/block/RawImage.js";
import { Virtio9p } from "../../src/devices/virtio/Virtio9p.js";
import { P9Server } from "../../src/devices/fs/P9Server.js";
import type { GuestMemory } from "../../src/memory/GuestMemory.js";
import { makeGuest, sentinelIntact, tempDir, RAM_BASE } from "./helpers.js";
import { TestIrq, VirtioDriver } from "./VirtioDriver.js";
import { fuzzParams } from "./fuzzConfig.js";

const BASE = 0x1000_0000;

interface Op {
  write: boolean;
  off: number;
  size: AccessSize;
  lo: number;
  hi: number;
}

const valueArb = fc.oneof(fc.constantFrom(0, 1, 0xff, 0xffff, 0xffffffff, 0x80000000), fc.nat({ max: 0xffffffff }));

/** Accesses biased to `hot` offsets (the defined registers), sometimes anywhere in the window. */
function opArb(window: number, hot: readonly number[]): fc.Arbitrary<Op> {
  return fc.record({
    write: fc.boolean(),
    off: fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...hot) },
      { weight: 1, arbitrary: fc.nat({ max: window - 1 }) },
    ),
    size: fc.constantFrom<AccessSize>(1, 2, 4, 4, 4, 8),
    lo: valueArb,
    hi: valueArb,
  });
}

/** Forwards to `dev`, asserting that every read returns an unsigned value of the access width. */
function checked(dev: BusDevice): BusDevice {
  const c: BusDevice = {
    name: dev.name,
    read(off, size) {
      const v = dev.read(off, size);
      assert.ok(
        Number.isInteger(v) && v >= 0 && v < 2 ** (8 * size),
        `${dev.name}: ${size}-byte read at 0x${off.toString(16)} returned ${v}`,
      );
      return v;
    },
    write: (off, size, v) => dev.write(off, size, v),
  };
  if (dev.read64)
    c.read64 = (off) => {
      const v = dev.read64!(off);
      assert.ok(v >= 0n && v < 1n << 64n);
      return v;
    };
  if (dev.write64) c.write64 = (off, v) => dev.write64!(off, v);
  return c;
}

/** Runs `ops` against `dev` mapped at BASE; `after` checks device invariants after every access. */
function drive(dev: BusDevice, window: number, ops: Op[], after: () => void = () => {}): void {
  const bus = new IoBus();
  bus.log = () => {};
  bus.map(BASE, window, checked(dev));
  for (const op of ops) {
    const addr = BASE + op.off;
    const inside = op.off + op.size <= window;
    const ok = op.write ? bus.store(addr, op.size, op.lo | 0, op.hi | 0) : bus.load(addr, op.size);
    assert.equal(ok, inside, "the bus faults exactly the accesses that leave the window");
    after();
  }
}

const range = (from: number, to: number, step: number): number[] =>
  Array.from({ length: Math.ceil((to - from) / step) }, (_, i) => from + i * step);

test("fuzz: PLIC registers (priorities, pending, enables, threshold, claim/complete)", () => {
  const hot = [
    ...range(0, 0x80, 4),
    0x1000,
    0x1004,
    0x2000,
    0x2004,
    0x2080,
    0x2084,
    0x200000,
    0x200004,
    0x201000,
    0x201004,
    0x202000,
    0x5ffffc,
  ];
  fc.assert(
    fc.property(
      fc.array(
        fc.oneof(opArb(0x600000, hot), fc.record({ irq: fc.integer({ min: 1, max: 31 }), level: fc.boolean() })),
        { maxLength: 60 },
      ),
      (ops) => {
        const out = [false, false];
        const plic = new Plic(31, [(l) => (out[0] = l), (l) => (out[1] = l)]);
        const check = (): void =>
          assert.deepEqual(out, [plic.contextPending(0), plic.contextPending(1)], "outputs equal the reported state");
        for (const op of ops) {
          if ("irq" in op) {
            plic.irqLine(op.irq).set(op.level);
            check();
            continue;
          }
          drive(plic, 0x600000, [op], check);
          if (!op.write && op.size === 4 && (op.off & 0xfff) === 4 && op.off >= 0x200000) {
            assert.ok(plic.read(op.off, 4) <= 31, "claim returns a source the PLIC has (or 0)");
          }
        }
      },
    ),
    fuzzParams(400),
  );
});

test("fuzz: ACLINT (MSIP, MTIMECMP, MTIME) with 2 harts", () => {
  const hot = [0, 4, 8, 0x4000, 0x4004, 0x4008, 0x400c, 0x4010, 0xbff8, 0xbffc, 0xfff8];
  fc.assert(
    fc.property(fc.array(opArb(0x10000, hot), { maxLength: 60 }), (ops) => {
      const cmp = [0n, 0n];
      const msip = [false, false];
      const harts: AclintHartPort[] = [0, 1].map((h) => ({
        setMsip: (l: boolean) => {
          msip[h] = l;
        },
        getMtimecmp: () => cmp[h]!,
        setMtimecmp: (v: bigint) => {
          assert.ok(v >= 0n && v < 1n << 64n);
          cmp[h] = v;
        },
      }));
      const clint = new Aclint({ now: () => 123456789, frequency: 10_000_000 }, harts);
      drive(clint, 0x10000, ops, () => {
        for (let h = 0; h < 2; h++) assert.equal(clint.read(4 * h, 4), msip[h] ? 1 : 0, "MSIP reads back bit 0 only");
      });
    }),
    fuzzParams(400),
  );
});

test("fuzz: goldfish RTC (time, alarm, interrupts)", () => {
  const hot = range(0, 0x20, 4);
  fc.assert(
    fc.property(
      fc.array(opArb(0x1000, hot), { maxLength: 60 }),
      fc.array(fc.boolean(), { maxLength: 60 }),
      (ops, polls) => {
        const irq = new TestIrq();
        let now = 1_700_000_000_000_000_000n;
        const rtc = new GoldfishRtc(irq, () => (now += 1000n));
        ops.forEach((op, i) => {
          drive(rtc, 0x1000, [op]);
          if (polls[i]) rtc.poll();
          if (irq.level) assert.equal(rtc.read(0x10, 4), 1, "the interrupt is raised only while enabled");
        });
      },
    ),
    fuzzParams(400),
  );
});

test("fuzz: syscon acts only on PASS/FAIL/RESET written at offset 0", () => {
  fc.assert(
    fc.property(fc.array(opArb(0x1000, [0, 0, 2, 4]), { maxLength: 40 }), (ops) => {
      const acts: string[] = [];
      const sys = new Syscon({ powerOff: (c) => acts.push(`off ${c}`), reset: () => acts.push("reset") });
      let expected = 0;
      for (const op of ops) {
        drive(sys, 0x1000, [op]);
        const cmd = op.lo & 0xffff;
        if (
          op.write &&
          op.off === 0 &&
          op.size >= 2 &&
          (cmd === SYSCON_PASS || cmd === SYSCON_FAIL || cmd === SYSCON_RESET)
        )
          expected++;
      }
      assert.equal(acts.length, expected);
    }),
    fuzzParams(400),
  );
});

test("fuzz: 16550A UART registers, with and without DLAB, loopback, host input", () => {
  fc.assert(
    fc.property(
      fc.array(fc.oneof(opArb(0x100, range(0, 8, 1)), fc.string({ maxLength: 20 })), { maxLength: 80 }),
      (ops) => {
        const irq = new TestIrq();
        const be = new MemoryBackend();
        const uart = new Uart16550(irq, be);
        for (const op of ops) {
          if (typeof op === "string") {
            be.input(op);
            continue;
          }
          drive(uart, 0x100, [op]);
        }
        // IIR bit 0 is 0 exactly when an interrupt is pending, which is when the line is raised
        // (reading IIR may then clear a THRE interrupt, so the level is taken first).
        const level = irq.level;
        assert.equal((uart.read(2, 1) & 1) === 0, level, "IRQ line matches IIR");
      },
    ),
    fuzzParams(400),
  );
});

type Make = (mem: GuestMemory) => VirtioDevice | null;

/** Request buffers: mostly in free RAM (after the rings), sometimes at or past its edges. */
const bufArb = fc.record({
  addr: fc.oneof(
    { weight: 5, arbitrary: fc.integer({ min: 0x8000, max: 0xf0000 }).map((o) => RAM_BASE + o) },
    { weight: 1, arbitrary: fc.constantFrom(RAM_BASE + (1 << 20) - 8, RAM_BASE + (1 << 20), 0, 2 ** 40) },
  ),
  len: fc.oneof(
    { weight: 5, arbitrary: fc.integer({ min: 0, max: 2048 }) },
    { weight: 1, arbitrary: fc.constantFrom(16, 17, 512, 0xffffffff) },
  ),
});

async function virtioFuzz(name: string, make: Make, queues: number, runs: number): Promise<void> {
  const hot = [...Object.values(REG), ...range(0x100, 0x140, 4)];
  const mem = makeGuest(1 << 20);
  const bytes = mem.bytes;
  await fc.assert(
    fc.asyncProperty(
      fc.boolean(),
      fc.array(
        fc.oneof(
          { weight: 3, arbitrary: opArb(0x1000, hot) },
          // Scribbles into the first 16 KiB of RAM, where the driver puts its rings.
          { weight: 2, arbitrary: fc.record({ at: fc.nat({ max: 0x3fff }), v: fc.nat({ max: 0xffff }) }) },
          { weight: 2, arbitrary: fc.record({ notify: fc.integer({ min: 0, max: queues + 1 }) }) },
          // A request as a driver builds it, with random (sometimes hostile) buffers and contents.
          {
            weight: 3,
            arbitrary: fc.record({
              q: fc.nat({ max: Math.max(0, queues - 1) }),
              out: fc.array(bufArb, { maxLength: 3 }),
              inb: fc.array(bufArb, { maxLength: 3 }),
              indirect: fc.boolean(),
              seed: fc.nat(),
            }),
          },
        ),
        { maxLength: 60 },
      ),
      async (init, ops) => {
        bytes.fill(0);
        const irq = new TestIrq();
        const mmio = new VirtioMmio(mem, irq, make(mem));
        let logLines = 0;
        mmio.log = () => {
          logLines++;
        };
        const drv = init && mmio.device ? new VirtioDriver(mem, mmio, irq) : undefined;
        drv?.init(0n, queues, { queueSize: 8 });
        for (const op of ops) {
          const wasBroken = (mmio.status & STATUS_DEVICE_NEEDS_RESET) !== 0;
          step(op);
          // §2.1.2: after setting DEVICE_NEEDS_RESET with DRIVER_OK set, the device MUST send a
          // configuration change notification.
          if (!wasBroken && mmio.status & STATUS_DEVICE_NEEDS_RESET && mmio.status & STATUS_DRIVER_OK) {
            assert.ok(
              mmio.interruptStatus & INT_CONFIG_CHANGE && irq.level,
              `${name}: DEVICE_NEEDS_RESET without a configuration change interrupt`,
            );
          }
          assert.doesNotMatch(mmio.lastError, /internal error/, `${name}: a device-model exception`);
        }
        function step(op: (typeof ops)[number]): void {
          if ("seed" in op) {
            const q = drv?.queues[op.q];
            if (!q) return;
            for (const b of [...op.out, ...op.inb]) {
              const o = b.addr - mem.base;
              for (let i = 0; i < Math.min(b.len, 64) && o + i >= 0 && o + i < mem.size; i++)
                bytes[o + i] = (op.seed >>> (8 * (i & 3))) & 0xff;
            }
            // The test driver refuses when its ring is full; a guest that scribbled on it may be confused too.
            try {
              q.add(op.out, op.inb, op.indirect);
              q.kick();
            } catch {
              /* ring full */
            }
            try {
              while (q.getUsed());
            } catch {
              /* scribbled ring */
            }
            return;
          }
          if ("at" in op) {
            bytes[op.at] = op.v & 0xff;
            bytes[op.at + 1] = op.v >> 8;
            return;
          }
          if ("notify" in op) {
            mmio.write(REG.QueueNotify, 4, op.notify);
            return;
          }
          drive(mmio, 0x1000, [op]);
        }
        await mmio.idle();
        assert.doesNotMatch(mmio.lastError, /internal error/, `${name}: a device-model exception`);
        if (mmio.status & STATUS_DEVICE_NEEDS_RESET)
          assert.notEqual(mmio.lastError, "", "DEVICE_NEEDS_RESET comes with a reason");
        assert.ok(sentinelIntact(mem), `${name}: nothing written outside guest RAM`);
        assert.ok(logLines <= 100, `${name}: ${logLines} log lines from one guest (rate limits)`);
        mmio.reset();
        await mmio.idle();
      },
    ),
    fuzzParams(runs),
  );
}

test("fuzz: virtio-mmio transport registers and rings, with each device type behind it", async (t) => {
  const dir = tempDir(t);
  const img = join(dir, "d.img");
  writeFileSync(img, Buffer.alloc(1 << 16));
  const disk = await RawImage.open(img, false);
  t.after(() => disk.close());
  const sw = new VirtualSwitch();
  await virtioFuzz("empty slot", () => null, 0, 100);
  await virtioFuzz("virtio-blk", (m) => new VirtioBlk(m, disk), 1, 250);
  await virtioFuzz("virtio-console", (m) => new VirtioConsole(m, [{ backend: new MemoryBackend() }]), 2, 250);
  await virtioFuzz(
    "virtio-console multiport",
    (m) => new VirtioConsole(m, [{ backend: new MemoryBackend() }, { backend: new MemoryBackend(), name: "p1" }]),
    6,
    250,
  );
  await virtioFuzz("virtio-rng", (m) => new VirtioRng(m), 1, 250);
  await virtioFuzz(
    "virtio-net",
    (m) => new VirtioNet(m, sw.connect(), { mac: Uint8Array.of(0x52, 0x54, 0, 0, 0, 1) }),
    2,
    250,
  );
  const share = join(dir, "share");
  mkdirSync(share);
  writeFileSync(join(share, "f"), "data");
  await virtioFuzz("virtio-9p", (m) => new Virtio9p(m, new P9Server(share), "share"), 1, 250);
});
