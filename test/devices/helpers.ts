// Shared fixtures for device tests: a small guest with a sentinel area right after RAM, so tests can
// assert that no device wrote outside guest memory.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GuestMemory } from "../../src/memory/GuestMemory.js";
import { VirtioMmio } from "../../src/devices/virtio/VirtioMmio.js";
import type { VirtioDevice } from "../../src/devices/virtio/VirtioDevice.js";
import { TestIrq, VirtioDriver } from "./VirtioDriver.js";

export const RAM_BASE = 0x8000_0000;
const SENTINEL = 0xa5;

export function makeGuest(size = 4 << 20): GuestMemory {
  const mem = new GuestMemory({ base: RAM_BASE, size, engineBytes: 65536 });
  new Uint8Array(mem.buffer, mem.engineOffset, mem.engineBytes).fill(SENTINEL);
  return mem;
}

/** True if the bytes after guest RAM were never written. */
export function sentinelIntact(mem: GuestMemory): boolean {
  return new Uint8Array(mem.buffer, mem.engineOffset, mem.engineBytes).every((b) => b === SENTINEL);
}

export interface Rig {
  mem: GuestMemory;
  irq: TestIrq;
  mmio: VirtioMmio;
  drv: VirtioDriver;
  logs: string[];
}

export function rig(mem: GuestMemory, make: (mem: GuestMemory) => VirtioDevice): Rig {
  const irq = new TestIrq();
  const dev = make(mem);
  const mmio = new VirtioMmio(mem, irq, dev);
  const logs: string[] = [];
  mmio.log = (l) => logs.push(l);
  const drv = new VirtioDriver(mem, mmio, irq);
  return { mem, irq, mmio, drv, logs };
}

export function tempDir(t: { after(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), "typevisor-dev-"));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}
