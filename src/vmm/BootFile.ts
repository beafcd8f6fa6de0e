// A kernel, initramfs or firmware file the board loads at every power-on reset, held in memory only
// while it is being loaded: the board releases it once its bytes are in guest RAM, and a reboot reads
// the file again. Keeping them (a 30 MB kernel and a 15 MB initramfs) for a reboot that may never
// come was ~45 MB of a boot's peak RSS (docs/DBT.md "Session 6: RSS"). QEMU keeps its copies
// (hw/core/loader.c ROM blobs); Cloud Hypervisor opens the kernel path again on reboot, which is
// what this does, with a check that the file is still the one the machine booted.
//
// "The same file" is decided the way `make` and rsync's quick check decide it: same device, inode,
// size and modification time (nanoseconds), taken from the open file before and after reading it. A
// file that was replaced, rewritten or touched since is refused, naming it, unless its SHA-256 is
// known (a snapshot's reference records it) and matches. Hashing every boot file at start instead
// would cost ~35 ms of the boot path for a check that only a reboot needs.
import { createHash } from "node:crypto";
import { closeSync, fstatSync, openSync, readSync, type BigIntStats } from "node:fs";
import { resolve } from "node:path";
import type { NamedBytes } from "./VirtLayout.js";

/**
 * The size of the block a file is read into, at least. glibc raises its mmap threshold (and the trim
 * threshold, to twice that) to the size of any freed mmapped block of up to 32 MiB (mallopt(3),
 * M_MMAP_THRESHOLD: DEFAULT_MMAP_THRESHOLD_MAX on 64-bit), after which the malloc arenas of V8's
 * threads kept ~15 MiB of freed memory resident: that was the price of releasing a 30 MB kernel. A
 * block above that limit leaves the thresholds alone; its pages past the file are never touched.
 */
const BEYOND_DYNAMIC_MMAP = 32 * 1024 * 1024 + 4096;

/** What identifies the file's content without reading it. */
interface FileIdentity {
  dev: bigint;
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
}

function identity(st: BigIntStats): FileIdentity {
  return { dev: st.dev, ino: st.ino, size: st.size, mtimeNs: st.mtimeNs };
}

function sameIdentity(a: FileIdentity, b: FileIdentity): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs;
}

/** A file a snapshot refers to: its size and content hash, and its modification time when known. */
export interface BootFileRef {
  path: string;
  size: number;
  sha256: string;
  mtimeMs?: number;
}

export interface BootFileOptions {
  /** What the file is, for messages: "kernel", "initramfs", "firmware". */
  what: string;
  /** Since when the content must be unchanged, for messages: "the VM booted", "snapshot 'S' was taken". */
  since: string;
  /** Makes the error thrown when the file cannot be read or changed (default: Error). */
  error?: (message: string) => Error;
}

export class BootFile implements NamedBytes {
  /** The path as given (messages name the file this way). */
  readonly name: string;
  /** The absolute path, read again at a reboot. */
  readonly path: string;
  private held: Uint8Array | undefined;
  private known: FileIdentity | undefined;
  private readonly ref: BootFileRef | undefined;
  private hash: string | undefined;

  private constructor(
    name: string,
    private readonly opts: BootFileOptions,
    ref?: BootFileRef,
  ) {
    this.name = name;
    this.path = resolve(name);
    this.ref = ref;
    this.hash = ref?.sha256;
  }

  /**
   * Reads the file now (a missing or unreadable file throws the fs error, with its code, for the
   * caller to word); later reads must find the same file.
   */
  static read(path: string, opts: BootFileOptions): BootFile {
    const f = new BootFile(path, opts);
    f.held = f.readIdentified();
    return f;
  }

  /**
   * A file known by a snapshot's reference: read when something asks for its bytes (a reboot of the
   * restored guest), and accepted if its size and modification time are the recorded ones, or
   * else if its content has the recorded SHA-256.
   */
  static expected(ref: BootFileRef, opts: BootFileOptions): BootFile {
    return new BootFile(ref.path, opts, ref);
  }

