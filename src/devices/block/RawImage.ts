// A raw disk image file: disk byte N is file byte N. Opened read-only for read-only disks, so even a
// buggy device path cannot modify the file.

import { open, type FileHandle } from "node:fs/promises";
import { type BlockBackend, BlockBackendError, ZERO_CHUNK } from "./BlockBackend.js";
import { readvAll, writevAll } from "./FileIo.js";

export class RawImage implements BlockBackend {
  private constructor(
    private readonly fh: FileHandle,
    readonly size: number,
    readonly readOnly: boolean,
    readonly description: string,
  ) {}

  static async open(path: string, readOnly: boolean): Promise<RawImage> {
    let fh: FileHandle;
    try {
      fh = await open(path, readOnly ? "r" : "r+");
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const hint =
        code === "ENOENT"
          ? "check the path, or create one with `truncate -s 1G FILE`"
          : code === "EACCES" || code === "EROFS"
            ? "the file is not writable: add ,ro to attach it read-only"
            : "";
      throw new BlockBackendError(`cannot open disk image ${path}: ${(e as Error).message}${hint ? ` (${hint})` : ""}`);
    }
    const st = await fh.stat();
    if (!st.isFile() && !st.isBlockDevice()) {
      await fh.close();
      throw new BlockBackendError(`disk image ${path} is not a regular file`);
    }
    // virtio-blk counts in 512-byte sectors (§5.2.4); a tail shorter than a sector is not addressable.
    const size = Math.floor(st.size / 512) * 512;
    if (size === 0) {
      await fh.close();
      throw new BlockBackendError(`disk image ${path} is smaller than one 512-byte sector`);
    }
    return new RawImage(fh, size, readOnly, `${path}${readOnly ? " (read-only)" : ""}`);
  }

  read(bufs: readonly Uint8Array[], pos: number): Promise<void> {
    return readvAll(this.fh, bufs, pos);
  }

  async write(bufs: readonly Uint8Array[], pos: number): Promise<void> {
    if (this.readOnly) throw new BlockBackendError(`${this.description} is read-only`);
    await writevAll(this.fh, bufs, pos);
  }

  async flush(): Promise<void> {
    if (!this.readOnly) await this.fh.sync();
  }

  // Node exposes no fallocate(PUNCH_HOLE); discard is a hint (virtio 1.2 §5.2.6.2), so doing nothing is correct.
  async discard(): Promise<void> {}

  async writeZeroes(pos: number, len: number): Promise<void> {
    if (this.readOnly) throw new BlockBackendError(`${this.description} is read-only`);
    while (len > 0) {
      const n = Math.min(len, ZERO_CHUNK.length);
      await this.write([ZERO_CHUNK.subarray(0, n)], pos);
      pos += n;
      len -= n;
    }
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}
