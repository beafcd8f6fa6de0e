// Open file descriptions (Linux's struct file): what a descriptor refers to. dup() and fork() share
// one description (and so its offset and status flags); close() drops a reference.
import * as fs from "node:fs";

// open(2) flags, asm-generic values (include/uapi/asm-generic/fcntl.h).
export const O_ACCMODE = 3;
export const O_RDONLY = 0;
export const O_WRONLY = 1;
export const O_RDWR = 2;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_NOCTTY = 0o400;
export const O_TRUNC = 0o1000;
export const O_APPEND = 0o2000;
export const O_NONBLOCK = 0o4000;
export const O_DSYNC = 0o10000;
export const O_DIRECTORY = 0o200000;
export const O_NOFOLLOW = 0o400000;
export const O_CLOEXEC = 0o2000000;
export const O_PATH = 0o10000000;
export const O_TMPFILE = 0o20000000 | O_DIRECTORY;

/** Something a blocked process waits on; wake() makes every waiter runnable again. */
export class WaitQueue {
  private readonly waiters = new Set<() => void>();
  add(wake: () => void): void {
    this.waiters.add(wake);
  }
  delete(wake: () => void): void {
    this.waiters.delete(wake);
  }
  wakeAll(): void {
    if (this.waiters.size === 0) return;
    const ws = [...this.waiters];
    this.waiters.clear();
    for (const w of ws) w();
  }
}

export abstract class OpenFile {
  refs = 1;
  /** Access mode and status flags (O_APPEND, O_NONBLOCK) as the guest set them. */
  flags: number;
  constructor(flags: number) {
    this.flags = flags;
  }
  get readable(): boolean {
    return (this.flags & O_ACCMODE) !== O_WRONLY && (this.flags & O_PATH) === 0;
  }
  get writable(): boolean {
    return (this.flags & O_ACCMODE) !== O_RDONLY && (this.flags & O_PATH) === 0;
  }
  /** Called when the last descriptor referring to this description is closed. */
  abstract release(): void;
}

/** A host file or directory opened through Node's fs (regular files, directories, devices, ttys). */
export class HostFile extends OpenFile {
  /** Our own file offset: Node has no lseek, so reads and writes are positional (pread/pwrite). */
  pos = 0;
  /** Directory listing for getdents64, taken at the first call (and at rewind). */
  dirents: { name: string; type: number; ino: bigint }[] | undefined;
  dirPos = 0;
  constructor(
    flags: number,
    readonly hostFd: number,
    /**
     * Canonical guest path (for fchdir, *at() and /proc/self/fd). There is deliberately no host
     * path: host work on an open file goes through its descriptor (/proc/self/fd/N), because the
     * path may have been renamed or replaced by a symlink since it was opened.
     */
    readonly guestPath: string,
    readonly isDir: boolean,
    /** Regular files (and block devices) are seekable: positional I/O. Ttys, fifos: stream I/O. */
    readonly seekable: boolean,
    /** Host descriptors we must not close (the host's own stdin/stdout/stderr). */
    readonly borrowed = false,
  ) {
    super(flags);
  }
  release(): void {
    if (this.borrowed || this.hostFd < 0) return;
    try {
      fs.closeSync(this.hostFd);
    } catch {
      // Nothing the guest can do about a failing host close.
    }
  }
}

/** A read-only file whose contents Typevisor made (the /proc files of ProcFs.ts). */
export class MemFile extends OpenFile {
  pos = 0;
  constructor(
    flags: number,
    readonly data: Uint8Array,
    readonly guestPath: string,
  ) {
    super(flags);
  }
  release(): void {}
}

/** A pipe buffer (pipe(7)): 64 KiB, the Linux default capacity. */
export class Pipe {
  static readonly CAPACITY = 65536;
  /** PIPE_BUF: writes up to this size are atomic. */
  static readonly ATOMIC = 4096;
  readonly buf = new Uint8Array(Pipe.CAPACITY);
  head = 0;
  length = 0;
  readers = 0;
  writers = 0;
  readonly readWait = new WaitQueue();
  readonly writeWait = new WaitQueue();
  readonly ino: number;
  private static nextIno = 1000;
  constructor() {
    this.ino = Pipe.nextIno++;
  }
  /** Copies up to `n` bytes out into dst at dstOff; returns the count. */
  take(dst: Uint8Array, dstOff: number, n: number): number {
    const count = Math.min(n, this.length);
    let done = 0;
    while (done < count) {
      const chunk = Math.min(count - done, Pipe.CAPACITY - this.head);
      dst.set(this.buf.subarray(this.head, this.head + chunk), dstOff + done);
      this.head = (this.head + chunk) % Pipe.CAPACITY;
      done += chunk;
    }
    this.length -= count;
    if (this.length === 0) this.head = 0;
    if (count > 0) this.writeWait.wakeAll();
    return count;
  }
  /** Copies up to `n` bytes in from src at srcOff; returns the count. */
  put(src: Uint8Array, srcOff: number, n: number): number {
    const count = Math.min(n, Pipe.CAPACITY - this.length);
    let done = 0;
    while (done < count) {
      const tail = (this.head + this.length) % Pipe.CAPACITY;
      const chunk = Math.min(count - done, Pipe.CAPACITY - tail);
      this.buf.set(src.subarray(srcOff + done, srcOff + done + chunk), tail);
      this.length += chunk;
      done += chunk;
    }
    if (count > 0) this.readWait.wakeAll();
    return count;
  }
}

