// gzip decompression (RFC 1952 member framing around RFC 1951 DEFLATE), synchronous and with no Node
// built-in, so a gzip-compressed kernel Image (Debian's vmlinuz on some architectures,
// Documentation/arch/riscv/boot.rst allows Image.gz) loads the same way under Node and in the page.
// A kernel is decompressed once per boot, so this favours plainness over speed: canonical Huffman
// decoding by code length, bit by bit (RFC 1951 §3.2.2), ~100 MB/s under V8 at the sizes of kernels.

export class GzipError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "GzipError";
  }
}

// RFC 1951 §3.2.5: base lengths/distances and extra bits of the length and distance codes.
const LEN_BASE = [
  3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258,
];
const LEN_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DIST_BASE = [
  1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145,
  8193, 12289, 16385, 24577,
];
const DIST_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
// §3.2.7: the order in which code length code lengths are stored.
const CLEN_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

/** A canonical Huffman code: how many codes of each length, and the symbols in code order. */
interface Huffman {
  counts: Uint16Array;
  symbols: Uint16Array;
}

function huffman(lengths: ArrayLike<number>, n: number): Huffman {
  const counts = new Uint16Array(16);
  for (let i = 0; i < n; i++) counts[lengths[i]!]!++;
  counts[0] = 0;
  const offs = new Uint16Array(16);
  for (let l = 1; l < 16; l++) offs[l] = offs[l - 1]! + counts[l - 1]!;
  const symbols = new Uint16Array(n);
  for (let i = 0; i < n; i++) if (lengths[i]) symbols[offs[lengths[i]!]!++] = i;
  return { counts, symbols };
}

const FIXED_LIT = (() => {
  const l = new Uint8Array(288);
  l.fill(8, 0, 144).fill(9, 144, 256).fill(7, 256, 280).fill(8, 280, 288);
  return huffman(l, 288);
})();
const FIXED_DIST = huffman(new Uint8Array(30).fill(5), 30);

class Inflater {
  private pos: number;
  private bit = 0;
  private nbits = 0;
  out: Uint8Array;
  len = 0;

  constructor(
    private readonly src: Uint8Array,
    start: number,
    sizeHint: number,
  ) {
    this.pos = start;
    this.out = new Uint8Array(Math.max(1024, sizeHint));
  }

  get offset(): number {
    return this.pos;
  }

  private bits(n: number): number {
    while (this.nbits < n) {
      if (this.pos >= this.src.length) throw new GzipError("the compressed data ends early (truncated file?)");
      this.bit |= this.src[this.pos++]! << this.nbits;
      this.nbits += 8;
    }
    const v = this.bit & ((1 << n) - 1);
    this.bit >>>= n;
    this.nbits -= n;
    return v;
  }

  private decode(h: Huffman): number {
    let code = 0;
    let first = 0;
    let index = 0;
    for (let l = 1; l < 16; l++) {
      code |= this.bits(1);
      const count = h.counts[l]!;
      if (code - first < count) return h.symbols[index + code - first]!;
      index += count;
      first = (first + count) << 1;
      code <<= 1;
    }
    throw new GzipError("invalid Huffman code in the compressed data");
  }

  private room(n: number): void {
    if (this.len + n <= this.out.length) return;
    const bigger = new Uint8Array(Math.max(this.out.length * 2, this.len + n));
    bigger.set(this.out.subarray(0, this.len));
    this.out = bigger;
  }

  private stored(): void {
    this.bit = 0;
    this.nbits = 0; // §3.2.4: skip to the byte boundary
    const s = this.src;
    if (this.pos + 4 > s.length) throw new GzipError("the compressed data ends early (truncated file?)");
    const len = s[this.pos]! | (s[this.pos + 1]! << 8);
    const nlen = s[this.pos + 2]! | (s[this.pos + 3]! << 8);
    if ((len ^ 0xffff) !== nlen) throw new GzipError("a stored block's length check fails");
    this.pos += 4;
    if (this.pos + len > s.length) throw new GzipError("the compressed data ends early (truncated file?)");
    this.room(len);
    this.out.set(s.subarray(this.pos, this.pos + len), this.len);
    this.len += len;
    this.pos += len;
  }

