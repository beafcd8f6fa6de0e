// The pager: Sv39 tables built in the frame pool, lazy anonymous pages, copy-on-write fork,
// munmap/mprotect/mremap/brk, and kernel access to user memory with EFAULT on bad addresses.
import { test } from "node:test";
import assert from "node:assert/strict";
import { GuestMemory } from "../../src/memory/GuestMemory.js";
import { FrameAllocator, PAGE_SIZE } from "../../src/abi/FrameAllocator.js";
import { AddressSpace, PROT_NONE, PROT_READ, PROT_WRITE } from "../../src/abi/AddressSpace.js";
import { Errno, SyscallError } from "../../src/abi/Errno.js";
import { gpa } from "../../src/memory/Address.js";

function setup(size = 8 << 20) {
  const memory = new GuestMemory({ base: 0x8000_0000, size, shared: false });
  const frames = new FrameAllocator(memory);
  return { memory, frames, space: new AddressSpace(frames) };
}

/** Walks the Sv39 tables the way the hart's MMU does (Privileged ISA 4.3.2) and returns the leaf PTE. */
function walk(memory: GuestMemory, satp: bigint, va: number): number {
  let table = Number(satp & ((1n << 44n) - 1n)) * PAGE_SIZE;
  const vpn = Math.floor(va / PAGE_SIZE);
  for (const shift of [18, 9, 0]) {
    const pte = memory.readU32(gpa(table + ((vpn >>> shift) & 511) * 8));
    if ((pte & 1) === 0) return 0;
    if (pte & 0xe) return pte; // leaf
    table = (pte >>> 10) * PAGE_SIZE;
  }
  return 0;
}

const errno = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    if (e instanceof SyscallError) return e.errno;
    throw e;
  }
  return 0;
};

test("anonymous pages are mapped on first touch, zero-filled, with U/R/W/A/D set in a real Sv39 PTE", () => {
  const { memory, frames, space } = setup();
  space.map(0x10000, 4 * PAGE_SIZE, PROT_READ | PROT_WRITE, "anon");
  assert.equal(space.residentPages(), 0, "nothing is allocated before the first access");
  assert.equal(walk(memory, space.satp(), 0x11000), 0);
  assert.equal(space.handleFault(0x11234, 1), true);
  const pte = walk(memory, space.satp(), 0x11000);
  assert.equal(pte & 0xff, 0x1 | 0x2 | 0x4 | 0x10 | 0x40 | 0x80);
  assert.equal(space.residentPages(), 1);
  assert.deepEqual([...space.read(0x11000, 8)], [0, 0, 0, 0, 0, 0, 0, 0]);
  assert.ok(frames.inUse >= 4, "root + two intermediate tables + one page");
  assert.equal(satpMode(space.satp()), 8n);
});

function satpMode(s: bigint) {
  return s >> 60n;
}

test("faults outside any mapping or against its protection are real faults (SIGSEGV)", () => {
  const { space } = setup();
  space.map(0x10000, PAGE_SIZE, PROT_READ, "ro");
  assert.equal(space.handleFault(0x20000, 0), false);
  assert.equal(space.handleFault(0x10000, 1), false, "store to a read-only mapping");
  assert.equal(space.handleFault(0x10000, 2), false, "fetch from a non-executable mapping");
  assert.equal(space.handleFault(0x10000, 0), true);
  assert.equal(space.handleFault(-5, 0), false);
  assert.equal(space.handleFault(2 ** 40, 0), false);
});

test("fork shares frames copy-on-write: a store gives the writer a private copy", () => {
  const { memory, frames, space } = setup();
  space.map(0x10000, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE, "data");
  space.write(0x10000, new TextEncoder().encode("parent"));
  const child = space.fork();
  const shared = walk(memory, space.satp(), 0x10000) >>> 10;
  assert.equal(walk(memory, child.satp(), 0x10000) >>> 10, shared, "same frame after fork");
  assert.equal(walk(memory, space.satp(), 0x10000) & 4, 0, "write-protected in the parent");
  assert.equal(walk(memory, child.satp(), 0x10000) & 4, 0, "write-protected in the child");
  const before = frames.inUse;
  assert.equal(child.handleFault(0x10000, 1), true);
  child.write(0x10000, new TextEncoder().encode("child!"));
  assert.equal(frames.inUse, before + 1, "one frame copied");
  assert.equal(new TextDecoder().decode(space.read(0x10000, 6)), "parent");
  assert.equal(new TextDecoder().decode(child.read(0x10000, 6)), "child!");
  // The parent is now the only owner of the old frame: its store needs no copy.
  assert.equal(space.handleFault(0x10000, 1), true);
  assert.equal(frames.inUse, before + 1);
  assert.equal(walk(memory, space.satp(), 0x10000) >>> 10, shared);
  child.destroy();
  space.destroy();
  assert.equal(frames.inUse, 0, "every frame and page table is freed");
});

