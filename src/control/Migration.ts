// Live migration of a running VM from one VM process to another (on another daemon, possibly another
// host) over one TCP connection (docs/SNAPSHOTS.md, "Live migration"): iterative pre-copy of RAM
// while the guest runs, then stop-and-copy of what changed since and of the machine state, then the
// destination resumes the guest and the source ends.
//
// Finding changed pages: the dirty log (GuestMemory.dirtyLog, vmm/DirtyRound.ts). Each round takes
// and clears it and flushes the harts' store caches (the write protection), then sends the pages it
// took; whatever the guest or a device writes meanwhile is in the next round's log. The first round
// sends every page that is not zero (the destination's RAM is zero apart from what its loader wrote,
// which it clears where nothing was sent).
//
// Messages (VmChannel records) source -> destination: hello {ticket, pages}, pages {index, data}
// (up to BATCH pages), final {state}; destination -> source: started, or error {message}.
import { timingSafeEqual } from "node:crypto";
import { closeSync, fsyncSync, ftruncateSync, openSync, readSync, writeSync } from "node:fs";
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import type { Vm } from "../vmm/Vm.js";
import type { VirtBoard } from "../vmm/VirtBoard.js";
import { beginDirtyRound, flushHartStoreCaches, type StoreCacheFlush } from "../vmm/DirtyRound.js";
import type { VmChannel } from "./VmChannel.js";
import {
  restoreMachineState,
  saveMachineState,
  snapshotBlockers,
  type MachineSavedState,
} from "../vmm/snapshot/MachineState.js";

const PAGE = 4096;
/** Pages per message: 1 MiB, well under VmChannel's message limit. */
const BATCH = 256;
/** Zero pages the first round scans between two yields to the event loop (the guest runs on this thread). */
const SCAN_SLICE = 8192;
const MAX_ROUNDS = 30;

export type MigrationMessage =
  | { t: "hello"; ticket: string; pages: number }
  | { t: "pages"; index: Uint32Array; data: Uint8Array }
  | { t: "final"; state: MachineSavedState }
  /**
   * A piece of disk `disk`'s copy-on-write overlay file (non-shared storage): pieces that are all
   * zero are left out (the file is sparse); `last` (no data) gives the file's size.
   */
  | { t: "disk"; disk: number; offset: number; data: Uint8Array; last: boolean }
  | { t: "started" }
  | { t: "error"; message: string };

export interface MigrationResult {
  /** Pre-copy rounds before the stop-and-copy. */
  rounds: number;
  pagesSent: number;
  bytesSent: number;
  /** Pages sent while the guest was stopped. */
  finalPages: number;
  totalMs: number;
  /** From pausing the guest on the source to the destination's report that it runs. */
  downtimeMs: number;
}

type Channel = VmChannel<MigrationMessage, MigrationMessage>;

function sendAwait(ch: Channel, m: MigrationMessage): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!ch.send(m, resolve)) reject(new Error("the destination closed the connection"));
  });
}

/**
 * The source side. Resolves when the destination runs the guest (the caller then ends this VM);
 * rejects on any failure, with the guest running again on the source as before.
 */