  /** The content; after release(), read from the file again and checked. */
  get bytes(): Uint8Array {
    return (this.held ??= this.readChecked());
  }

  /** The size in bytes of the content the machine uses. */
  get size(): number {
    return this.ref?.size ?? Number(this.known!.size);
  }

  /** Drops the content from memory; the next `bytes` reads the file again. */
  release(): void {
    this.held = undefined;
  }

  /** The reference a snapshot records: path, size, SHA-256 of the content and modification time. */
  snapshotRef(): BootFileRef {
    if (this.hash === undefined) {
      const held = this.held !== undefined;
      this.hash = createHash("sha256").update(this.bytes).digest("hex");
      if (!held) this.release();
    }
    return {
      path: this.path,
      size: this.size,
      sha256: this.hash,
      mtimeMs: this.known ? mtimeMs(this.known) : this.ref?.mtimeMs,
    };
  }

  private fail(message: string): Error {
    return this.opts.error ? this.opts.error(message) : new Error(message);
  }

  /** Reads the file and notes its identity (refusing a file that changed while it was read). */
  private readIdentified(): Uint8Array {
    const fd = openSync(this.path, "r");
    try {
      const before = identity(fstatSync(fd, { bigint: true }));
      const size = Number(before.size);
      const buffer = new Uint8Array(Buffer.allocUnsafeSlow(Math.max(size, BEYOND_DYNAMIC_MMAP)).buffer, 0, size);
      let got = 0;
      for (let n = 1; got < size && n > 0; got += n) n = readSync(fd, buffer, got, size - got, got);
      const after = identity(fstatSync(fd, { bigint: true }));
      if (!sameIdentity(before, after) || got !== size)
        throw this.fail(`the ${this.opts.what} '${this.name}' changed while it was being read; try again`);
      this.known = after;
      return buffer;
    } finally {
      closeSync(fd);
    }
  }

  /** Reads the file again and checks it is the content the machine was given. */
  private readChecked(): Uint8Array {
    const { what, since } = this.opts;
    const was = this.known;
    let bytes: Uint8Array;
    try {
      bytes = this.readIdentified();
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === undefined) throw e;
      throw this.fail(
        `the ${what} '${this.name}' cannot be read (${code}); the machine needs it again (to reboot, or for a snapshot's record of it), the same file as when ${since}: put it back at that path`,
      );
    }
    const now = this.known!;
    if (was) {
      if (sameIdentity(was, now)) return bytes;
      this.known = was;
      throw this.fail(
        `the ${what} '${this.name}' changed since ${since} (${describeChange(was, now)}); the machine reads it again (to reboot, or for a snapshot's record of it) and needs the same file: put the original back, or power off and start the machine again with the new file`,
      );
    }
    // Known by a snapshot's reference only.
    const ref = this.ref!;
    if (bytes.length === ref.size && ref.mtimeMs !== undefined && mtimeMs(now) === ref.mtimeMs) return bytes;
    const sum = createHash("sha256").update(bytes).digest("hex");
    if (sum !== ref.sha256)
      throw this.fail(
        `the ${what} '${this.name}' changed since ${since} (sha256 ${sum.slice(0, 12)}…, expected ${ref.sha256.slice(0, 12)}…); it needs the same file`,
      );
    return bytes;
  }
}

/** The modification time as fs.Stats.mtimeMs gives it (what snapshot headers record). */
function mtimeMs(id: FileIdentity): number {
  // Node's msFromTimeSpec: sec * 1e3 + nsec / 1e6, in doubles.
  return Number(id.mtimeNs / 1_000_000_000n) * 1e3 + Number(id.mtimeNs % 1_000_000_000n) / 1e6;
}

function describeChange(was: FileIdentity, now: FileIdentity): string {
  if (was.dev !== now.dev || was.ino !== now.ino) return "it was replaced by another file";
  if (was.size !== now.size) return `its size went from ${was.size} to ${now.size} bytes`;
  return "it was modified: its modification time differs";
}