export class PipeEnd extends OpenFile {
  constructor(
    flags: number,
    readonly pipe: Pipe,
    readonly isWrite: boolean,
  ) {
    super(flags);
    if (isWrite) pipe.writers++;
    else pipe.readers++;
  }
  release(): void {
    if (this.isWrite) {
      this.pipe.writers--;
      if (this.pipe.writers === 0) this.pipe.readWait.wakeAll(); // readers now see EOF
    } else {
      this.pipe.readers--;
      if (this.pipe.readers === 0) this.pipe.writeWait.wakeAll(); // writers now get EPIPE
    }
  }
}

/**
 * The host's stdin when it is a terminal or a pipe: read asynchronously (libuv's thread pool) so a
 * guest process waiting for input does not stop the others; a guest read blocks until data is here.
 */
export class HostInput {
  private chunks: Uint8Array[] = [];
  private eof = false;
  private pending = false;
  /** A host read was ever started (one may still be pending in libuv's thread pool at exit). */
  started = false;
  readonly wait = new WaitQueue();
  constructor(readonly hostFd: number) {}
  /** Bytes available now, or 0 at EOF, or -1 when the caller must block (a read was started). */
  read(dst: Uint8Array, off: number, n: number): number {
    if (this.chunks.length > 0) {
      let done = 0;
      while (done < n && this.chunks.length > 0) {
        const c = this.chunks[0]!;
        const k = Math.min(c.length, n - done);
        dst.set(c.subarray(0, k), off + done);
        done += k;
        if (k === c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(k);
      }
      return done;
    }
    if (this.eof) return 0;
    this.start();
    return -1;
  }
  get ready(): boolean {
    return this.chunks.length > 0 || this.eof;
  }
  start(): void {
    if (this.pending) return;
    this.pending = true;
    this.started = true;
    const buf = Buffer.allocUnsafe(65536);
    fs.read(this.hostFd, buf, 0, buf.length, null, (err, n) => {
      this.pending = false;
      if (err) {
        if ((err as NodeJS.ErrnoException).code === "EAGAIN") {
          setTimeout(() => this.start(), 10);
          return;
        }
        this.eof = true;
      } else if (n === 0) this.eof = true;
      else this.chunks.push(buf.subarray(0, n));
      this.wait.wakeAll();
    });
  }
}

export class HostInputFile extends OpenFile {
  constructor(
    flags: number,
    readonly input: HostInput,
  ) {
    super(flags);
  }
  release(): void {}
}

/** A descriptor table entry: the shared description plus the per-descriptor FD_CLOEXEC flag. */
export interface FdEntry {
  file: OpenFile;
  cloexec: boolean;
}

/** RLIMIT_NOFILE default soft limit. */
export const MAX_FDS = 1024;

export class FdTable {
  entries: (FdEntry | undefined)[] = [];

  get(fd: number): FdEntry | undefined {
    return fd >= 0 && fd < this.entries.length ? this.entries[fd] : undefined;
  }

  /** Lowest free descriptor >= min, or -1 (EMFILE). */
  lowestFree(min = 0): number {
    for (let i = min; i < MAX_FDS; i++) if (!this.entries[i]) return i;
    return -1;
  }

  install(fd: number, file: OpenFile, cloexec: boolean): void {
    const old = this.entries[fd];
    this.entries[fd] = { file, cloexec };
    if (old) OpenFile_drop(old.file);
  }

  close(fd: number): boolean {
    const e = this.get(fd);
    if (!e) return false;
    this.entries[fd] = undefined;
    OpenFile_drop(e.file);
    return true;
  }

  /** fork: same descriptions, one more reference each. */
  clone(): FdTable {
    const t = new FdTable();
    t.entries = this.entries.map((e) => {
      if (!e) return undefined;
      e.file.refs++;
      return { file: e.file, cloexec: e.cloexec };
    });
    return t;
  }

  /** execve closes FD_CLOEXEC descriptors. */
  closeOnExec(): void {
    for (let i = 0; i < this.entries.length; i++) if (this.entries[i]?.cloexec) this.close(i);
  }

  closeAll(): void {
    for (let i = 0; i < this.entries.length; i++) if (this.entries[i]) this.close(i);
  }
}

export function OpenFile_drop(f: OpenFile): void {
  if (--f.refs === 0) f.release();
}
