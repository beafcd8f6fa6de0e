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

test("lazy residency: pages absent until first touch through offsetOf or touch, then resident", () => {
  const mem = new GuestMemory({ base: 0x8000_0000, size: 16 * 4096, shared: false });
  const absent = new Uint8Array(16);
  absent[2] = absent[3] = absent[9] = 1;
  const loaded: number[] = [];
  let ended = 0;
  mem.beginLazy(
    absent,
    (p) => {
      loaded.push(p);
      mem.bytes.fill(p + 1, p * 4096, (p + 1) * 4096);
    },
    () => ended++,
  );
  // A DMA range over pages 1-3 loads the absent ones (2, 3) before anyone sees their bytes.
  assert.equal(mem.readU32(gpa(0x8000_0000 + 2 * 4096 + 8)), 0x03030303);
  assert.deepEqual(loaded, [2]);
  assert.notEqual(mem.slice(gpa(0x8000_0000 + 4096), 3 * 4096, false), undefined);
  assert.deepEqual(loaded, [2, 3]);
  // A hart's translation fill touches one page; a second touch reads nothing again.
  mem.touch(9 * 4096 + 5);
  mem.touch(9 * 4096);
  assert.deepEqual(loaded, [2, 3, 9]);
  assert.equal(mem.pagedIn, 3);
  assert.equal(mem.bytes[9 * 4096], 10);
  mem.makeResident();
  assert.equal(mem.absent, undefined);
  assert.equal(ended, 1);
  // Snapshots and migration make all of RAM resident; pages never stored stay zero.
  absent[4] = 1;
  mem.beginLazy(absent, (p) => loaded.push(p));
  mem.makeResident();
  assert.deepEqual(loaded, [2, 3, 9, 4]);
  assert.equal(mem.bytes[5 * 4096], 0);
});
