// Taking and restoring snapshots of a Vm (docs/SNAPSHOTS.md). A snapshot is one file: the machine's
// configuration (to rebuild the same board), every part's saved state, and sparse RAM.
//
// Taking one: pause the VM (the run loop only yields between whole slices, so every hart is at an
// instruction boundary and every SBI call is finished), wait until no device has host I/O in flight
// (each request a device took from a queue is then completed in the used ring: nothing is in
// flight in the saved state), save, resume.
// Restoring: build the machine from the saved configuration, load RAM over what the loader wrote,
// put back every part's state, drop translations, serve queues the driver had filled.
import { createHash } from "node:crypto";
import { renameSync, rmSync, statSync } from "node:fs";
import { resolve } from "node:path";
import type { Vm } from "../Vm.js";
import type { DiskSpec, MachineSpec, NicSpec, ShareSpec } from "../MachineSpec.js";
import type { EngineName } from "../../dbt/Engine.js";
import type { NamedBytes } from "../VirtLayout.js";
import { BootFile } from "../BootFile.js";
import {
  SNAPSHOT_FORMAT_VERSION,
  SNAPSHOT_PAGE,
  SnapshotError,
  SnapshotReader,
  SnapshotWriter,
} from "./SnapshotFile.js";
import { restoreMachineState, saveMachineState, snapshotBlockers, type MachineSavedState } from "./MachineState.js";

/** A file the machine was built from, found again by path and checked by content. */
export interface FileRef {
  path: string;
  size: number;
  sha256: string;
  /** Modification time when the snapshot was taken: same size and time skip re-hashing at restore. */
  mtimeMs?: number;
}

/** The machine configuration in a snapshot's header: enough to build the same board again. */
export interface SnapshotMachine {
  memory: number;
  cpus: number;
  append: string;
  engine?: EngineName;
  kernel: FileRef;
  initrd?: FileRef;
  bios?: FileRef;
  disks: DiskSpec[];
  nics: NicSpec[];
  shares: ShareSpec[];
  rng: boolean;
  hvc: boolean;
}

export interface SnapshotHeader {
  format: number;
  createdAt: string;
  machine: SnapshotMachine;
}

export interface SnapshotInfo {
  path: string;
  /** File size in bytes. */
  bytes: number;
  /** Guest RAM pages, and those stored (not all zero). */
  pages: number;
  storedPages: number;
  /** Time the guest was paused for the snapshot, in milliseconds. */
  pausedMs: number;
}

function fileRef(f: NamedBytes): FileRef {
  // A file the machine holds by path (BootFile) knows its identity from when it was read; its
  // bytes may have been released after loading and are then read again (and checked) for the hash.
  if (f instanceof BootFile) return f.snapshotRef();
  const path = resolve(f.name);
  let mtimeMs: number | undefined;
  try {
    const st = statSync(path);
    if (st.size === f.bytes.length) mtimeMs = st.mtimeMs;
  } catch {
    // not a file any more: the hash alone identifies it
  }
  return { path, size: f.bytes.length, sha256: createHash("sha256").update(f.bytes).digest("hex"), mtimeMs };
}

/** The header's machine description for `spec`. */
export function snapshotMachine(spec: MachineSpec): SnapshotMachine {
  if (!spec.kernel) throw new SnapshotError("the machine has no kernel");
  return {
    memory: spec.memory,
    cpus: spec.cpus,
    append: spec.append,
    engine: spec.engine,
    kernel: fileRef(spec.kernel),
    initrd: spec.initrd ? fileRef(spec.initrd) : undefined,
    bios: spec.bios ? fileRef(spec.bios) : undefined,
    disks: spec.disks,
    nics: spec.nics,
    shares: spec.shares ?? [],
    rng: spec.rng !== false,
    hvc: spec.hvc !== false,
  };
}

