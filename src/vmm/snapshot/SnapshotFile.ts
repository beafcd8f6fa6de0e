// The snapshot file format (docs/SNAPSHOTS.md has the full description). Little-endian:
//
//   0   8  magic "TYPVSNAP"
//   8   4  format version (SNAPSHOT_FORMAT_VERSION); a reader refuses any other
//   12  4  header length H
//   16  H  header: UTF-8 JSON {format, createdAt, machine: the configuration to rebuild the board}
//   then sections until the end of the file, each:
//        4  name length N, N bytes name (ASCII)
//        8  payload length L (u64), L bytes payload
//   sections of format 1:
//     "state"  UTF-8 JSON: every device's and hart's saved state (MachineState.ts)
//     "ram"    guest RAM, sparse: a 16-byte head {u32 page size 4096, u32 pages, u32 encoding
//              (0 raw, 1 deflate), u32 0}, a bitmap with one bit per page (1 = stored; pages that are
//              all zero are not stored), then the stored pages in order: raw, or in deflate-raw
//              chunks of up to RAM_CHUNK_PAGES pages, each chunk prefixed with its u32 byte length.
// A reader skips sections it does not know, so a later format can add one without a version bump;
// a change to an existing section's meaning bumps the version.
import { closeSync, fstatSync, openSync, readSync, writeSync } from "node:fs";
import { deflateRawSync, inflateRawSync } from "node:zlib";

export const SNAPSHOT_MAGIC = "TYPVSNAP";
export const SNAPSHOT_FORMAT_VERSION = 1;
export const SNAPSHOT_PAGE = 4096;
const RAM_CHUNK_PAGES = 256;
const RAM_RAW = 0;
const RAM_DEFLATE = 1;

/** A snapshot that cannot be read: the message names the file and what is wrong. */
export class SnapshotError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SnapshotError";
  }
}

/** Writes a snapshot file section by section. */
export class SnapshotWriter {
  private readonly fd: number;
  private pos = 0;

  constructor(
    readonly path: string,
    header: unknown,
  ) {
    this.fd = openSync(path, "w", 0o600);
    const json = Buffer.from(JSON.stringify(header), "utf8");
    const head = Buffer.alloc(16);
    head.write(SNAPSHOT_MAGIC, 0, "latin1");
    head.writeUInt32LE(SNAPSHOT_FORMAT_VERSION, 8);
    head.writeUInt32LE(json.length, 12);
    this.put(head);
    this.put(json);
  }

  private put(b: Uint8Array, off = 0, len = b.length - off): void {
    let done = 0;
    while (done < len) done += writeSync(this.fd, b, off + done, len - done, this.pos + done);
    this.pos += len;
  }

  /** Starts a section; returns the file position of its length field (patched by endSection). */
  private beginSection(name: string): number {
    const n = Buffer.from(name, "latin1");
    const h = Buffer.alloc(4 + n.length + 8);
    h.writeUInt32LE(n.length, 0);
    n.copy(h, 4);
    this.put(h);
    return this.pos - 8;
  }

  private endSection(lengthAt: number): void {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(this.pos - lengthAt - 8));
    writeSync(this.fd, len, 0, 8, lengthAt);
  }

  json(name: string, value: unknown): void {
    const at = this.beginSection(name);
    this.put(Buffer.from(JSON.stringify(value), "utf8"));
    this.endSection(at);
  }

  /**
   * The "ram" section from `ram` (guest RAM, a multiple of 4 KiB): all-zero pages are left out.
   * Returns how many pages were stored.
   */
  ram(ram: Uint8Array, compress: boolean): number {
    const at = this.beginSection("ram");
    const pages = ram.length / SNAPSHOT_PAGE;
    const buf = Buffer.from(ram.buffer, ram.byteOffset, ram.length);
    const zero = Buffer.alloc(SNAPSHOT_PAGE);
    const bitmap = Buffer.alloc(Math.ceil(pages / 8));
    let present = 0;
    for (let p = 0; p < pages; p++) {
      const off = p * SNAPSHOT_PAGE;
      if (buf.compare(zero, 0, SNAPSHOT_PAGE, off, off + SNAPSHOT_PAGE) !== 0) {
        bitmap[p >>> 3]! |= 1 << (p & 7);
        present++;
      }
    }
    const head = Buffer.alloc(16);
    head.writeUInt32LE(SNAPSHOT_PAGE, 0);
    head.writeUInt32LE(pages, 4);
    head.writeUInt32LE(compress ? RAM_DEFLATE : RAM_RAW, 8);
    this.put(head);
    this.put(bitmap);
    if (compress) {
      const chunk = Buffer.alloc(RAM_CHUNK_PAGES * SNAPSHOT_PAGE);
      let n = 0;
      const flush = () => {
        if (n === 0) return;
        const z = deflateRawSync(chunk.subarray(0, n * SNAPSHOT_PAGE), { level: 1 });
        const l = Buffer.alloc(4);
        l.writeUInt32LE(z.length);
        this.put(l);
        this.put(z);
        n = 0;
      };
      forEachRun(bitmap, pages, (first, count) => {
        for (let p = first; p < first + count; p++) {
          buf.copy(chunk, n * SNAPSHOT_PAGE, p * SNAPSHOT_PAGE, (p + 1) * SNAPSHOT_PAGE);
          if (++n === RAM_CHUNK_PAGES) flush();
        }
      });
      flush();
    } else {
      // Runs of stored pages go out in one write each, straight from guest RAM.
      forEachRun(bitmap, pages, (first, count) => this.put(buf, first * SNAPSHOT_PAGE, count * SNAPSHOT_PAGE));
    }
    this.endSection(at);
    return present;
  }

  close(): number {
    closeSync(this.fd);
    return this.pos;
  }

  /** Closes without keeping a partial file's promise of being whole (the caller deletes it). */
  abort(): void {
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
  }
}

