// A WebAssembly binary writer (WebAssembly Core Specification 2.0, chapter 5 "Binary Format"):
// the binary translator emits guest code as wasm at run time with it, so no compiler toolchain is
// needed. Function bodies are written into a growable byte buffer with one method per instruction
// family; nothing is allocated per emitted instruction beyond the buffer's occasional growth.

export const enum ValType {
  I32 = 0x7f,
  I64 = 0x7e,
  F32 = 0x7d,
  F64 = 0x7c,
}

/** Block types (spec 5.4.1): the empty type or a single result. */
export const BLOCK_VOID = 0x40;

/** A growable byte buffer with LEB128 writers (spec 5.2.2). */
export class ByteWriter {
  buf: Uint8Array;
  len = 0;

  constructor(initial = 256) {
    this.buf = new Uint8Array(initial);
  }

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const nb = new Uint8Array(cap);
    nb.set(this.buf.subarray(0, this.len));
    this.buf = nb;
  }

  byte(b: number): this {
    this.ensure(1);
    this.buf[this.len++] = b & 0xff;
    return this;
  }

  bytes(bs: ArrayLike<number>): this {
    this.ensure(bs.length);
    for (let i = 0; i < bs.length; i++) this.buf[this.len++] = bs[i]! & 0xff;
    return this;
  }

  /** Unsigned LEB128 of a non-negative integer below 2^53. */
  u32(v: number): this {
    this.ensure(8);
    do {
      let b = v % 128;
      v = Math.floor(v / 128);
      if (v !== 0) b |= 0x80;
      this.buf[this.len++] = b;
    } while (v !== 0);
    return this;
  }

  /** Signed LEB128 of an int32. */
  s32(v: number): this {
    this.ensure(5);
    v |= 0;
    for (;;) {
      const b = v & 0x7f;
      v >>= 7;
      if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) {
        this.buf[this.len++] = b;
        return this;
      }
      this.buf[this.len++] = b | 0x80;
    }
  }

  /** Signed LEB128 of an int64 given as a bigint. */
  s64(v: bigint): this {
    this.ensure(10);
    v = BigInt.asIntN(64, v);
    for (;;) {
      const b = Number(v & 0x7fn);
      v >>= 7n;
      if ((v === 0n && (b & 0x40) === 0) || (v === -1n && (b & 0x40) !== 0)) {
        this.buf[this.len++] = b;
        return this;
      }
      this.buf[this.len++] = b | 0x80;
    }
  }

  /** Signed LEB128 of the int64 (hi:lo) given as two int32 halves, without a bigint. */
  s64Pair(lo: number, hi: number): this {
    if ((hi === 0 && lo >= 0) || (hi === -1 && lo < 0)) return this.s32(lo);
    return this.s64((BigInt(hi) << 32n) | BigInt(lo >>> 0));
  }

  name(s: string): this {
    const enc = new TextEncoder().encode(s);
    this.u32(enc.length);
    return this.bytes(enc);
  }

  /** Appends another writer's contents prefixed by their length (sections, function bodies). */
  sized(w: ByteWriter): this {
    this.u32(w.len);
    this.ensure(w.len);
    this.buf.set(w.buf.subarray(0, w.len), this.len);
    this.len += w.len;
    return this;
  }

  finish(): Uint8Array<ArrayBuffer> {
    return this.buf.slice(0, this.len);
  }
}

export interface FuncType {
  params: readonly ValType[];
  results: readonly ValType[];
}

interface FuncImport {
  module: string;
  name: string;
  type: number;
}
interface MemImport {
  module: string;
  name: string;
  min: number;
  max: number;
  shared: boolean;
}
interface TableImport {
  module: string;
  name: string;
  min: number;
}
interface FuncDef {
  type: number;
  locals: readonly ValType[];
  body: ByteWriter;
  exportName?: string;
}

/** Builds one module: types, imported functions and memory, defined functions, exports. */
export class WasmModuleBuilder {
  private types: FuncType[] = [];
  private typeKeys = new Map<string, number>();
  private funcImports: FuncImport[] = [];
  private memImport: MemImport | undefined;
  private tableImport: TableImport | undefined;
  private funcs: FuncDef[] = [];

  /** Index of a function type, deduplicated. */
  type(params: readonly ValType[], results: readonly ValType[]): number {
    const key = params.join(",") + ">" + results.join(",");
    let idx = this.typeKeys.get(key);
    if (idx === undefined) {
      idx = this.types.length;
      this.types.push({ params, results });
      this.typeKeys.set(key, idx);
    }
    return idx;
  }

  /** Declares an imported function; returns its function index. Import all functions before defining any. */
  importFunction(module: string, name: string, params: readonly ValType[], results: readonly ValType[]): number {
    if (this.funcs.length > 0) throw new Error("imports must be declared before functions are defined");
    this.funcImports.push({ module, name, type: this.type(params, results) });
    return this.funcImports.length - 1;
  }

