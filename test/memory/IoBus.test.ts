// IoBus dispatches by address range with the access width, and turns unmapped accesses into a
// fault result plus a (rate-limited) log line instead of an exception.
import { test } from "node:test";
import assert from "node:assert/strict";
import { IoBus, type BusDevice } from "../../src/memory/IoBus.js";

class Recorder implements BusDevice {
  readonly log: string[] = [];
  constructor(readonly name: string) {}
  read(offset: number, size: 1 | 2 | 4): number {
    this.log.push(`r${size}@${offset}`);
    return 0x11223344 >>> (8 * (4 - size));
  }
  write(offset: number, size: 1 | 2 | 4, value: number): void {
    this.log.push(`w${size}@${offset}=${value.toString(16)}`);
  }
}

test("iobus: accesses reach the device with window-relative offsets and widths", () => {
  const bus = new IoBus();
  const d = new Recorder("dev");
  bus.map(0x1000_0000, 0x100, d);
  assert.equal(bus.load(0x1000_0005, 1), true);
  assert.equal(bus.lo, 0x11);
  assert.equal(bus.store(0x1000_0004, 2, 0x1abcd, 0), true);
  assert.equal(bus.load(0x1000_0010, 8), true, "an 8-byte access without read64 becomes two 4-byte ones");
  assert.deepEqual(d.log, ["r1@5", "w2@4=abcd", "r4@16", "r4@20"]);
});

test("iobus: unmapped and straddling accesses fault with a log line, never throw", () => {
  const bus = new IoBus("mmio");
  const lines: string[] = [];
  bus.log = (l) => lines.push(l);
  bus.map(0x1000, 0x10, new Recorder("dev"));
  assert.equal(bus.load(0x2000, 4), false);
  assert.equal(bus.store(0x100e, 4, 0, 0), false, "an access crossing the end of a window is unmapped");
  assert.match(lines[0]!, /read of 4 byte\(s\) at unmapped address 0x2000/);
  for (let i = 0; i < 100; i++) bus.load(0x3000, 1);
  assert.equal(lines.length, 20, "rate-limited so a hostile guest cannot flood the host log");
  assert.match(lines[19]!, /not logged/);
});

test("iobus: overlapping windows are refused at map time", () => {
  const bus = new IoBus();
  bus.map(0x1000, 0x100, new Recorder("a"));
  assert.throws(() => bus.map(0x10f0, 0x100, new Recorder("b")), /overlaps a/);
});
