// Reads what a Linux kernel module (.ko, an ELF64 relocatable object) says about itself: the
// NUL-separated "key=value" strings of its .modinfo section (include/linux/moduleparam.h,
// MODULE_INFO), of which `depends=` lists the modules it needs symbols from (written by modpost)
// and `name=` its own name. depmod derives modules.dep from the same data.
import { execFileSync } from "node:child_process";
import { gunzipSync } from "node:zlib";

export class ModuleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ModuleError";
  }
}

export interface ModInfo {
  /** The module's name (`name=`, or the file name with '-' folded to '_'). */
  readonly name: string;
  /** Names of the modules this one depends on (`depends=`), possibly empty. */
  readonly depends: readonly string[];
  readonly vermagic: string | undefined;
  /** Every key=value pair, in section order (keys may repeat, e.g. alias=). */
  readonly fields: ReadonlyArray<readonly [string, string]>;
}

/** A module's canonical name from its path: basename without .ko[.xz|.zst|.gz], '-' folded to '_' (as kmod does). */
export function moduleNameOf(path: string): string {
  const base = path.slice(path.lastIndexOf("/") + 1);
  return base.replace(/\.ko(\.(xz|zst|gz))?$/, "").replace(/-/g, "_");
}

/** Returns the plain ELF bytes of a module file, decompressing .ko.xz / .ko.zst (host xz/zstd) and .ko.gz. */
export function decompressModule(path: string, bytes: Uint8Array): Buffer {
  const run = (tool: string, pkg: string): Buffer => {
    try {
      return execFileSync(tool, ["-dc"], { input: bytes, maxBuffer: 1 << 30, stdio: ["pipe", "pipe", "pipe"] });
    } catch (e) {
      const why =
        (e as NodeJS.ErrnoException).code === "ENOENT"
          ? `'${tool}' is not installed (apt-get install ${pkg})`
          : String((e as Error).message).split("\n")[0];
      throw new ModuleError(`cannot decompress kernel module ${path}: ${why}`);
    }
  };
  if (path.endsWith(".ko.xz")) return run("xz", "xz-utils");
  if (path.endsWith(".ko.zst")) return run("zstd", "zstd");
  if (path.endsWith(".ko.gz")) return gunzipSync(bytes);
  if (path.endsWith(".ko")) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  throw new ModuleError(`${path}: not a kernel module file name (.ko, .ko.xz, .ko.zst, .ko.gz)`);
}

/** Parses the .modinfo section of an uncompressed ELF64 little-endian module. */
export function readModInfo(elf: Uint8Array, path: string): ModInfo {
  const fail = (why: string): never => {
    throw new ModuleError(`${path}: ${why}`);
  };
  if (elf.length < 64 || elf[0] !== 0x7f || elf[1] !== 0x45 || elf[2] !== 0x4c || elf[3] !== 0x46)
    fail("not an ELF file");
  if (elf[4] !== 2 || elf[5] !== 1) fail("not an ELF64 little-endian object");
  const dv = new DataView(elf.buffer, elf.byteOffset, elf.byteLength);
  if (dv.getUint16(16, true) !== 1) fail("not a relocatable object (ET_REL), so not a kernel module");
  const shoff = Number(dv.getBigUint64(0x28, true));
  const shentsize = dv.getUint16(0x3a, true);
  const shnum = dv.getUint16(0x3c, true);
  const shstrndx = dv.getUint16(0x3e, true);
  if (shentsize < 64 || shoff + shnum * shentsize > elf.length || shstrndx >= shnum)
    fail("section header table is truncated or corrupt");
  const sh = (i: number) => {
    const o = shoff + i * shentsize;
    return {
      name: dv.getUint32(o, true),
      offset: Number(dv.getBigUint64(o + 0x18, true)),
      size: Number(dv.getBigUint64(o + 0x20, true)),
    };
  };
  const strtab = sh(shstrndx);
  if (strtab.offset + strtab.size > elf.length) fail("section name table lies outside the file");
  const secName = (off: number): string => {
    let end = strtab.offset + off;
    while (end < strtab.offset + strtab.size && elf[end] !== 0) end++;
    return Buffer.from(elf.buffer, elf.byteOffset + strtab.offset + off, end - strtab.offset - off).toString("latin1");
  };
  for (let i = 0; i < shnum; i++) {
    const s = sh(i);
    if (secName(s.name) !== ".modinfo") continue;
    if (s.offset + s.size > elf.length) fail(".modinfo lies outside the file");
    const text = Buffer.from(elf.buffer, elf.byteOffset + s.offset, s.size).toString("utf8");
    const fields: Array<readonly [string, string]> = [];
    for (const str of text.split("\0")) {
      const eq = str.indexOf("=");
      if (eq > 0) fields.push([str.slice(0, eq), str.slice(eq + 1)] as const);
    }
    const get = (k: string) => fields.find(([key]) => key === k)?.[1];
    const dep = get("depends") ?? "";
    return {
      name: (get("name") ?? moduleNameOf(path)).replace(/-/g, "_"),
      depends: dep
        .split(",")
        .map((d) => d.trim().replace(/-/g, "_"))
        .filter((d) => d.length > 0),
      vermagic: get("vermagic"),
      fields,
    };
  }
  return fail("has no .modinfo section");
}