  /** Imports memory 0 (minimum/maximum in 64 KiB pages). */
  importMemory(module: string, name: string, min: number, max: number, shared: boolean): void {
    this.memImport = { module, name, min, max, shared };
  }

  /** Imports table 0, a funcref table of at least `min` entries (spec 5.5.5 importdesc 0x01). */
  importTable(module: string, name: string, min: number): void {
    this.tableImport = { module, name, min };
  }

  /**
   * Defines a function; `body` holds its instructions without the final `end` (added here).
   * Returns the function index.
   */
  addFunction(
    params: readonly ValType[],
    results: readonly ValType[],
    locals: readonly ValType[],
    body: ByteWriter,
    exportName?: string,
  ): number {
    const def: FuncDef = { type: this.type(params, results), locals, body };
    if (exportName !== undefined) def.exportName = exportName;
    this.funcs.push(def);
    return this.funcImports.length + this.funcs.length - 1;
  }

  build(): Uint8Array<ArrayBuffer> {
    const out = new ByteWriter(1024);
    out.bytes([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]); // magic, version 1 (spec 5.5.16)
    const section = (id: number, w: ByteWriter) => {
      out.byte(id).sized(w);
    };
    // Type section (1)
    const ts = new ByteWriter();
    ts.u32(this.types.length);
    for (const t of this.types) {
      ts.byte(0x60).u32(t.params.length).bytes(t.params).u32(t.results.length).bytes(t.results);
    }
    section(1, ts);
    // Import section (2)
    const nImports = this.funcImports.length + (this.memImport ? 1 : 0) + (this.tableImport ? 1 : 0);
    if (nImports > 0) {
      const is = new ByteWriter();
      is.u32(nImports);
      for (const f of this.funcImports) is.name(f.module).name(f.name).byte(0x00).u32(f.type);
      const t = this.tableImport;
      if (t) is.name(t.module).name(t.name).byte(0x01).byte(0x70).byte(0x00).u32(t.min); // funcref, min only
      const m = this.memImport;
      if (m) {
        is.name(m.module).name(m.name).byte(0x02);
        is.byte(m.shared ? 0x03 : 0x01)
          .u32(m.min)
          .u32(m.max); // limits with max (0x03 = shared, threads proposal)
      }
      section(2, is);
    }
    // Function section (3)
    const fs = new ByteWriter();
    fs.u32(this.funcs.length);
    for (const f of this.funcs) fs.u32(f.type);
    section(3, fs);
    // Export section (7)
    const exported = this.funcs
      .map((f, i) => ({ f, idx: this.funcImports.length + i }))
      .filter((e) => e.f.exportName !== undefined);
    const es = new ByteWriter();
    es.u32(exported.length);
    for (const e of exported) es.name(e.f.exportName!).byte(0x00).u32(e.idx);
    section(7, es);
    // Code section (10)
    const cs = new ByteWriter(1024);
    cs.u32(this.funcs.length);
    for (const f of this.funcs) {
      const fw = new ByteWriter(f.body.len + 16);
      // Locals compressed into runs of the same type (spec 5.5.13).
      const runs: [number, ValType][] = [];
      for (const l of f.locals) {
        const last = runs[runs.length - 1];
        if (last && last[1] === l) last[0]++;
        else runs.push([1, l]);
      }
      fw.u32(runs.length);
      for (const [n, t] of runs) fw.u32(n).byte(t);
      fw.bytes(f.body.buf.subarray(0, f.body.len));
      fw.byte(0x0b); // end
      cs.sized(fw);
    }
    section(10, cs);
    return out.finish();
  }
}

