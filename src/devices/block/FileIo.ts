// Positional vectored file I/O that finishes the job: pread/pwrite may transfer fewer bytes than
// asked (signals, file shrinking under us), so both loops continue from where the call stopped.
// The buffers are views into guest RAM; nothing is copied.

import type { FileHandle } from "node:fs/promises";

function total(bufs: readonly Uint8Array[]): number {
  let n = 0;
  for (const b of bufs) n += b.length;
  return n;
}

/** Fills `bufs` from file offset `pos`; bytes past the end of the file read as zeroes. */
export async function readvAll(fh: FileHandle, bufs: readonly Uint8Array[], pos: number): Promise<void> {
  const want = total(bufs);
  // One buffer (the common case: Linux's pages are often contiguous) goes through plain pread.
  const { bytesRead } =
    bufs.length === 1 ? await fh.read(bufs[0]!, 0, want, pos) : await fh.readv(bufs as Uint8Array[], pos);
  if (bytesRead === want) return;
  let skip = bytesRead;
  let at = pos + bytesRead;
  for (const b of bufs) {
    if (skip >= b.length) {
      skip -= b.length;
      continue;
    }
    let off = skip;
    skip = 0;
    while (off < b.length) {
      const { bytesRead: n } = await fh.read(b, off, b.length - off, at);
      if (n === 0) {
        b.fill(0, off);
        at += b.length - off;
        break;
      }
      off += n;
      at += n;
    }
  }
}

/** Writes `bufs` (in order) at file offset `pos`. */
export async function writevAll(fh: FileHandle, bufs: readonly Uint8Array[], pos: number): Promise<void> {
  const want = total(bufs);
  const { bytesWritten } =
    bufs.length === 1 ? await fh.write(bufs[0]!, 0, want, pos) : await fh.writev(bufs as Uint8Array[], pos);
  if (bytesWritten === want) return;
  let skip = bytesWritten;
  let at = pos + bytesWritten;
  for (const b of bufs) {
    if (skip >= b.length) {
      skip -= b.length;
      continue;
    }
    let off = skip;
    skip = 0;
    while (off < b.length) {
      const { bytesWritten: n } = await fh.write(b, off, b.length - off, at);
      off += n;
      at += n;
    }
  }
}