/** Calls `f(first, count)` for each run of set bits in the page bitmap. */
function forEachRun(bitmap: Uint8Array, pages: number, f: (first: number, count: number) => void): void {
  let p = 0;
  while (p < pages) {
    if ((bitmap[p >>> 3]! & (1 << (p & 7))) === 0) {
      p++;
      continue;
    }
    const first = p;
    while (p < pages && (bitmap[p >>> 3]! & (1 << (p & 7))) !== 0) p++;
    f(first, p - first);
  }
}

interface SectionRef {
  offset: number;
  length: number;
}

/** Reads a snapshot file: the header at open, sections on demand. */
export class SnapshotReader {
  readonly header: unknown;
  readonly formatVersion: number;
  private readonly fd: number;
  private readonly sections = new Map<string, SectionRef>();

  constructor(readonly path: string) {
    let fd: number;
    try {
      fd = openSync(path, "r");
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new SnapshotError(
        code === "ENOENT"
          ? `snapshot '${path}' does not exist; check the path`
          : `cannot open snapshot '${path}': ${(e as Error).message}`,
      );
    }
    this.fd = fd;
    try {
      const size = fstatSync(fd).size;
      const head = this.bytes(0, Math.min(16, size));
      if (size < 16 || Buffer.from(head.subarray(0, 8)).toString("latin1") !== SNAPSHOT_MAGIC)
        throw new SnapshotError(`'${path}' is not a Typevisor snapshot (no "${SNAPSHOT_MAGIC}" magic at its start)`);
      const dv = new DataView(head.buffer, head.byteOffset, 16);
      this.formatVersion = dv.getUint32(8, true);
      if (this.formatVersion !== SNAPSHOT_FORMAT_VERSION)
        throw new SnapshotError(
          `snapshot '${path}' has format version ${this.formatVersion}, but this Typevisor reads version ${SNAPSHOT_FORMAT_VERSION} only; restore it with the Typevisor that wrote it`,
        );
      const hlen = dv.getUint32(12, true);
      this.header = this.parse(this.bytes(16, hlen, size), "header");
      let pos = 16 + hlen;
      while (pos < size) {
        const nl = Buffer.from(this.bytes(pos, 4, size)).readUInt32LE(0);
        if (nl > 64) throw new SnapshotError(`snapshot '${path}' is corrupt: section name of ${nl} bytes at ${pos}`);
        const name = Buffer.from(this.bytes(pos + 4, nl, size)).toString("latin1");
        const len = Number(Buffer.from(this.bytes(pos + 4 + nl, 8, size)).readBigUInt64LE(0));
        const offset = pos + 4 + nl + 8;
        if (offset + len > size)
          throw new SnapshotError(`snapshot '${path}' is truncated: section '${name}' runs past the end of the file`);
        this.sections.set(name, { offset, length: len });
        pos = offset + len;
      }
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  private bytes(pos: number, len: number, size = Number.POSITIVE_INFINITY): Uint8Array {
    if (pos + len > size) throw new SnapshotError(`snapshot '${this.path}' is truncated (${size} bytes)`);
    const b = new Uint8Array(len);
    let done = 0;
    while (done < len) {
      const n = readSync(this.fd, b, done, len - done, pos + done);
      if (n === 0) throw new SnapshotError(`snapshot '${this.path}' is truncated`);
      done += n;
    }
    return b;
  }

  private parse(b: Uint8Array, what: string): unknown {
    try {
      return JSON.parse(Buffer.from(b).toString("utf8")) as unknown;
    } catch (e) {
      throw new SnapshotError(`snapshot '${this.path}': the ${what} is not valid JSON (${(e as Error).message})`);
    }
  }

  private section(name: string): SectionRef {
    const s = this.sections.get(name);
    if (!s) throw new SnapshotError(`snapshot '${this.path}' has no '${name}' section (incomplete snapshot)`);
    return s;
  }

  json(name: string): unknown {
    const s = this.section(name);
    return this.parse(this.bytes(s.offset, s.length), `'${name}' section`);
  }

  /**
   * Loads the "ram" section into `ram` (zero where no page is stored, as long as `ram` was zero
   * there before: the caller zeroes what it wrote). Eager: WebAssembly.Memory cannot map a file, so
   * each stored page is read into place; runs of stored pages are read in one call each. Returns
   * the pages loaded.
   */
  loadRam(ram: Uint8Array, zeroFirst: (pages: Uint8Array) => void): number {
    const s = this.section("ram");
    const head = Buffer.from(this.bytes(s.offset, 16));
    const pageSize = head.readUInt32LE(0);
    const pages = head.readUInt32LE(4);
    const encoding = head.readUInt32LE(8);
    if (pageSize !== SNAPSHOT_PAGE || pages * SNAPSHOT_PAGE !== ram.length)
      throw new SnapshotError(
        `snapshot '${this.path}' holds ${pages} pages of ${pageSize} bytes of RAM, the machine has ${ram.length} bytes`,
      );
    const bitmap = this.bytes(s.offset + 16, Math.ceil(pages / 8));
    zeroFirst(bitmap);
    let pos = s.offset + 16 + bitmap.length;
    const end = s.offset + s.length;
    let loaded = 0;
    if (encoding === RAM_RAW) {
      forEachRun(bitmap, pages, (first, count) => {
        const len = count * SNAPSHOT_PAGE;
        if (pos + len > end) throw new SnapshotError(`snapshot '${this.path}': RAM section is truncated`);
        const dst = ram.subarray(first * SNAPSHOT_PAGE, first * SNAPSHOT_PAGE + len);
        let done = 0;
        while (done < len) done += readSync(this.fd, dst, done, len - done, pos + done) || fail(this.path);
        pos += len;
        loaded += count;
      });
    } else if (encoding === RAM_DEFLATE) {
      let chunk: Buffer = Buffer.alloc(0);
      let at = 0;
      forEachRun(bitmap, pages, (first, count) => {
        for (let p = first; p < first + count; p++) {
          if (at >= chunk.length) {
            const l = Buffer.from(this.bytes(pos, 4)).readUInt32LE(0);
            if (pos + 4 + l > end) fail(this.path);
            chunk = inflateRawSync(this.bytes(pos + 4, l));
            pos += 4 + l;
            at = 0;
          }
          ram.set(chunk.subarray(at, at + SNAPSHOT_PAGE), p * SNAPSHOT_PAGE);
          at += SNAPSHOT_PAGE;
          loaded++;
        }
      });
    } else {
      throw new SnapshotError(`snapshot '${this.path}': unknown RAM encoding ${encoding}`);
    }
    return loaded;
  }

  /**
   * The lazy counterpart of loadRam (docs/SNAPSHOTS.md "Restore is lazy"), for raw RAM sections:
   * reads only the bitmap and returns which pages are stored (1 in `absent`, one byte per page) and
   * pageIn(page), which reads one stored page into `ram` from this file. The reader must stay open
   * while pages may still be read. Undefined for deflated RAM, whose pages cannot be read one by
   * one: the caller loads it eagerly.
   */
  lazyRam(ram: Uint8Array): { absent: Uint8Array; stored: number; pageIn: (page: number) => void } | undefined {
    const s = this.section("ram");
    const head = Buffer.from(this.bytes(s.offset, 16));
    const pages = head.readUInt32LE(4);
    if (head.readUInt32LE(0) !== SNAPSHOT_PAGE || pages * SNAPSHOT_PAGE !== ram.length)
      throw new SnapshotError(
        `snapshot '${this.path}' holds ${pages} pages of ${head.readUInt32LE(0)} bytes of RAM, the machine has ${ram.length} bytes`,
      );
    if (head.readUInt32LE(8) !== RAM_RAW) return undefined;
    const bitmap = this.bytes(s.offset + 16, Math.ceil(pages / 8));
    const data = s.offset + 16 + bitmap.length;
    // The stored pages are in page order: a page's place in the file is the number of stored pages
    // before it, counted per byte of the bitmap once here.
    // Shared, so vCPU threads' views of RAM see the same marks (GuestMemory.beginLazy).
    const absent = new Uint8Array(new SharedArrayBuffer(pages));
    const before = new Uint32Array(bitmap.length);
    let stored = 0;
    for (let i = 0; i < bitmap.length; i++) {
      before[i] = stored;
      for (let b = 0; b < 8; b++) {
        if ((bitmap[i]! >>> b) & 1) {
          absent[i * 8 + b] = 1;
          stored++;
        }
      }
    }
    if (data + stored * SNAPSHOT_PAGE > s.offset + s.length) fail(this.path);
    const fd = this.fd;
    const path = this.path;
    const pageIn = (page: number) => {
      const byte = page >>> 3;
      let rank = before[byte]!;
      for (let b = 0; b < (page & 7); b++) rank += (bitmap[byte]! >>> b) & 1;
      const dst = ram.subarray(page * SNAPSHOT_PAGE, (page + 1) * SNAPSHOT_PAGE);
      const pos = data + rank * SNAPSHOT_PAGE;
      let done = 0;
      while (done < SNAPSHOT_PAGE) done += readSync(fd, dst, done, SNAPSHOT_PAGE - done, pos + done) || fail(path);
    };
    return { absent, stored, pageIn };
  }

  close(): void {
    closeSync(this.fd);
  }
}

function fail(path: string): never {
  throw new SnapshotError(`snapshot '${path}': RAM section is truncated`);
}