test("munmap frees pages and splits mappings; mprotect needs the whole range mapped", () => {
  const { space } = setup();
  space.map(0x10000, 4 * PAGE_SIZE, PROT_READ | PROT_WRITE, "a");
  space.write(0x10000, new Uint8Array(4 * PAGE_SIZE).fill(7));
  assert.equal(space.residentPages(), 4);
  space.unmap(0x11000, PAGE_SIZE);
  assert.equal(space.residentPages(), 3);
  assert.deepEqual(
    space.vmas.map((v) => [v.start, v.end]),
    [
      [0x10000, 0x11000],
      [0x12000, 0x14000],
    ],
  );
  assert.equal(
    errno(() => space.read(0x11000, 1)),
    Errno.EFAULT,
  );
  assert.equal(
    errno(() => space.protect(0x10000, 3 * PAGE_SIZE, PROT_READ)),
    Errno.ENOMEM,
  );
  space.protect(0x12000, PAGE_SIZE, PROT_NONE);
  assert.equal(space.handleFault(0x12000, 0), false);
  space.protect(0x12000, PAGE_SIZE, PROT_READ);
  assert.equal(space.read(0x12000, 1)[0], 7, "PROT_NONE kept the contents");
  assert.equal(
    errno(() => space.write(0x12000, new Uint8Array(1))),
    Errno.EFAULT,
  );
});

test("mremap grows in place when free and moves the pages (with their contents) when not", () => {
  const { space } = setup();
  space.map(0x10000, PAGE_SIZE, PROT_READ | PROT_WRITE, "a");
  space.write(0x10000, new Uint8Array([1, 2, 3]));
  assert.equal(space.remap(0x10000, PAGE_SIZE, 2 * PAGE_SIZE, false), 0x10000);
  space.map(0x12000, PAGE_SIZE, PROT_READ, "blocker");
  assert.equal(
    errno(() => space.remap(0x10000, 2 * PAGE_SIZE, 3 * PAGE_SIZE, false)),
    Errno.ENOMEM,
  );
  const moved = space.remap(0x10000, 2 * PAGE_SIZE, 3 * PAGE_SIZE, true);
  assert.notEqual(moved, 0x10000);
  assert.deepEqual([...space.read(moved, 3)], [1, 2, 3]);
  assert.equal(space.findVma(0x10000), undefined);
});

test("brk grows and shrinks the heap and refuses to run into another mapping", () => {
  const { space } = setup();
  space.brkStart = space.brk = 0x100000;
  assert.equal(space.setBrk(0x100000 + 10000), 0x100000 + 10000);
  space.write(0x100000 + 9000, new Uint8Array([9]));
  space.map(0x110000, PAGE_SIZE, PROT_READ, "other");
  assert.equal(space.setBrk(0x120000), 0x100000 + 10000, "blocked: the old break is returned");
  assert.equal(space.setBrk(0x100000), 0x100000);
  assert.equal(
    errno(() => space.read(0x100000 + 9000, 1)),
    Errno.EFAULT,
  );
  assert.equal(space.setBrk(0x1000), 0x100000, "below the start: unchanged");
});

test("kernel reads of user strings stop at NUL across pages and fail cleanly on bad pointers", () => {
  const { space } = setup();
  space.map(0x10000, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE, "s");
  const s = "x".repeat(100) + "\0";
  space.write(0x11000 - 50, new TextEncoder().encode(s));
  assert.equal(space.readCString(0x11000 - 50), "x".repeat(100));
  assert.equal(
    errno(() => space.readCString(0x9000)),
    Errno.EFAULT,
  );
  space.write(0x10000, new Uint8Array(2 * PAGE_SIZE).fill(65));
  assert.equal(
    errno(() => space.readCString(0x10000)),
    Errno.ENAMETOOLONG,
  );
  assert.equal(
    errno(() => space.read(0x40_0000_0000 - 4, 8)),
    Errno.EFAULT,
  );
  assert.equal(
    errno(() => space.read(0x10000, -1)),
    Errno.EFAULT,
  );
});

test("an exhausted frame pool is an error naming the fix, not a crash", () => {
  const { space } = setup(64 * PAGE_SIZE);
  space.map(0x10000, 128 * PAGE_SIZE, PROT_READ | PROT_WRITE, "big");
  assert.throws(() => space.write(0x10000, new Uint8Array(128 * PAGE_SIZE)), /out of guest memory.*--memory/);
});

test("a fork that runs out of frames for its page tables fails cleanly: nothing leaked, the parent intact", () => {
  const { frames, space } = setup(64 * PAGE_SIZE);
  // Pages in three distant 1 GiB regions: the child needs 2 page-table frames for each.
  for (const va of [0x10000, 0x4000_0000, 0x8000_0000]) {
    space.map(va, PAGE_SIZE, PROT_READ | PROT_WRITE, "r");
    space.write(va, new Uint8Array([7]));
  }
  const before = frames.inUse;
  // Leave room for the child's root table and a little more, not for all its tables.
  const hog: number[] = [];
  while (frames.inUse < 64 - 3) hog.push(frames.alloc());
  const held = frames.inUse;
  assert.throws(() => space.fork(), /out of guest memory/);
  assert.equal(frames.inUse, held, "every frame the failed fork took is back");
  for (const f of hog) frames.decRef(f);
  assert.equal(frames.inUse, before);
  // The parent still reads and writes its pages (the write re-gains W without a copy).
  space.write(0x4000_0000, new Uint8Array([9]));
  assert.equal(space.read(0x4000_0000, 1)[0], 9);
  assert.equal(space.read(0x10000, 1)[0], 7);
  assert.equal(frames.inUse, before, "no copy: the frames are not shared any more");
});