export async function sendMigration(
  vm: Vm,
  ch: Channel,
  ticket: string,
  maxDowntimeMs: number,
  /** Runs with the guest stopped and no I/O in flight, before the final message (flush the disks). */
  beforeFinal: () => Promise<void> = async () => {},
  /** Overlay files to copy to the destination (disks not on shared storage), by disk index. */
  overlays: { disk: number; path: string }[] = [],
): Promise<MigrationResult> {
  const board = vm.board;
  const mem = board.memory;
  // Pages of a lazily restored guest still in its snapshot file are read in: RAM is read whole.
  mem.makeResident();
  const pages = mem.size / PAGE;
  const ram = Buffer.from(mem.buffer, 0, mem.size);
  const flushStores = storeCacheFlush(vm);
  const log = new Int32Array(mem.dirtyLog.length);
  const index = new Uint32Array(BATCH);
  const batch = new Uint8Array(BATCH * PAGE);
  let failure: string | undefined;
  const onMessage = (m: MigrationMessage) => {
    if (m.t === "error") failure = m.message;
  };
  ch.on("message", onMessage);
  ch.start();
  const t0 = performance.now();
  let bytesSent = 0;
  let pagesSent = 0;
  const check = () => {
    if (failure !== undefined) throw new Error(`the destination failed: ${failure}`);
    if (!ch.open) throw new Error("the destination closed the connection");
  };
  /**
   * One round: takes the dirty log and sends the pages it holds (the first round: every page that
   * is not zero). Returns the pages sent.
   */
  const round = async (first: boolean, yielding: boolean): Promise<number> => {
    await beginDirtyRound(mem, flushStores, log);
    let n = 0;
    let sent = 0;
    const flush = async () => {
      if (n === 0) return;
      await sendAwait(ch, { t: "pages", index: index.slice(0, n), data: batch.slice(0, n * PAGE) });
      bytesSent += n * PAGE;
      sent += n;
      n = 0;
      check();
      // The guest runs on this thread: it gets its turn between two batches (a socket write can
      // complete without one), so pre-copy sees the guest's real dirtying rate instead of starving it.
      if (yielding) await yieldToEventLoop();
    };
    const add = async (p: number) => {
      const off = p * PAGE;
      ram.copy(batch, n * PAGE, off, off + PAGE);
      index[n++] = p;
      if (n === BATCH) await flush();
    };
    if (first) {
      for (let p = 0; p < pages; p++) {
        if (!isZeroPage(ram, p * PAGE)) await add(p);
        else if (yielding && p % SCAN_SLICE === SCAN_SLICE - 1) await yieldToEventLoop();
      }
    } else {
      for (let w = 0; w < log.length; w++) {
        let bits = log[w]!;
        while (bits !== 0) {
          await add(w * 32 + 31 - Math.clz32(bits & -bits));
          bits &= bits - 1;
        }
      }
    }
    await flush();
    pagesSent += sent;
    return sent;
  };

  await sendAwait(ch, { t: "hello", ticket, pages });
  let rounds = 0;
  let best = Number.POSITIVE_INFINITY;
  let stale = 0;
  /** Estimated time to send what the last round sent again, in ms. */
  let estimate = 0;
  for (;;) {
    const r0 = performance.now();
    const sent = await round(rounds === 0, true);
    rounds++;
    const ms = Math.max(1, performance.now() - r0);
    // What is left would take about as long to send as it took this round to send its pages
    // (rounds are bounded by the link, or by the scan when little changes).
    const perPage = sent > 0 ? ms / sent : 0;
    estimate = sent * perPage;
    if (rounds > 1 && estimate <= maxDowntimeMs / 2) break;
    if (sent < best) {
      best = sent;
      stale = 0;
    } else if (++stale >= 4) break; // the guest dirties as fast as we send: stop converging
    if (rounds >= MAX_ROUNDS) break;
  }
  // The downtime target is a bound: a guest whose last changes would take longer to send than
  // allowed is not stopped at all (QEMU's downtime-limit does the same: it keeps iterating; we give
  // up after the rounds above and leave the guest running here).
  if (estimate > maxDowntimeMs)
    throw new Error(
      `the guest changes memory faster than it can be sent: the final copy would take ~${Math.round(estimate)} ms after ${rounds} rounds, more than --max-downtime ${maxDowntimeMs} ms; the VM keeps running here (retry with a larger --max-downtime or when the guest is quieter)`,
    );

  // Stop and copy: no device I/O in flight, then the last changes and the machine state.
  const wasRunning = vm.state === "running";
  const d0 = performance.now();
  if (wasRunning) vm.pause();
  try {
    // vCPU threads: every one parked (no store after the final copy), their harts in board.harts.
    await vm.syncHarts();
    await Promise.all(board.virtio.map((t) => t.idle()));
    const blockers = snapshotBlockers(board);
    if (blockers.length > 0) throw new Error(`cannot migrate now: ${blockers.join("; ")}`);
    // Disks are shared: everything the guest wrote is flushed before the destination reads them.
    await beforeFinal();
    const c0 = performance.now();
    const finalPages = await round(false, false);
    // The final copy is bounded: past the target the guest resumes here. Only until "final" is sent
    // (after it the destination may already run the guest). The fixed steps around it (waiting for
    // device I/O, the disk flush, the destination loading the state) are not: they are in the
    // reported downtime.
    const copyMs = performance.now() - c0;
    if (copyMs > maxDowntimeMs)
      throw new Error(
        `the final copy took ${Math.round(copyMs)} ms (${finalPages} pages), more than --max-downtime ${maxDowntimeMs} ms; the VM keeps running here`,
      );
    // Overlays go whole, with the guest stopped and the disks flushed (their size adds to the
    // downtime; a pre-copy of their clusters is not implemented).
    for (const o of overlays) {
      const fd = openSync(o.path, "r");
      try {
        const buf = new Uint8Array(BATCH * PAGE);
        for (let offset = 0; ;) {
          const n = readSync(fd, buf, 0, buf.length, offset);
          const data = buf.subarray(0, n);
          if (n === 0 || offset === 0 || data.some((b) => b !== 0)) {
            await sendAwait(ch, { t: "disk", disk: o.disk, offset, data: data.slice(), last: n === 0 });
            bytesSent += n;
            check();
          }
          offset += n;
          if (n === 0) break;
        }
      } finally {
        closeSync(fd);
      }
    }
    await sendAwait(ch, { t: "final", state: saveMachineState(board) });
    const answer = await new Promise<MigrationMessage | undefined>((resolve) => {
      const t = setTimeout(() => resolve(undefined), 60_000);
      const done = (m: MigrationMessage | undefined) => {
        clearTimeout(t);
        ch.off("message", on);
        ch.off("close", closed);
        resolve(m);
      };
      const on = (m: MigrationMessage) => {
        if (m.t === "started" || m.t === "error") done(m);
      };
      const closed = () => done(undefined);
      ch.on("message", on);
      ch.once("close", closed);
    });
    if (answer?.t !== "started")
      throw new Error(
        answer?.t === "error"
          ? `the destination failed: ${answer.message}`
          : "the destination did not confirm that it runs the guest",
      );
    const now = performance.now();
    return { rounds, pagesSent, bytesSent, finalPages, totalMs: now - t0, downtimeMs: now - d0 };
  } catch (e) {
    if (wasRunning) vm.resume();
    throw e;
  } finally {
    ch.off("message", onMessage);
  }
}