  private dynamicCodes(): [Huffman, Huffman] {
    const nlen = this.bits(5) + 257;
    const ndist = this.bits(5) + 1;
    const ncode = this.bits(4) + 4;
    const cl = new Uint8Array(19);
    for (let i = 0; i < ncode; i++) cl[CLEN_ORDER[i]!] = this.bits(3);
    const clh = huffman(cl, 19);
    const lengths = new Uint8Array(nlen + ndist);
    for (let i = 0; i < nlen + ndist;) {
      const sym = this.decode(clh);
      if (sym < 16) {
        lengths[i++] = sym;
        continue;
      }
      let rep: number;
      let val = 0;
      if (sym === 16) {
        if (i === 0) throw new GzipError("a length repeat with no previous length");
        val = lengths[i - 1]!;
        rep = 3 + this.bits(2);
      } else if (sym === 17) rep = 3 + this.bits(3);
      else rep = 11 + this.bits(7);
      if (i + rep > nlen + ndist) throw new GzipError("too many code lengths");
      lengths.fill(val, i, i + rep);
      i += rep;
    }
    return [huffman(lengths, nlen), huffman(lengths.subarray(nlen), ndist)];
  }

  private codes(lit: Huffman, dist: Huffman): void {
    for (;;) {
      const sym = this.decode(lit);
      if (sym < 256) {
        this.room(1);
        this.out[this.len++] = sym;
      } else if (sym === 256) {
        return;
      } else {
        const li = sym - 257;
        if (li >= 29) throw new GzipError("invalid length code");
        const length = LEN_BASE[li]! + this.bits(LEN_EXTRA[li]!);
        const di = this.decode(dist);
        if (di >= 30) throw new GzipError("invalid distance code");
        const d = DIST_BASE[di]! + this.bits(DIST_EXTRA[di]!);
        if (d > this.len) throw new GzipError("a distance reaches before the start of the data");
        this.room(length);
        const o = this.out;
        for (let k = 0; k < length; k++, this.len++) o[this.len] = o[this.len - d]!;
      }
    }
  }

  /** Inflates one DEFLATE stream; leaves `offset` at the byte after it. */
  run(): void {
    for (;;) {
      const final = this.bits(1);
      const type = this.bits(2);
      if (type === 0) this.stored();
      else if (type === 1) this.codes(FIXED_LIT, FIXED_DIST);
      else if (type === 2) {
        const [l, d] = this.dynamicCodes();
        this.codes(l, d);
      } else throw new GzipError("invalid block type 3");
      if (final) break;
    }
    this.bit = 0;
    this.nbits = 0;
  }
}

const CRC_TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

/** CRC-32 of RFC 1952 §8. */
export function crc32(b: Uint8Array): number {
  let c = -1;
  for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

/** Decompresses a gzip file (every member, concatenated, as gunzip does). */
export function gunzip(src: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  let p = 0;
  while (p < src.length) {
    // RFC 1952 §2.3: ID1 ID2 CM FLG MTIME(4) XFL OS, then the optional fields FLG announces.
    if (src.length - p < 18 || src[p] !== 0x1f || src[p + 1] !== 0x8b) {
      if (parts.length > 0) break; // trailing garbage after a member, as gzip warns and ignores
      throw new GzipError("not gzip data (no 1f 8b magic)");
    }
    if (src[p + 2] !== 8) throw new GzipError(`compression method ${src[p + 2]} is not DEFLATE (8)`);
    const flg = src[p + 3]!;
    p += 10;
    if (flg & 4) p += 2 + (src[p]! | (src[p + 1]! << 8)); // FEXTRA
    if (flg & 8) while (p < src.length && src[p++] !== 0); // FNAME
    if (flg & 16) while (p < src.length && src[p++] !== 0); // FCOMMENT
    if (flg & 2) p += 2; // FHCRC
    const isizeHint =
      src.length >= 4 ? new DataView(src.buffer, src.byteOffset + src.length - 4, 4).getUint32(0, true) : 0;
    const inf = new Inflater(src, p, parts.length === 0 ? isizeHint : 0);
    inf.run();
    p = inf.offset;
    if (p + 8 > src.length) throw new GzipError("the gzip trailer is missing (truncated file?)");
    const dv = new DataView(src.buffer, src.byteOffset + p, 8);
    const out = inf.out.subarray(0, inf.len);
    if (dv.getUint32(0, true) !== crc32(out)) throw new GzipError("CRC-32 mismatch: the data is corrupt");
    if (dv.getUint32(4, true) !== inf.len >>> 0) throw new GzipError("length mismatch: the data is corrupt");
    p += 8;
    parts.push(out);
  }
  if (parts.length === 1) return parts[0]!;
  const total = parts.reduce((n, b) => n + b.length, 0);
  const all = new Uint8Array(total);
  let o = 0;
  for (const b of parts) {
    all.set(b, o);
    o += b.length;
  }
  return all;
}
