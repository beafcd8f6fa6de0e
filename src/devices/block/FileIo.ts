// Positional vectored file I/O that finishes the job: pread/pwrite may transfer fewer bytes than
// asked (signals, file shrinking under us), so both loops continue from where the call stopped.
// The buffers are views into guest RAM; nothing is copied.

import type { FileHandle } from "node:fs/promises";

function total(bufs: readonly Uint8Array[]): number {
  let n = 0;
  for (const b of bufs) n += b.length;
  return n;
}

/** One positional transfer into or out of `b[off, off+len)` at file offset `at`; returns the bytes moved. */
type Transfer = (b: Uint8Array, off: number, len: number, at: number) => Promise<number>;

/**
 * Finishes a vectored transfer whose first call moved `done` of the bytes: the rest goes buffer by
 * buffer from where that call stopped. A transfer of 0 bytes is end of file: `atEnd` decides what
 * happens to the rest of that buffer (zeroes for reads, an error for writes).
 */
async function finish(
  bufs: readonly Uint8Array[],
  done: number,
  pos: number,
  transfer: Transfer,
  atEnd: (b: Uint8Array, off: number) => void,
): Promise<void> {
  let skip = done;
  let at = pos + done;
  for (const b of bufs) {
    if (skip >= b.length) {
      skip -= b.length;
      continue;
    }
    let off = skip;
    skip = 0;
    while (off < b.length) {
      const n = await transfer(b, off, b.length - off, at);
      if (n === 0) {
        atEnd(b, off);
        at += b.length - off;
        break;
      }
      off += n;
      at += n;
    }
  }
}

/** Fills `bufs` from file offset `pos`; bytes past the end of the file read as zeroes. */
export async function readvAll(fh: FileHandle, bufs: readonly Uint8Array[], pos: number): Promise<void> {
  const want = total(bufs);
  // One buffer (the common case: Linux's pages are often contiguous) goes through plain pread.
  const { bytesRead } =
    bufs.length === 1 ? await fh.read(bufs[0]!, 0, want, pos) : await fh.readv(bufs as Uint8Array[], pos);
  if (bytesRead === want) return;
  await finish(
    bufs,
    bytesRead,
    pos,
    async (b, off, len, at) => (await fh.read(b, off, len, at)).bytesRead,
    (b, off) => b.fill(0, off),
  );
}

/** Writes `bufs` (in order) at file offset `pos`. */
export async function writevAll(fh: FileHandle, bufs: readonly Uint8Array[], pos: number): Promise<void> {
  const want = total(bufs);
  const { bytesWritten } =
    bufs.length === 1 ? await fh.write(bufs[0]!, 0, want, pos) : await fh.writev(bufs as Uint8Array[], pos);
  if (bytesWritten === want) return;
  await finish(
    bufs,
    bytesWritten,
    pos,
    async (b, off, len, at) => (await fh.write(b, off, len, at)).bytesWritten,
    () => {
      // pwrite(2) moving nothing for a non-empty buffer would repeat forever; fail the request instead.
      throw new Error("write to the disk image made no progress");
    },
  );
}