/** Drops every hart's store cache (DirtyRound.ts), on vCPU threads too (Vm.flushStoreCaches). */
function storeCacheFlush(vm: Vm): StoreCacheFlush {
  if (vm.threaded) return () => vm.flushStoreCaches();
  return flushHartStoreCaches(vm.board.harts);
}

const ZERO_PAGE = Buffer.alloc(PAGE);
/** Whether the 4 KiB page at `off` of `ram` is all zero (a memcmp with a zero page). */
function isZeroPage(ram: Buffer, off: number): boolean {
  return ram.compare(ZERO_PAGE, 0, PAGE, off, off + PAGE) === 0;
}

/**
 * The destination side, into a freshly built VM that has not run: checks the ticket, loads pages as
 * they come, and on the final message puts back the machine state. The caller then starts the VM and
 * sends "started".
 */
export async function receiveMigration(
  vm: Vm,
  ch: Channel,
  ticket: string,
  timeoutMs: number,
  /** Where copied overlays go, by disk index (the destination's own overlay files). */
  overlays: ReadonlyMap<number, string> = new Map(),
): Promise<void> {
  const board = vm.board;
  const mem = board.memory;
  const pages = mem.size / PAGE;
  const ram = mem.bytes;
  const hello = await ch.next(timeoutMs);
  if (hello?.t !== "hello") throw new Error("the source sent no hello");
  const a = Buffer.from(hello.ticket);
  const b = Buffer.from(ticket);
  if (a.length !== b.length || !timingSafeEqual(a, b)) throw new Error("wrong migration ticket");
  if (hello.pages !== pages)
    throw new Error(`the source has ${hello.pages} RAM pages, this machine ${pages}: not the same machine`);
  // Pages the loader wrote here that the source never sends (zero there) must read as zero.
  const loaderPages = mem.takeDirty();
  const received = new Uint8Array(pages);
  for (;;) {
    const m = await ch.next(timeoutMs);
    if (!m) throw new Error("the source stopped sending");
    if (m.t === "pages") {
      if (m.data.length !== m.index.length * PAGE) throw new Error("malformed page batch");
      m.index.forEach((p, i) => {
        if (p >= pages) throw new Error(`page ${p} is outside RAM`);
        ram.set(m.data.subarray(i * PAGE, (i + 1) * PAGE), p * PAGE);
        received[p] = 1;
      });
    } else if (m.t === "disk") {
      const path = overlays.get(m.disk);
      if (path === undefined) throw new Error(`disk ${m.disk} has no overlay to copy into here`);
      // The first piece truncates: the destination's overlay was created empty when its disk opened.
      const fd = openSync(path, m.offset === 0 ? "w" : "r+", 0o600);
      try {
        let done = 0;
        while (done < m.data.length) done += writeSync(fd, m.data, done, m.data.length - done, m.offset + done);
        if (m.last) {
          ftruncateSync(fd, m.offset);
          fsyncSync(fd);
        }
      } finally {
        closeSync(fd);
      }
    } else if (m.t === "final") {
      for (const p of loaderPages) if (!received[p]) ram.fill(0, p * PAGE, (p + 1) * PAGE);
      restoreMachineState(board, m.state);
      return;
    } else {
      throw new Error(`unexpected '${m.t}' message from the source`);
    }
  }
}