export interface TakeSnapshotOptions {
  /** Deflate the RAM pages (smaller file, slower to take and restore). */
  compress?: boolean;
  /** Leave the VM paused afterwards (migration's stop-and-copy; vm snapshot resumes). */
  keepPaused?: boolean;
  /** Replaces the machine description (the control plane points disks at the frozen copies). */
  machine?: SnapshotMachine;
  /** Runs while the VM is paused and idle, before the file is written (freezing disks). */
  whilePaused?: () => Promise<void>;
}

/**
 * Writes a snapshot of `vm` (built from `spec`) to `path`: pauses it if running, waits for device I/O
 * to finish, saves, then resumes it (unless keepPaused). The file appears whole or not at all.
 */
export async function takeSnapshot(
  vm: Vm,
  spec: MachineSpec,
  path: string,
  opts: TakeSnapshotOptions = {},
): Promise<SnapshotInfo> {
  const machine = opts.machine ?? snapshotMachine(spec);
  const board = vm.board;
  const wasRunning = vm.state === "running";
  const t0 = performance.now();
  if (wasRunning) vm.pause();
  const tmp = `${path}.partial`;
  try {
    // vCPU threads: every one parked between two instructions, their harts copied to board.harts.
    await vm.syncHarts();
    await Promise.all(board.virtio.map((t) => t.idle()));
    // A lazily restored guest's pages still in the old file are read in: RAM is written whole.
    board.memory.makeResident();
    const blockers = snapshotBlockers(board);
    if (blockers.length > 0) throw new SnapshotError(`cannot snapshot now: ${blockers.join("; ")}`);
    await opts.whilePaused?.();
    const header: SnapshotHeader = { format: SNAPSHOT_FORMAT_VERSION, createdAt: new Date().toISOString(), machine };
    const w = new SnapshotWriter(tmp, header);
    let stored: number;
    let bytes: number;
    try {
      w.json("state", saveMachineState(board));
      stored = w.ram(board.memory.bytes, opts.compress === true);
      bytes = w.close();
    } catch (e) {
      w.abort();
      throw e;
    }
    renameSync(tmp, path);
    return {
      path,
      bytes,
      pages: board.memory.size / SNAPSHOT_PAGE,
      storedPages: stored,
      pausedMs: performance.now() - t0,
    };
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  } finally {
    if (wasRunning && !opts.keepPaused) vm.resume();
  }
}

function asObject(v: unknown, what: string, path: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v))
    throw new SnapshotError(`snapshot '${path}': the ${what} is not an object`);
  return v as Record<string, unknown>;
}

/** Reads and checks a snapshot's header (format version, machine description). */
export function readSnapshotHeader(path: string): SnapshotHeader {
  const r = new SnapshotReader(path);
  try {
    return checkHeader(r.header, path);
  } finally {
    r.close();
  }
}

function checkHeader(h: unknown, path: string): SnapshotHeader {
  const o = asObject(h, "header", path);
  const m = asObject(o["machine"], "machine description", path);
  if (typeof m["memory"] !== "number" || typeof m["cpus"] !== "number" || typeof m["append"] !== "string")
    throw new SnapshotError(`snapshot '${path}': the machine description lacks memory, cpus or append`);
  asObject(m["kernel"], "kernel reference", path);
  if (!Array.isArray(m["disks"]) || !Array.isArray(m["nics"]))
    throw new SnapshotError(`snapshot '${path}': the machine description lacks disks or nics`);
  return o as unknown as SnapshotHeader;
}

/**
 * A file the snapshot refers to, for a restore: unchanged size and modification time identify it
 * without reading it, and its bytes are read only when something asks for them (a reboot of the
 * restored guest), then released again once loaded (BootFile): a restore needs none of them (RAM
 * comes from the snapshot), and not reading a 30 MB kernel and a 15 MB initramfs saves ~40-60 ms
 * and their pages of resident memory. Anything else is read and checked by content now.
 */
