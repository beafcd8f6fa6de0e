import { test } from "node:test";
import assert from "node:assert/strict";
import { Plic } from "../../src/devices/Plic.js";
import { Aclint } from "../../src/devices/Aclint.js";
import { GoldfishRtc } from "../../src/devices/GoldfishRtc.js";
import { Syscon } from "../../src/devices/Syscon.js";

function plicWith(contexts: number) {
  const out = Array.from({ length: contexts }, () => false);
  const plic = new Plic(
    95,
    out.map((_, c) => (l: boolean) => (out[c] = l)),
  );
  return { plic, out };
}
const enableReg = (c: number) => 0x2000 + 0x80 * c;
const threshReg = (c: number) => 0x200000 + 0x1000 * c;
const claimReg = (c: number) => 0x200004 + 0x1000 * c;

test("PLIC raises a context only for an enabled source with priority above the threshold", () => {
  const { plic, out } = plicWith(2);
  const uart = plic.irqLine(10);
  uart.set(true);
  assert.equal(out[1], false, "not enabled, priority 0");
  plic.write(enableReg(1), 4, 1 << 10);
  assert.equal(out[1], false, "priority 0 never interrupts");
  plic.write(10 * 4, 4, 1);
  assert.equal(out[1], true);
  assert.equal(out[0], false, "context 0 (M-mode) did not enable it");
  plic.write(threshReg(1), 4, 1);
  assert.equal(out[1], false, "threshold 1 masks priority 1");
  plic.write(threshReg(1), 4, 0);
  assert.equal(out[1], true);
  assert.equal(plic.read(0x1000, 4), 1 << 10, "pending bit visible");
});

test("PLIC claim returns the highest-priority source (ties: lowest id) and complete re-pends a line still high", () => {
  const { plic, out } = plicWith(2);
  plic.write(enableReg(1), 4, (1 << 1) | (1 << 2) | (1 << 10));
  for (const s of [1, 2, 10]) plic.write(s * 4, 4, s === 10 ? 5 : 3);
  plic.irqLine(1).set(true);
  plic.irqLine(2).set(true);
  plic.irqLine(10).set(true);
  assert.equal(plic.read(claimReg(1), 4), 10);
  assert.equal(plic.read(claimReg(1), 4), 1, "tie between 1 and 2 goes to 1");
  assert.equal(plic.read(claimReg(1), 4), 2);
  assert.equal(plic.read(claimReg(1), 4), 0, "nothing left");
  assert.equal(out[1], false);
  plic.irqLine(1).set(false);
  plic.write(claimReg(1), 4, 1); // complete 1: line low, stays quiet
  plic.write(claimReg(1), 4, 10); // complete 10: line still high, pending again
  assert.equal(out[1], true);
  assert.equal(plic.read(claimReg(1), 4), 10);
});

test("PLIC ignores a completion for a source not enabled in that context", () => {
  const { plic } = plicWith(2);
  plic.write(enableReg(1), 4, 1 << 3);
  plic.write(3 * 4, 4, 1);
  plic.irqLine(3).set(true);
  assert.equal(plic.read(claimReg(1), 4), 3);
  plic.write(claimReg(0), 4, 3); // context 0 has not enabled 3
  assert.equal(plic.read(claimReg(1), 4), 0, "still claimed, not re-pended");
});

test("CLINT: msip drives MSIP, mtimecmp goes to the hart, mtime reads the board timer", () => {
  let msip = false;
  let cmp = 0n;
  let now = 12345;
  const clint = new Aclint({ frequency: 10_000_000, now: () => now }, [
    { setMsip: (l) => (msip = l), getMtimecmp: () => cmp, setMtimecmp: (v) => (cmp = v) },
  ]);
  clint.write(0, 4, 1);
  assert.equal(msip, true);
  assert.equal(clint.read(0, 4), 1);
  clint.write(0, 4, 0);
  assert.equal(msip, false);
  clint.write64(0x4000, 0x1_0000_0002n);
  assert.equal(cmp, 0x1_0000_0002n);
  clint.write(0x4000, 4, 7); // low half only
  assert.equal(cmp, 0x1_0000_0007n);
  clint.write(0x4004, 4, 3); // high half only
  assert.equal(cmp, 0x3_0000_0007n);
  assert.equal(clint.read(0x4004, 4), 3);
  assert.equal(clint.read64(0xbff8), 12345n);
  now = 0x1_0000_0005;
  assert.equal(clint.read(0xbff8, 4), 5);
  assert.equal(clint.read(0xbffc, 4), 1);
});

test("goldfish RTC returns host time in ns, latches the high half, and fires an enabled alarm", () => {
  let ns = 1_700_000_000_123_456_789n;
  let level = false;
  const rtc = new GoldfishRtc({ set: (l) => (level = l) }, () => ns);
  const lo = rtc.read(0x00, 4);
  ns += 1n << 33n; // the high half changes after the low read
  const hi = rtc.read(0x04, 4);
  assert.equal((BigInt(hi) << 32n) | BigInt(lo >>> 0), 1_700_000_000_123_456_789n);
  // Setting the clock keeps an offset from the host clock.
  rtc.write(0x04, 4, 0);
  rtc.write(0x00, 4, 1000);
  assert.equal(rtc.read(0x00, 4), 1000);
  ns += 500n;
  assert.equal(rtc.read(0x00, 4), 1500);
  // Alarm 100 ns from now.
  rtc.write(0x10, 4, 1);
  rtc.write(0x0c, 4, 0);
  rtc.write(0x08, 4, 1600);
  assert.equal(rtc.read(0x18, 4), 1, "armed");
  rtc.poll();
  assert.equal(level, false);
  ns += 100n;
  rtc.poll();
  assert.equal(level, true);
  assert.equal(rtc.read(0x18, 4), 0);
  rtc.write(0x1c, 4, 1);
  assert.equal(level, false);
});

test("syscon: 0x5555 powers off with 0, 0x3333 fails with the code in the high half, 0x7777 resets", () => {
  const events: string[] = [];
  const s = new Syscon({ powerOff: (c) => events.push(`off ${c}`), reset: () => events.push("reset") });
  s.write(0, 4, 0x5555);
  s.write(0, 4, (3 << 16) | 0x3333);
  s.write(0, 4, 0x7777);
  s.write(0, 4, 0x1234);
  s.write(8, 4, 0x5555);
  assert.deepEqual(events, ["off 0", "off 3", "reset"]);
});