/** Opcodes used by the translator (spec 5.4). */
export const enum Op {
  Unreachable = 0x00,
  Nop = 0x01,
  Block = 0x02,
  Loop = 0x03,
  If = 0x04,
  Else = 0x05,
  End = 0x0b,
  Br = 0x0c,
  BrIf = 0x0d,
  BrTable = 0x0e,
  Return = 0x0f,
  Call = 0x10,
  CallIndirect = 0x11,
  /** Tail call through a table (WebAssembly tail calls, in V8 since 11.2 / Node 20). */
  ReturnCallIndirect = 0x13,
  ReturnCall = 0x12,
  Drop = 0x1a,
  Select = 0x1b,
  LocalGet = 0x20,
  LocalSet = 0x21,
  LocalTee = 0x22,
  GlobalGet = 0x23,
  GlobalSet = 0x24,
  I32Load = 0x28,
  I64Load = 0x29,
  F32Load = 0x2a,
  F64Load = 0x2b,
  I32Load8S = 0x2c,
  I32Load8U = 0x2d,
  I32Load16S = 0x2e,
  I32Load16U = 0x2f,
  I64Load8S = 0x30,
  I64Load8U = 0x31,
  I64Load16S = 0x32,
  I64Load16U = 0x33,
  I64Load32S = 0x34,
  I64Load32U = 0x35,
  I32Store = 0x36,
  I64Store = 0x37,
  F32Store = 0x38,
  F64Store = 0x39,
  I32Store8 = 0x3a,
  I32Store16 = 0x3b,
  I64Store8 = 0x3c,
  I64Store16 = 0x3d,
  I64Store32 = 0x3e,
  I32Const = 0x41,
  I64Const = 0x42,
  I32Eqz = 0x45,
  I32Eq = 0x46,
  I32Ne = 0x47,
  I32LtS = 0x48,
  I32LtU = 0x49,
  I32GtS = 0x4a,
  I32GtU = 0x4b,
  I32LeS = 0x4c,
  I32LeU = 0x4d,
  I32GeS = 0x4e,
  I32GeU = 0x4f,
  I64Eqz = 0x50,
  I64Eq = 0x51,
  I64Ne = 0x52,
  I64LtS = 0x53,
  I64LtU = 0x54,
  I64GtS = 0x55,
  I64GtU = 0x56,
  I64LeS = 0x57,
  I64LeU = 0x58,
  I64GeS = 0x59,
  I64GeU = 0x5a,
  I32Clz = 0x67,
  I32Ctz = 0x68,
  I32Popcnt = 0x69,
  I32Add = 0x6a,
  I32Sub = 0x6b,
  I32Mul = 0x6c,
  I32DivS = 0x6d,
  I32DivU = 0x6e,
  I32RemS = 0x6f,
  I32RemU = 0x70,
  I32And = 0x71,
  I32Or = 0x72,
  I32Xor = 0x73,
  I32Shl = 0x74,
  I32ShrS = 0x75,
  I32ShrU = 0x76,
  I32Rotl = 0x77,
  I32Rotr = 0x78,
  I64Clz = 0x79,
  I64Ctz = 0x7a,
  I64Popcnt = 0x7b,
  I64Add = 0x7c,
  I64Sub = 0x7d,
  I64Mul = 0x7e,
  I64DivS = 0x7f,
  I64DivU = 0x80,
  I64RemS = 0x81,
  I64RemU = 0x82,
  I64And = 0x83,
  I64Or = 0x84,
  I64Xor = 0x85,
  I64Shl = 0x86,
  I64ShrS = 0x87,
  I64ShrU = 0x88,
  I64Rotl = 0x89,
  I64Rotr = 0x8a,
  I32WrapI64 = 0xa7,
  I64ExtendI32S = 0xac,
  I64ExtendI32U = 0xad,
  I32Extend8S = 0xc0,
  I32Extend16S = 0xc1,
  I64Extend8S = 0xc2,
  I64Extend16S = 0xc3,
  I64Extend32S = 0xc4,
}

/** A function body under construction: thin helpers over ByteWriter for common instruction shapes. */
export class CodeWriter extends ByteWriter {
  op(o: Op): this {
    return this.byte(o);
  }
  localGet(i: number): this {
    return this.byte(Op.LocalGet).u32(i);
  }
  localSet(i: number): this {
    return this.byte(Op.LocalSet).u32(i);
  }
  localTee(i: number): this {
    return this.byte(Op.LocalTee).u32(i);
  }
  i32Const(v: number): this {
    return this.byte(Op.I32Const).s32(v);
  }
  i64Const(lo: number, hi: number): this {
    return this.byte(Op.I64Const).s64Pair(lo, hi);
  }
  /** f64.const (0x44, 8 bytes little-endian IEEE 754). */
  f64Const(v: number): this {
    const b = new Uint8Array(new Float64Array([v]).buffer);
    this.byte(0x44);
    for (const x of b) this.byte(x);
    return this;
  }
  /** A memory access with its alignment hint (log2) and constant offset (spec 5.4.6 memarg). */
  mem(o: Op, alignLog2: number, offset: number): this {
    return this.byte(o).u32(alignLog2).u32(offset);
  }
  block(type: number = BLOCK_VOID): this {
    return this.byte(Op.Block).byte(type);
  }
  loop(type: number = BLOCK_VOID): this {
    return this.byte(Op.Loop).byte(type);
  }
  if_(type: number = BLOCK_VOID): this {
    return this.byte(Op.If).byte(type);
  }
  end(): this {
    return this.byte(Op.End);
  }
  br(depth: number): this {
    return this.byte(Op.Br).u32(depth);
  }
  brIf(depth: number): this {
    return this.byte(Op.BrIf).u32(depth);
  }
  call(func: number): this {
    return this.byte(Op.Call).u32(func);
  }
}
