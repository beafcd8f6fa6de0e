// Freezing a disk with a snapshot: its whole virtual contents (a copy-on-write overlay's merged with
// its base) copied into a new sparse raw file, so the snapshot keeps the disk exactly as the guest
// saw it at that instant however the running VM writes on. Restores and clones then run on their
// own overlays over the frozen copy, which nothing writes again.
import { open } from "node:fs/promises";
import type { BlockBackend } from "../../devices/block/BlockBackend.js";

const CHUNK = 1 << 20;

/** Copies `disk` (idle: no request in flight) to a new file `path`; all-zero chunks stay holes. */
export async function freezeDisk(disk: BlockBackend, path: string): Promise<void> {
  const out = await open(path, "wx", 0o600);
  try {
    await out.truncate(disk.size);
    const buf = new Uint8Array(CHUNK);
    const words = new Int32Array(buf.buffer);
    for (let pos = 0; pos < disk.size; pos += CHUNK) {
      const len = Math.min(CHUNK, disk.size - pos);
      const b = len === CHUNK ? buf : buf.subarray(0, len);
      await disk.read([b], pos);
      let zero = true;
      // len is a multiple of 512, so whole words cover it.
      for (let i = 0; i < len >>> 2; i++) {
        if (words[i] !== 0) {
          zero = false;
          break;
        }
      }
      if (!zero) await out.write(b, 0, len, pos);
    }
    await out.sync();
  } finally {
    await out.close();
  }
}
