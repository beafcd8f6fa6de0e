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
import { closeSync, fstatSync, fsyncSync, ftruncateSync, openSync, readSync, statSync, writeSync } from "node:fs";
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import type { Vm } from "../vmm/Vm.js";
import type { VirtBoard } from "../vmm/VirtBoard.js";
import { beginDirtyRound, flushHartStoreCaches, type StoreCacheFlush } from "../vmm/DirtyRound.js";
import type { BlockBackend } from "../devices/block/BlockBackend.js";
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
/**
 * The guest runs on this thread (its run loop yields to the event loop every ~10 ms): pre-copy
 * takes turns with it of about as long, so the guest keeps running at half the thread (a round
 * that never yielded would stop it, and converge on a guest that does nothing) and the link gets
 * the other half (a yield after every batch left it ~15%: a guest dirtying 50 MB/s was never
 * caught up with).
 */
const TURN_MS = 10;
const MAX_ROUNDS = 30;

export type MigrationMessage =
  | { t: "hello"; ticket: string; pages: number }
  | { t: "pages"; index: Uint32Array; data: Uint8Array }
  | { t: "final"; state: MachineSavedState }
  /**
   * A piece of disk `disk`'s copy-on-write overlay file (non-shared storage): the first round sends
   * the file's pieces that are not all zero (the file is sparse), later rounds the blocks written
   * since; `last` (no data, in the stop-and-copy) gives the file's size.
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
  /** Bytes sent while the guest was stopped (RAM pages and overlay blocks). */
  finalBytes: number;
  /** Of bytesSent, the overlay files' (--copy-disks). */
  diskBytesSent: number;
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
  /**
   * Overlay files to copy to the destination (disks not on shared storage), by disk index, with
   * the backend that writes them (its write log drives the pre-copy: BlockBackend.logWrites).
   */
  overlays: { disk: number; path: string; backend?: BlockBackend }[] = [],
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
  let diskBytesSent = 0;
  let turnStart = performance.now();
  /** Lets the guest run once this side has had the thread for TURN_MS. */
  const turn = async () => {
    if (performance.now() - turnStart < TURN_MS) return;
    await yieldToEventLoop();
    turnStart = performance.now();
  };
  const check = () => {
    if (failure !== undefined) throw new Error(`the destination failed: ${failure}`);
    if (!ch.open) throw new Error("the destination closed the connection");
  };
  // Overlays are pre-copied like RAM: the first round sends the whole file, later rounds the blocks
  // the backend wrote since the previous round (its write log starts before the first read).
  const disks = overlays.map((o) => ({ ...o, log: o.backend?.logWrites?.(), fd: openSync(o.path, "r") }));
  try {
    const piece = new Uint8Array(BATCH * PAGE);
    /** Sends [offset, offset+len) of a disk's overlay file (len ≤ piece.length); false if it was all zero. */
    const sendDisk = async (d: (typeof disks)[number], offset: number, len: number, skipZero: boolean) => {
      let n = 0;
      while (n < len) {
        const r = readSync(d.fd, piece, n, len - n, offset + n);
        if (r === 0) break;
        n += r;
      }
      const data = piece.subarray(0, n);
      if (n === 0 || (skipZero && offset !== 0 && !data.some((b) => b !== 0))) return 0;
      await sendAwait(ch, { t: "disk", disk: d.disk, offset, data: data.slice(), last: false });
      check();
      diskBytesSent += n;
      return n;
    };
    /**
     * One round: takes the dirty log and sends the pages it holds (the first round: every page that
     * is not zero), then the overlays' blocks written since the last round (the first round: the
     * whole files, or, for a backend without a write log, only in the stop-and-copy). Returns the
     * pages and the bytes sent.
     */
    const round = async (first: boolean, yielding: boolean): Promise<{ pages: number; bytes: number }> => {
      const written = disks.map((d) => (first ? [] : (d.log?.take() ?? [])));
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
        if (yielding) await turn();
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
          else if (yielding && (p & 1023) === 0) await turn();
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
      let bytes = sent * PAGE;
      for (const [k, d] of disks.entries()) {
        if (first || (d.log === undefined && !yielding)) {
          for (let offset = 0; ; offset += piece.length) {
            const n = await sendDisk(d, offset, piece.length, true);
            bytes += n;
            if (yielding) await turn();
            if (offset + piece.length >= (d.log?.fileSize ?? fstatSync(d.fd).size)) break;
          }
          continue;
        }
        // Runs of consecutive written blocks, up to one piece each.
        const blocks = written[k]!;
        const bs = d.log?.blockSize ?? PAGE;
        for (let i = 0; i < blocks.length;) {
          let j = i + 1;
          while (j < blocks.length && blocks[j] === blocks[j - 1]! + 1 && (j - i + 1) * bs <= piece.length) j++;
          bytes += await sendDisk(d, blocks[i]! * bs, (j - i) * bs, false);
          if (yielding) await turn();
          i = j;
        }
      }
      bytesSent += bytes - sent * PAGE;
      return { pages: sent, bytes };
    };

    await sendAwait(ch, { t: "hello", ticket, pages });
    let rounds = 0;
    let best = Number.POSITIVE_INFINITY;
    let stale = 0;
    /** Estimated time to send what the last round sent again, in ms. */
    let estimate = 0;
    for (;;) {
      // The guest gets a turn before each later round: a round that found nothing because the guest
      // had not run since the last one (a loaded host, a round too short to yield) looked converged
      // and let a fast dirtier through a 1 ms --max-downtime (test/control/Migration, full suite).
      if (rounds > 0) {
        await yieldToEventLoop();
        turnStart = performance.now();
      }
      const r0 = performance.now();
      const sent = (await round(rounds === 0, true)).bytes;
      rounds++;
      const ms = Math.max(1, performance.now() - r0);
      // What is left would take about as long to send as it took this round to send its pages and
      // blocks (rounds are bounded by the link, or by the scan when little changes).
      const perByte = sent > 0 ? ms / sent : 0;
      estimate = sent * perByte;
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
        `the guest changes memory or its disks faster than they can be sent: the final copy would take ~${Math.round(estimate)} ms after ${rounds} rounds, more than --max-downtime ${maxDowntimeMs} ms; the VM keeps running here (retry with a larger --max-downtime or when the guest is quieter)`,
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
      // Everything the guest wrote is flushed before the destination reads the disks (shared ones)
      // and before the overlays' last blocks are read (copied ones: a write is logged once in the file).
      await beforeFinal();
      const c0 = performance.now();
      const final = await round(false, false);
      // The final copy (RAM pages and overlay blocks) is bounded: past the target the guest resumes
      // here. Only until "final" is sent (after it the destination may already run the guest). The
      // fixed steps around it (waiting for device I/O, the disk flush, the destination loading the
      // state) are not: they are in the reported downtime.
      const copyMs = performance.now() - c0;
      if (copyMs > maxDowntimeMs)
        throw new Error(
          `the final copy took ${Math.round(copyMs)} ms (${final.pages} pages, ${final.bytes - final.pages * PAGE} bytes of overlays), more than --max-downtime ${maxDowntimeMs} ms; the VM keeps running here`,
        );
      for (const d of disks) {
        const size = d.log?.fileSize ?? fstatSync(d.fd).size;
        await sendAwait(ch, { t: "disk", disk: d.disk, offset: size, data: new Uint8Array(0), last: true });
        check();
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
      return {
        rounds,
        pagesSent,
        bytesSent,
        finalPages: final.pages,
        finalBytes: final.bytes,
        diskBytesSent,
        totalMs: now - t0,
        downtimeMs: now - d0,
      };
    } catch (e) {
      if (wasRunning) vm.resume();
      throw e;
    } finally {
      ch.off("message", onMessage);
    }
  } finally {
    for (const d of disks) {
      d.log?.close();
      closeSync(d.fd);
    }
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
  /** The overlay files being written, by disk index. */
  const files = new Map<number, number>();
  /** The size each copied overlay file may reach (its size here before the copy). */
  const limits = new Map<number, number>();
  try {
    return await receive();
  } finally {
    for (const fd of files.values()) closeSync(fd);
  }

  async function receive(): Promise<void> {
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
        let fd = files.get(m.disk);
        if (fd === undefined) {
          // The overlay this VM created for the disk has its full size already (CowOverlay.open
          // sizes the sparse file for every cluster), and the source's file has the same layout:
          // that size bounds what the source may write, so a bad offset cannot grow a host file.
          limits.set(m.disk, fileSize(path));
          fd = openSync(path, "w", 0o600);
          files.set(m.disk, fd);
        }
        const limit = limits.get(m.disk) ?? 0;
        if (!Number.isSafeInteger(m.offset) || m.offset < 0 || m.offset + m.data.length > limit)
          throw new Error(
            `the source sent disk ${m.disk} data at bytes ${m.offset}-${m.offset + m.data.length}, beyond its ${limit}-byte overlay file: not the same disk`,
          );
        let done = 0;
        while (done < m.data.length) done += writeSync(fd, m.data, done, m.data.length - done, m.offset + done);
        if (m.last) {
          ftruncateSync(fd, m.offset);
          fsyncSync(fd);
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
}

/** The size of the file at `path`, or 0 if it is missing (then no piece fits: the copy is refused). */
function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}
