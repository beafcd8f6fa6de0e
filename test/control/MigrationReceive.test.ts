// The destination of a live migration against a source that sends what it should not: a copied
// overlay piece beyond the destination's overlay file (which would grow a host file without bound)
// is refused naming the disk, and the file keeps its size; the same after a wrong ticket, which is
// refused before any piece is looked at. Driven through receiveMigration with a scripted channel.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { receiveMigration, type MigrationMessage } from "../../src/control/Migration.js";
import type { VmChannel } from "../../src/control/VmChannel.js";
import { GuestMemory } from "../../src/memory/GuestMemory.js";
import type { Vm } from "../../src/vmm/Vm.js";

const TICKET = "t".repeat(32);
const PAGES = 16;

/** A channel that hands out `script` in order (then nothing), as the source would send it. */
function scripted(script: MigrationMessage[]): VmChannel<MigrationMessage, MigrationMessage> {
  const queue = [...script];
  const ch = { next: async () => queue.shift() };
  return ch as unknown as VmChannel<MigrationMessage, MigrationMessage>;
}

/** Only the RAM of a machine that has not run: all receiveMigration touches before "final". */
function freshVm(): Vm {
  const memory = new GuestMemory({ base: 0x8000_0000, size: PAGES * 4096 });
  return { board: { memory } } as unknown as Vm;
}

test("a copied overlay piece past the destination's overlay file is refused, and the file does not grow", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tv-migrecv-"));
  try {
    const overlay = join(dir, "vda.overlay");
    writeFileSync(overlay, Buffer.alloc(64 * 1024));
    const hello: MigrationMessage = { t: "hello", ticket: TICKET, pages: PAGES };
    const far: MigrationMessage = {
      t: "disk",
      disk: 0,
      offset: 2 ** 40,
      data: new Uint8Array(4096),
      last: false,
    };
    await assert.rejects(
      receiveMigration(freshVm(), scripted([hello, far]), TICKET, 1000, new Map([[0, overlay]])),
      /disk 0 data at bytes 1099511627776-1099511631872, beyond its 65536-byte overlay file/,
    );
    assert.ok(statSync(overlay).size <= 64 * 1024, "the overlay file did not grow");
    const lastTooFar: MigrationMessage = { t: "disk", disk: 0, offset: 2 ** 50, data: new Uint8Array(0), last: true };
    await assert.rejects(
      receiveMigration(freshVm(), scripted([hello, lastTooFar]), TICKET, 1000, new Map([[0, overlay]])),
      /beyond its/,
    );
    assert.ok(statSync(overlay).size <= 64 * 1024, "a final size past the file is refused too");
    await assert.rejects(
      receiveMigration(
        freshVm(),
        scripted([{ ...hello, ticket: "x".repeat(32) }, far]),
        TICKET,
        1000,
        new Map([[0, overlay]]),
      ),
      /wrong migration ticket/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
