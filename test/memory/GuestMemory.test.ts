// GuestMemory never hands out an offset outside RAM, and tracks pages the device side wrote.
import { test } from "node:test";
import assert from "node:assert/strict";
import { GuestMemory, GuestMemoryError } from "../../src/memory/GuestMemory.js";
import { gpa } from "../../src/memory/Address.js";

test("offsetOf rejects every range that leaves RAM", () => {
  const m = new GuestMemory({ base: 0x8000_0000, size: 1 << 20 });
  assert.equal(m.offsetOf(gpa(0x8000_0000), 16), 0);
  assert.equal(m.offsetOf(gpa(0x8000_0000 + (1 << 20) - 4), 4), (1 << 20) - 4);
  assert.equal(m.offsetOf(gpa(0x8000_0000 + (1 << 20) - 4), 5), -1);
  assert.equal(m.offsetOf(gpa(0x7fff_ffff), 1), -1);
  assert.equal(m.offsetOf(gpa(0x8000_0000), -1), -1);
  assert.equal(m.offsetOf(gpa(0x8000_0000), Number.NaN), -1);
  assert.throws(() => m.readU32(gpa(0x7fff_fffe)), GuestMemoryError);
});

test("little-endian accessors and dirty page tracking", () => {
  const m = new GuestMemory({ base: 0x1000, size: 64 * 1024 });
  m.writeU64(gpa(0x1000 + 8192 + 8), 0x1122334455667788n);
  assert.equal(m.readU32(gpa(0x1000 + 8192 + 8)), 0x55667788);
  assert.equal(m.readU8(gpa(0x1000 + 8192 + 15)), 0x11);
  m.write(gpa(0x1000 + 4096 * 5 - 2), new Uint8Array([1, 2, 3, 4]));
  assert.deepEqual(m.takeDirty(), [2, 4, 5]);
  assert.deepEqual(m.takeDirty(), []);
});
