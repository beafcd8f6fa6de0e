// The page's VM worker: boots the guest with the embedding API's in-process boot (the same code as
// under Node) and carries console bytes, statistics and disk downloads to and from the page
// (Protocol.ts). Console output is batched (a few ms) so a busy guest costs one message per batch,
// not per byte.
import { boot, fetchBytes, type TypevisorVm } from "../Typevisor.js";
import { MemoryDisk } from "../MemoryDisk.js";
import { diskKey, openOpfsChunkStore } from "./OpfsChunkStore.js";
import type { WorkerBootOptions } from "./Protocol.js";
import type { FromWorker, ToWorker } from "./Protocol.js";

const post = (m: FromWorker, transfer: Transferable[] = []) => postMessage(m, { transfer });

let vm: TypevisorVm | undefined;
/** The console's size from a resize that came while the VM was still booting. */
let size: { cols: number; rows: number } | undefined;
let pending: Uint8Array[] = [];
let pendingBytes = 0;
let flushTimer: ReturnType<typeof setTimeout> | undefined;

function flush(): void {
  flushTimer = undefined;
  if (pendingBytes === 0) return;
  const out = new Uint8Array(pendingBytes);
  let o = 0;
  for (const p of pending) {
    out.set(p, o);
    o += p.length;
  }
  pending = [];
  pendingBytes = 0;
  post({ t: "console", data: out }, [out.buffer]);
}

function consoleOut(b: Uint8Array): void {
  pending.push(b.slice());
  pendingBytes += b.length;
  if (pendingBytes > 64 * 1024) flush();
  else flushTimer ??= setTimeout(flush, 5);
}

/** The disks as MemoryDisks whose changes persist in OPFS (in memory only where OPFS fails). */
async function persistentDisks(opts: WorkerBootOptions & { persist: string }): Promise<MemoryDisk[]> {
  const out: MemoryDisk[] = [];
  let saved = 0;
  for (const [i, d] of (opts.disks ?? []).entries()) {
    const base =
      typeof d === "string"
        ? await fetchBytes(d, `disk${i}`, (p) => post({ t: "progress", p }))
        : d instanceof Uint8Array
          ? d
          : new Uint8Array(d);
    let disk: MemoryDisk;
    try {
      const store = await openOpfsChunkStore(await diskKey(`${opts.persist}-disk${i}`, base), base.length);
      disk = new MemoryDisk(base, false, `disk${i}`, store);
      saved += disk.changedBytes;
    } catch (e) {
      post({ t: "note", message: `disk ${i}: changes are kept in memory only (${(e as Error).message})` });
      disk = new MemoryDisk(base, false, `disk${i}`);
    }
    out.push(disk);
  }
  post({
    t: "note",
    message:
      saved > 0
        ? `disk changes restored from this browser's storage (${(saved / 1048576).toFixed(1)} MiB)`
        : "disk changes are kept in this browser's storage",
  });
  return out;
}

async function handle(m: ToWorker): Promise<void> {
  switch (m.t) {
    case "boot": {
      try {
        const { persist, ...opts } = m.opts;
        const disks = persist !== undefined ? await persistentDisks({ ...opts, persist }) : opts.disks;
        // More than one hart: each on its own Web Worker (host/spawnVcpu.ts), whose MMIO this
        // worker serves with Atomics.waitAsync; without it, every hart on this worker's thread.
        const threads = "waitAsync" in Atomics;
        if (!threads && (opts.cpus ?? 1) > 1)
          post({ t: "note", message: "this browser lacks Atomics.waitAsync: all vCPUs share one thread" });
        vm = await boot({
          ...opts,
          ...(size ? { consoleSize: size } : {}),
          disks,
          ...(threads ? {} : { vcpuThreads: false }),
          onProgress: (p) => post({ t: "progress", p }),
        });
      } catch (e) {
        post({ t: "error", message: (e as Error).message });
        return;
      }
      vm.on("console", consoleOut);
      vm.on("state", (state) => post({ t: "state", state }));
      vm.on("exit", (exit) => {
        flush();
        post({ t: "exit", exit });
      });
      post({ t: "booted" });
      return;
    }
    case "input":
      vm?.input(m.data);
      return;
    case "resize":
      size = { cols: m.cols, rows: m.rows };
      vm?.resize(m.cols, m.rows);
      return;
    case "pause":
      vm?.pause();
      return;
    case "resume":
      vm?.resume();
      return;
    case "stop":
      vm?.stop();
      return;
    default:
      break;
  }
  try {
    if (!vm) throw new Error("the VM has not booted");
    if (m.t === "stats") post({ t: "stats", id: m.id, stats: await vm.stats() });
    else if (m.t === "changes") post({ t: "changes", id: m.id, bytes: await vm.diskChanges(m.index) });
    else {
      const pieces = await vm.diskImage(m.index);
      post({ t: "disk", id: m.id, blob: new Blob(pieces as BlobPart[], { type: "application/octet-stream" }) });
    }
  } catch (e) {
    post({ t: "reply-error", id: m.id, message: (e as Error).message });
  }
}

onmessage = (ev: MessageEvent<ToWorker>) => void handle(ev.data);
