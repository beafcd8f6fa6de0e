// A flattened-device-tree (DTB) writer: Devicetree Specification v0.4, chapter 5 "Flattened
// Devicetree (DTB) Format". Typevisor generates the machine's device tree at boot with this, so no
// `dtc` is needed at run time.
//
// Layout written (spec 5.1): header (40 bytes) | memory reservation block | structure block |
// strings block. Version 17, last compatible version 16 (spec 5.2). All values are big-endian.

const FDT_MAGIC = 0xd00dfeed;
const FDT_BEGIN_NODE = 0x1; // spec 5.4.1
const FDT_END_NODE = 0x2;
const FDT_PROP = 0x3;
const FDT_END = 0x9;
const HEADER_SIZE = 40;
const UTF8 = new TextEncoder();

export type FdtValue = Uint8Array;

/** Property value encoders (spec 2.2.4 "Property values"). */
export const fdtValue = {
  empty(): FdtValue {
    return new Uint8Array(0);
  },
  /** One or more 32-bit cells (<u32> / <prop-encoded-array>). */
  cells(...cells: number[]): FdtValue {
    const out = new Uint8Array(cells.length * 4);
    const dv = new DataView(out.buffer);
    cells.forEach((c, i) => {
      if (!Number.isInteger(c) || c < 0 || c > 0xffffffff) throw new RangeError(`FDT cell ${c} is not a u32`);
      dv.setUint32(i * 4, c);
    });
    return out;
  },
  /** A 64-bit value as two cells (<u64>). */
  u64(v: number | bigint): FdtValue {
    const b = BigInt(v);
    return fdtValue.cells(Number(b >> 32n), Number(b & 0xffffffffn));
  },
  /** A list of 64-bit values, each two cells: the usual `reg` with #address-cells = #size-cells = 2. */
  u64s(...vs: (number | bigint)[]): FdtValue {
    const cells: number[] = [];
    for (const v of vs) {
      const b = BigInt(v);
      cells.push(Number(b >> 32n), Number(b & 0xffffffffn));
    }
    return fdtValue.cells(...cells);
  },
  /** A NUL-terminated string, or a <stringlist> when given several. */
  strings(...ss: string[]): FdtValue {
    return UTF8.encode(ss.map((s) => s + "\0").join(""));
  },
};

/** One node of the tree being built. Properties keep insertion order. */
export class FdtNode {
  readonly props: { name: string; value: FdtValue }[] = [];
  readonly children: FdtNode[] = [];

  constructor(readonly name: string) {}

  prop(name: string, value: FdtValue): this {
    if (this.props.some((p) => p.name === name))
      throw new Error(`FDT node '${this.name}' already has property '${name}'`);
    this.props.push({ name, value });
    return this;
  }
  cells(name: string, ...cells: number[]): this {
    return this.prop(name, fdtValue.cells(...cells));
  }
  string(name: string, ...ss: string[]): this {
    return this.prop(name, fdtValue.strings(...ss));
  }
  flag(name: string): this {
    return this.prop(name, fdtValue.empty());
  }
  /** Adds and returns a child node (spec 2.2.1: node-name@unit-address). */
  node(name: string): FdtNode {
    if (this.children.some((c) => c.name === name))
      throw new Error(`FDT node '${this.name}' already has child '${name}'`);
    const child = new FdtNode(name);
    this.children.push(child);
    return child;
  }
  child(name: string): FdtNode | undefined {
    return this.children.find((c) => c.name === name);
  }
}

export interface FdtReservation {
  address: bigint | number;
  size: bigint | number;
}

/** A device tree under construction; `toDtb()` serializes it. */
export class Fdt {
  readonly root = new FdtNode("");
  readonly reservations: FdtReservation[] = [];
  private nextPhandle = 1;
  bootCpuId = 0;

  /** Allocates a fresh phandle (spec 2.3.3) and sets it on `node`. */
  phandle(node: FdtNode): number {
    const h = this.nextPhandle++;
    node.cells("phandle", h);
    return h;
  }

  toDtb(): Uint8Array {
    const strings: number[] = [];
    const stringOffsets = new Map<string, number>();
    const nameOffset = (name: string): number => {
      let off = stringOffsets.get(name);
      if (off === undefined) {
        off = strings.length;
        stringOffsets.set(name, off);
        for (const b of UTF8.encode(name + "\0")) strings.push(b);
      }
      return off;
    };

    // Structure block (spec 5.4): tokens are 32-bit big-endian, names and values padded to 4 bytes.
    const chunks: Uint8Array[] = [];
    let structSize = 0;
    const u32 = (v: number) => {
      const b = new Uint8Array(4);
      new DataView(b.buffer).setUint32(0, v);
      chunks.push(b);
      structSize += 4;
    };
    const padded = (bytes: Uint8Array) => {
      const len = (bytes.length + 3) & ~3;
      const b = new Uint8Array(len);
      b.set(bytes);
      chunks.push(b);
      structSize += len;
    };
    const emit = (node: FdtNode) => {
      u32(FDT_BEGIN_NODE);
      padded(UTF8.encode(node.name + "\0"));
      for (const p of node.props) {
        u32(FDT_PROP);
        u32(p.value.length);
        u32(nameOffset(p.name));
        padded(p.value);
      }
      for (const c of node.children) emit(c);
      u32(FDT_END_NODE);
    };
    emit(this.root);
    u32(FDT_END);

    // Memory reservation block (spec 5.3): 8-byte aligned pairs of u64, ended by a zero pair.
    const rsvOffset = HEADER_SIZE; // 40 is a multiple of 8
    const rsvSize = (this.reservations.length + 1) * 16;
    const structOffset = rsvOffset + rsvSize;
    const stringsOffset = structOffset + structSize;
    const total = stringsOffset + strings.length;
    const out = new Uint8Array((total + 7) & ~7);
    const dv = new DataView(out.buffer);

    // Header (spec 5.2).
    dv.setUint32(0, FDT_MAGIC);
    dv.setUint32(4, out.length);
    dv.setUint32(8, structOffset);
    dv.setUint32(12, stringsOffset);
    dv.setUint32(16, rsvOffset);
    dv.setUint32(20, 17);
    dv.setUint32(24, 16);
    dv.setUint32(28, this.bootCpuId);
    dv.setUint32(32, strings.length);
    dv.setUint32(36, structSize);

    this.reservations.forEach((r, i) => {
      dv.setBigUint64(rsvOffset + i * 16, BigInt(r.address));
      dv.setBigUint64(rsvOffset + i * 16 + 8, BigInt(r.size));
    });
    let off = structOffset;
    for (const c of chunks) {
      out.set(c, off);
      off += c.length;
    }
    out.set(strings, stringsOffset);
    return out;
  }
}

/** Minimal reader used by tests and by the board to patch/inspect a blob: returns the header fields. */
export function readFdtHeader(dtb: Uint8Array): { magic: number; totalsize: number; version: number } {
  if (dtb.length < HEADER_SIZE) throw new Error("device tree blob shorter than its 40-byte header");
  const dv = new DataView(dtb.buffer, dtb.byteOffset, dtb.byteLength);
  return { magic: dv.getUint32(0), totalsize: dv.getUint32(4), version: dv.getUint32(20) };
}