function lazyRef(ref: FileRef, what: string, snapshot: string): NamedBytes {
  const f = BootFile.expected(ref, {
    what,
    since: `snapshot '${snapshot}' was taken`,
    error: (message) => new SnapshotError(message),
  });
  let st;
  try {
    st = statSync(ref.path);
  } catch {
    st = undefined;
  }
  if (!st || st.size !== ref.size || ref.mtimeMs === undefined || st.mtimeMs !== ref.mtimeMs) {
    void f.bytes; // names the missing or changed file now
    f.release();
  }
  return f;
}

/** The MachineSpec to build for restoring `header` (checks the kernel, initrd and firmware; reads them lazily). */
export function snapshotSpec(header: SnapshotHeader, path: string): MachineSpec {
  const m = header.machine;
  return {
    memory: m.memory,
    cpus: m.cpus,
    append: m.append,
    engine: m.engine,
    kernel: lazyRef(m.kernel, "kernel", path),
    initrd: m.initrd ? lazyRef(m.initrd, "initramfs", path) : undefined,
    bios: m.bios ? lazyRef(m.bios, "firmware", path) : undefined,
    disks: m.disks,
    nics: m.nics,
    shares: m.shares,
    rng: m.rng,
    hvc: m.hvc,
  };
}

export interface RestoreInfo {
  /** Pages loaded from the file (lazy: 0; they are loaded on first touch). */
  loadedPages: number;
  /** Lazy restore: the pages stored in the file, loaded on first touch. */
  lazyPages?: number;
  /** Time to load RAM and device state, in milliseconds. */
  ms: number;
}

/**
 * Restores the snapshot at `path` into `vm`, freshly built (not started) from snapshotSpec() of the
 * same snapshot. RAM is loaded lazily (pages read from the file on first touch, docs/SNAPSHOTS.md
 * "Restore is lazy") unless `eager` or the RAM is deflated.
 */
export function restoreSnapshot(vm: Vm, path: string, opts: { eager?: boolean } = {}): RestoreInfo {
  if (vm.state !== "created") throw new SnapshotError("a snapshot can only be restored into a VM that has not run");
  const t0 = performance.now();
  const r = new SnapshotReader(path);
  let keepOpen = false;
  try {
    checkHeader(r.header, path);
    const board = vm.board;
    const mem = board.memory;
    // The loader wrote the kernel, initramfs and device tree into the fresh RAM: those pages are the
    // dirty ones; the ones the snapshot does not store must read as zero again.
    const written = mem.takeDirty();
    const lazy = opts.eager ? undefined : r.lazyRam(mem.bytes);
    if (lazy) {
      // Written pages the file stores are absent (their first touch reads the whole page over
      // what the loader wrote); the others must read as zero again.
      for (const p of written) if (lazy.absent[p] === 0) mem.bytes.fill(0, p * SNAPSHOT_PAGE, (p + 1) * SNAPSHOT_PAGE);
      const state = r.json("state") as MachineSavedState;
      // vCPU threads open the file themselves and share the marks (VcpuInit.lazyRam).
      mem.beginLazy(lazy.absent, lazy.pageIn, () => r.close(), resolve(path));
      keepOpen = true;
      restoreMachineState(board, state);
      return { loadedPages: 0, lazyPages: lazy.stored, ms: performance.now() - t0 };
    }
    const loaded = r.loadRam(mem.bytes, (bitmap) => {
      for (const p of written) {
        if ((bitmap[p >>> 3]! & (1 << (p & 7))) === 0) mem.bytes.fill(0, p * SNAPSHOT_PAGE, (p + 1) * SNAPSHOT_PAGE);
      }
    });
    restoreMachineState(board, r.json("state") as MachineSavedState);
    return { loadedPages: loaded, ms: performance.now() - t0 };
  } catch (e) {
    if (keepOpen) vm.board.memory.endLazy();
    throw e;
  } finally {
    if (!keepOpen) r.close();
  }
}
