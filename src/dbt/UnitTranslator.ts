// One translation job, from guest RAM to a wasm module's bytes (docs/DBT.md "Session 7: translation
// off the vCPU"): the same code runs on the vCPU's thread (synchronous path) and on the compile
// worker (CompileWorkerThread.ts), which reads the page from the shared guest RAM itself.
//
// What a translation depends on is explicit and serializable: the page's bytes and the entry offsets
// seen so far (per job), and TranslatorConfig (per translator: where its engine area is, the
// PageTranslator options, the memory the module imports). It reads nothing else of the hart or the
// dispatcher: the compressed-expansion table is a constant of the ISA (compressedTable()).
//
// The page is copied first and translated from the copy, so the snapshot the dispatcher later
// compares RAM with (self-modifying code) is exactly the bytes the code was made from, even when the
// page is written while the worker reads it.
import { compressedTable } from "../riscv/Compressed.js";
import { PageTranslator, type TranslatedPage } from "./PageTranslator.js";
import { ByteWriter, ValType, WasmModuleBuilder } from "./WasmModuleBuilder.js";

/** Everything besides the page and its entries that a translation depends on (postMessage-able). */
export interface TranslatorConfig {
  /** Offset of the hart's engine-area slot in the memory (registers, TLB mirrors: EngineArea.ts). */
  engineOffset: number;
  /** The imported memory: its size in 64 KiB pages and whether it is shared. */
  memoryPages: number;
  shared: boolean;
  /** PageTranslatorOptions. */
  regsInLocals: boolean;
  disabledOpcodes: number[];
  atomics: boolean;
  countMirror: boolean;
  mirrorWays?: number;
  /** Units tail-call the next unit (DbtOptions.tailCalls) through the trampoline's `chain` ("e"."c", after "e"."s"). */
  tailCalls?: boolean;
}

/** A translated page: the module's bytes and what the dispatcher needs to run and check it. */
export interface UnitCode {
  bytes: Uint8Array<ArrayBuffer>;
  /** The 4 KiB the code was made from (1024 words). */
  snapshot: Int32Array<ArrayBuffer>;
  /** Block index by page offset / 2, or -1 (TranslatedPage.blockAt). */
  blockAt: Int16Array;
  /** 1 at page offset / 2 for every instruction inside the translated blocks (TranslatedPage.covered). */
  covered: Uint8Array;
  blocks: number;
  insns: number;
}

/** Name of the unit's export: "f", or "o" for the optimizing tier (so V8 does not hand back the cached module). */
export type UnitExport = "f" | "o";

export class UnitTranslator {
  private readonly ram32: Int32Array;
  /** The page being translated: a copy, which the translator reads. */
  private readonly page32 = new Int32Array(1024);
  private readonly translator: PageTranslator;
  /**
   * The last translation, kept alive: the translator's optimized code depends on the maps of its
   * objects (the CodeWriter's, the decoded instructions'), which V8 holds weakly; a full collection
   * with none alive (the compile worker collects after every few jobs) killed them and made V8
   * deoptimize and recompile the whole translator each time (~4 s of V8's compile threads per boot).
   */
  private last: TranslatedPage | undefined;
  /** A ByteWriter for the same reason (the module builder's section writers die after each build). */
  private readonly writer = new ByteWriter(16);

  /** `ram`: the guest memory's buffer (host offset = byte index). */
  constructor(
    ram: ArrayBufferLike,
    readonly config: TranslatorConfig,
  ) {
    this.ram32 = new Int32Array(ram, 0, ram.byteLength >>> 2);
    this.translator = new PageTranslator(new Uint16Array(this.page32.buffer), compressedTable(), config.engineOffset, {
      regsInLocals: config.regsInLocals,
      disabled: new Set(config.disabledOpcodes),
      atomics: config.atomics,
      countMirror: config.countMirror,
      mirrorWays: config.mirrorWays,
      chain: config.tailCalls ?? false,
    });
  }

  /** Whether units import the interpreter's `step` function ("e"."s"). */
  get stepping(): boolean {
    return this.translator.stepping;
  }

  /**
   * Translates the page at host offset `host` from the given entry offsets; undefined when nothing
   * at the entries can be translated.
   */
  translate(host: number, entries: Iterable<number>, name: UnitExport = "f"): UnitCode | undefined {
    const w = host >>> 2;
    this.page32.set(this.ram32.subarray(w, w + 1024));
    const tp = this.translator.translate(0, entries);
    if (tp === undefined) return undefined;
    this.last = tp;
    const c = this.config;
    const b = new WasmModuleBuilder();
    b.importMemory("e", "m", c.memoryPages, c.memoryPages, c.shared);
    if (this.translator.stepping) b.importFunction("e", "s", [ValType.I32, ValType.I32, ValType.I32], [ValType.I32]);
    if (c.tailCalls === true) b.importFunction("e", "c", [ValType.I32, ValType.I32, ValType.I32], [ValType.I32]);
    b.addFunction([ValType.I32, ValType.I32], [ValType.I32], tp.locals, tp.body, name);
    return {
      bytes: b.build(),
      snapshot: this.page32.slice(),
      blockAt: tp.blockAt,
      covered: tp.covered,
      blocks: tp.blocks,
      insns: tp.insns,
    };
  }
}
