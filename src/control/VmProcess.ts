// The process that runs one VM for the daemon. Each VM gets its own OS process (not a worker
// thread): a guest that makes the machine model throw, exhausts memory or is killed with SIGKILL
// takes down only this process; the daemon and the other VMs keep running, and the daemon sees
// the exit and records why (docs/ARCHITECTURE.md, "VM isolation").
//
// Usage: node VmProcess.js SOCKET. The process owns its control socket (the containerd-shim
// model): the daemon connects to it, and when the daemon dies (even kill -9) the VM keeps running,
// its console output waiting in the bounded outbox, until a restarted daemon reconnects. The exit
// record is also written next to the socket (exit.json) for a daemon that was not connected.
//
// Started with --spare, the process is a warm spare (docs/SNAPSHOTS.md "Clones from a warm
// process"): it warms up on a snapshot (WarmUp.ts) and waits; the daemon makes it a VM by moving
// its socket into the VM's directory ("adopt") and booting it there.
import process from "node:process";
import { unlinkSync, writeFileSync } from "node:fs";
import { connect, createServer, type Socket } from "node:net";
import { receiveMigration, sendMigration, type MigrationMessage } from "./Migration.js";
import { dirname, join } from "node:path";
import { VmChannel } from "./VmChannel.js";
import type { Vm } from "../vmm/Vm.js";
import { buildVirtMachine, type VirtMachine } from "../vmm/MachineBuilder.js";
import { nodeBackends } from "../vmm/NodeBackends.js";
import { BootFile } from "../vmm/BootFile.js";
import type { CharBackend, CharSink } from "../devices/chardev/CharBackend.js";
import type { NetBackend, NetEndpoint } from "../devices/net/NetBackend.js";
import type { FromVm, LaunchConfig, ToVm } from "./VmProtocol.js";
import { ConsoleOutbox } from "./ConsoleOutbox.js";
import { setWasmTiering } from "../dbt/WasmTiering.js";
import { useUnitCompiler } from "../dbt/UnitCompiler.js";
import { CompileWorker } from "../dbt/CompileWorker.js";
import type { DiskSpec, MachineSpec } from "../vmm/MachineSpec.js";
import {
  readSnapshotHeader,
  restoreSnapshot,
  snapshotMachine,
  snapshotSpec,
  takeSnapshot,
} from "../vmm/snapshot/Snapshot.js";
import { freezeDisk } from "../vmm/snapshot/FreezeDisk.js";
import { mkdirSync } from "node:fs";
import { warmUp, type WarmUp } from "./WarmUp.js";

// A process entry point: a boot is mostly run-once code, so the translated code stays in Liftoff
// (src/dbt/WasmTiering.ts).
setWasmTiering({ tierUp: false });
// Translated units are compiled on a worker thread, off the vCPU's (src/dbt/CompileWorker.ts).
useUnitCompiler(new CompileWorker());

// Files this process creates (copy-on-write overlays) are the daemon user's alone.
process.umask(0o077);

const firstSocket = process.argv[2];
if (!firstSocket) {
  process.stderr.write("usage: VmProcess.js SOCKET [--spare] [--exit-with-parent] (started by the daemon)\n");
  process.exit(2);
}
/** The control socket: a spare's moves into its VM's directory when the daemon adopts it. */
let socketPath = firstSocket;
const spare = process.argv.includes("--spare");
/** A spare's warm-up under way (the boot waits for its end). */
let warming: WarmUp | undefined;
/** The daemon's connection, while one is attached. */
let channel: VmChannel<ToVm, FromVm> | undefined;

function send(m: FromVm): void {
  // Frames and statistics for a daemon that does not read are dropped, never queued without bound.
  if (m.t === "net" || m.t === "stats") channel?.sendDroppable(m);
  else channel?.send(m);
}

/** Console output goes to the daemon, through a bounded outbox; input comes from it. */
class IpcConsole implements CharBackend {
  sink: CharSink | null = null;
  txBytes = 0;
  readonly outbox = new ConsoleOutbox();
  write(data: Uint8Array): void {
    this.txBytes += data.length;
    this.outbox.push(data);
  }
  /** Input that came before the machine's UART attached (a restore is still loading): delivered on attach. */
  private early: Uint8Array[] = [];
  private earlyBytes = 0;
  input(data: Uint8Array): void {
    if (this.sink) {
      this.sink.input(data);
    } else if (this.earlyBytes + data.length <= 64 * 1024) {
      this.early.push(data);
      this.earlyBytes += data.length;
    }
  }
  attach(sink: CharSink): void {
    this.sink = sink;
    for (const d of this.early.splice(0)) sink.input(d);
    this.earlyBytes = 0;
  }
  pause(): void {}
  resume(): void {}
  async close(): Promise<void> {}
}

/** A NIC whose wire is one of the daemon's virtual switches (frames tagged with the NIC's index). */
class IpcNet implements NetBackend {
  endpoint: NetEndpoint | null = null;
  constructor(private readonly nic: number) {}
  attach(e: NetEndpoint): void {
    this.endpoint = e;
  }
  send(frame: Uint8Array): void {
    send({ t: "net", nic: this.nic, frame: frame.slice() });
  }
  async close(): Promise<void> {}
}

let vm: Vm | undefined;
let machine: VirtMachine | undefined;
const con = new IpcConsole();
const switchNics = new Map<number, IpcNet>();
let statsTimer: NodeJS.Timeout | undefined;
let quotaTimer: NodeJS.Timeout | undefined;
let userPaused = false;
let finished = false;
/** The machine as built (a snapshot describes it in its header). */
let spec: MachineSpec | undefined;
/** A snapshot is being taken: the CPU quota must not resume the VM meanwhile. */
let snapshotting = false;

function stats(): void {
  if (!vm) return;
  const c = vm.board.memory.size;
  send({
    t: "stats",
    stats: {
      ...vm.stats(),
      pid: process.pid,
      rssBytes: process.memoryUsage.rss(),
      memoryBytes: c,
      console: {
        txBytes: con.txBytes,
        droppedBytes: con.outbox.droppedBytes,
        cols: vm.board.hvc?.configRead(0, 2) ?? 0,
        rows: vm.board.hvc?.configRead(2, 2) ?? 0,
      },
      ...netStats(),
    },
  });
}

/** The NICs' counters summed (the daemon's stats have one `net` record per VM). */
function netStats(): { net?: { txFrames: number; rxFrames: number; rxDropped: number } } {
  const nics = machine?.nics ?? [];
  if (nics.length === 0) return {};
  const net = { txFrames: 0, rxFrames: 0, rxDropped: 0 };
  for (const n of nics) {
    net.txFrames += n.stats.txFrames;
    net.rxFrames += n.stats.rxFrames;
    net.rxDropped += n.stats.rxDropped;
  }
  return { net };
}

async function finish(reason: string, status: number, message?: string): Promise<void> {
  if (finished) return;
  finished = true;
  clearInterval(statsTimer);
  clearInterval(quotaTimer);
  stats();
  // Disks are flushed before the daemon hears of the exit: a completed stop means the data is on disk.
  try {
    await machine?.close();
  } catch (e) {
    message = `${message ?? ""} (${(e as Error).message})`;
  }
  const exit: FromVm = { t: "exit", reason, status, ...(message ? { message } : {}) };
  // For a daemon that is not attached now: it reads the record when it reconnects and finds no socket.
  try {
    writeFileSync(join(dirname(socketPath), "exit.json"), JSON.stringify(exit));
  } catch {
    // the state directory is gone (the VM was deleted)
  }
  server.close();
  try {
    unlinkSync(socketPath);
  } catch {
    // already gone
  }
  if (channel) channel.send(exit, () => channel?.close());
  setTimeout(() => process.exit(0), 200).unref();
}

async function boot(cfg: LaunchConfig): Promise<void> {
  // Held by path: the board drops the bytes once they are in guest RAM; a reboot reads them again.
  const file = (path: string, what: string) => BootFile.read(path, { what, since: "the VM booted" });
  // A restore builds the snapshot's machine (its kernel checked by content) on the daemon's disks
  // (overlays over the frozen copies) and NICs (this VM's MACs).
  spec = cfg.restore
    ? {
        ...snapshotSpec(readSnapshotHeader(cfg.restore), cfg.restore),
        engine: cfg.engine,
        disks: cfg.disks,
        nics: cfg.nics,
      }
    : {
        memory: cfg.memoryBytes,
        cpus: cfg.cpus,
        kernel: file(cfg.kernel, "kernel"),
        initrd: cfg.initrd !== undefined ? file(cfg.initrd, "initramfs") : undefined,
        bios: cfg.bios !== undefined ? file(cfg.bios, "firmware") : undefined,
        append: cfg.append,
        engine: cfg.engine,
        disks: cfg.disks,
        nics: cfg.nics,
        shares: cfg.shares ?? [],
      };
  machine = await buildVirtMachine(spec, {
    restoring: cfg.restore !== undefined || cfg.incoming !== undefined,
    console: con,
    // hvc0 offers its size from the start, so a console client's later resize reaches the guest
    // (the dashboard sends its terminal's size when it attaches; 80x24 until then).
    consoleSize: { cols: 80, rows: 24 },
    backends: nodeBackends({
      // The daemon owns the switches: this process only carries the NIC's frames to and from it.
      openSwitch: async (_name, nic) => {
        const n = new IpcNet(nic);
        switchNics.set(nic, n);
        return n;
      },
    }),
  });
  vm = machine.vm;
  if (cfg.restore) restoreSnapshot(vm, cfg.restore);
  // Copied overlays (non-shared storage) are written into this VM's own overlay files.
  const overlays = new Map<number, string>();
  if (cfg.incoming?.copyDisks) cfg.disks.forEach((d, i) => d.overlay && overlays.set(i, d.overlay));
  const incoming = cfg.incoming
    ? await acceptMigration(vm, cfg.incoming.host, cfg.incoming.ticket, overlays)
    : undefined;
  // The source wrote the shared disks until it stopped: overlays re-read what it allocated.
  if (incoming) for (const d of machine.disks) await d.refresh?.();
  // First figures at once (a client may ask right after start), then every second.
  stats();
  statsTimer = setInterval(stats, 1000);
  if (cfg.cpuQuota !== undefined && cfg.cpuQuota < 1) startQuota(cfg.cpuQuota);
  // The source ends its VM on "started": say it as the guest starts (vm.start() runs the first
  // slices before it returns, which would add to the downtime).
  incoming?.send({ t: "started" }, () => incoming.close());
  const exit = await vm.start();
  if (migratedAway) await finish("migrated", 0, "the VM moved to another daemon (vm migrate)");
  else await finish(exit.reason, exit.status, exit.message);
}

/** The VM ran on elsewhere after a live migration: this process ends without an error. */
let migratedAway = false;

/**
 * Incoming live migration: listens on `host` (the port goes to the daemon), takes the source that
 * presents the ticket, and loads the guest it sends into `v` (not started). Gives up after 60 s.
 */
async function acceptMigration(
  v: Vm,
  host: string,
  ticket: string,
  overlays: ReadonlyMap<number, string>,
): Promise<VmChannel<MigrationMessage, MigrationMessage>> {
  const listener = createServer();
  await new Promise<void>((resolve, reject) => {
    listener.once("error", reject);
    listener.listen(0, host, () => resolve());
  });
  const addr = listener.address();
  send({ t: "incoming-ready", port: typeof addr === "object" && addr ? addr.port : 0 });
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const sock = await new Promise<Socket>((resolve, reject) => {
        const t = setTimeout(
          () => reject(new Error("no migration source connected within 60 s")),
          Math.max(0, deadline - Date.now()),
        );
        listener.once("connection", (c: Socket) => {
          clearTimeout(t);
          resolve(c);
        });
      });
      const ch = new VmChannel<MigrationMessage, MigrationMessage>(sock);
      try {
        await receiveMigration(v, ch, ticket, 30_000, overlays);
        return ch;
      } catch (e) {
        ch.send({ t: "error", message: (e as Error).message });
        ch.close();
        // A connection with the wrong ticket is dropped and the real source still awaited; a
        // migration that failed half-way cannot be resumed.
        if ((e as Error).message !== "wrong migration ticket") throw e;
      }
    }
  } finally {
    listener.close();
  }
}

/** vm migrate, source side: sends the guest to the destination; on success this VM ends. */
async function migrate(m: Extract<ToVm, { t: "migrate" }>): Promise<void> {
  if (!vm || vm.state === "stopped") throw new Error("the VM is not running");
  if (snapshotting) throw new Error("a snapshot or migration of this VM is under way");
  const v = vm;
  snapshotting = true;
  try {
    const sock = await new Promise<Socket>((resolve, reject) => {
      const c = connect(m.port, m.host);
      c.once("connect", () => {
        c.removeAllListeners("error");
        resolve(c);
      });
      c.once("error", reject);
    });
    const ch = new VmChannel<MigrationMessage, MigrationMessage>(sock);
    try {
      const disks = machine?.disks ?? [];
      // Shared disks: everything written reaches stable storage before the destination opens them.
      const overlays = m.copyDisks
        ? (spec?.disks ?? []).flatMap((d, disk) =>
            d.overlay ? [{ disk, path: d.overlay, backend: machine?.disks[disk] }] : [],
          )
        : [];
      const result = await sendMigration(
        v,
        ch,
        m.ticket,
        m.maxDowntimeMs,
        () => Promise.all(disks.map((d) => d.flush())).then(() => {}),
        overlays,
      );
      send({ t: "migrate-done", req: m.req, result });
      migratedAway = true;
      v.stop();
    } finally {
      ch.close();
    }
  } finally {
    snapshotting = false;
  }
}

/**
 * CPU quota as a duty cycle over 100 ms periods: the VM runs for quota x 100 ms, then is paused for
 * the rest (the run loop yields to the event loop every ~10 ms, which bounds the overshoot).
 */
function startQuota(q: number): void {
  const period = 100;
  let quotaPaused = false;
  const tick = () => {
    if (!vm || userPaused) return;
    if (snapshotting) {
      quotaTimer = setTimeout(tick, period);
      return;
    }
    if (quotaPaused) {
      quotaPaused = false;
      vm.resume();
      quotaTimer = setTimeout(tick, period * q);
    } else {
      quotaPaused = true;
      vm.pause();
      quotaTimer = setTimeout(tick, period * (1 - q));
    }
  };
  quotaTimer = setTimeout(tick, period * q);
}

const SYSRQ_DELAY_MS = 300;

function sysrq(key: string): void {
  // The UART's sink carries both the break condition and the key (Linux: a break followed by a
  // character within 5 s is a magic SysRq, drivers/tty/serial/serial_core.c uart_handle_break).
  const sink = con.sink;
  sink?.break?.();
  setTimeout(() => sink?.input(new TextEncoder().encode(key)), 50);
}

let booted = false;

/** vm snapshot: the machine to DIR/snapshot.tvsnap, each writable disk frozen as DIR/diskN.img. */
async function snapshot(req: number, dir: string, compress: boolean): Promise<void> {
  if (snapshotting) throw new Error("a snapshot of this VM is under way already");
  if (!vm || !machine || !spec) throw new Error("the VM has not booted yet");
  if (vm.state === "stopped") throw new Error("the VM has stopped");
  snapshotting = true;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const m = machine;
    const desc = snapshotMachine(spec);
    const frozen: DiskSpec[] = [];
    const info = await takeSnapshot(vm, spec, join(dir, "snapshot.tvsnap"), {
      compress,
      machine: desc,
      whilePaused: async () => {
        for (const [i, d] of spec!.disks.entries()) {
          if (d.readOnly) {
            frozen.push({ path: d.path, readOnly: true });
            continue;
          }
          const path = join(dir, `disk${i}.img`);
          await freezeDisk(m.disks[i]!, path);
          frozen.push({ path, readOnly: false });
        }
        desc.disks = frozen;
      },
    });
    send({
      t: "snapshot-done",
      req,
      report: {
        bytes: info.bytes,
        pages: info.pages,
        storedPages: info.storedPages,
        pausedMs: info.pausedMs,
        disks: frozen,
      },
    });
  } finally {
    snapshotting = false;
  }
}

function handle(m: ToVm): void {
  switch (m.t) {
    case "boot": {
      // A reconnecting daemon does not boot again.
      if (booted) break;
      booted = true;
      // A spare still warming up stops at once: the VM must not wait for it.
      const w = warming;
      warming = undefined;
      w?.stop();
      (w?.done ?? Promise.resolve())
        .then(() => boot(m.config))
        .catch((e: unknown) => {
          send({ t: "error", message: (e as Error).message });
          void finish("error", 1, (e as Error).message);
        });
      break;
    }
    case "warm":
      if (spare && !booted && !warming) warming = warmUp(m.snapshot, dirname(socketPath));
      break;
    case "adopt":
      // The daemon moved the socket file (the listening socket and its connection stay): exit.json
      // goes next to it, and it is removed from there at the end.
      if (spare && !booted) socketPath = m.socket;
      break;
    case "pause":
      userPaused = true;
      vm?.pause();
      break;
    case "resume":
      userPaused = false;
      vm?.resume();
      break;
    case "shutdown":
      sysrq("s");
      setTimeout(() => sysrq("u"), SYSRQ_DELAY_MS);
      setTimeout(() => sysrq("o"), 2 * SYSRQ_DELAY_MS);
      break;
    case "stop":
      if (vm && vm.state !== "stopped") vm.stop();
      else void finish("stopped", 0);
      break;
    case "input":
      con.input(m.data);
      break;
    case "resize":
      vm?.board.hvc?.resize(m.cols, m.rows);
      break;
    case "migrate":
      migrate(m).catch((e: unknown) => send({ t: "migrate-done", req: m.req, error: (e as Error).message }));
      break;
    case "snapshot":
      snapshot(m.req, m.dir, m.compress === true).catch((e: unknown) =>
        send({ t: "snapshot-done", req: m.req, error: (e as Error).message }),
      );
      break;
    case "net":
      switchNics.get(m.nic)?.endpoint?.receive(m.frame);
      break;
  }
}

/** One daemon at a time: a new connection (a restarted daemon) replaces the old one. */
function attach(s: Socket): void {
  channel?.close();
  const ch = new VmChannel<ToVm, FromVm>(s);
  channel = ch;
  ch.on("message", handle);
  ch.start();
  ch.on("close", () => {
    if (channel !== ch) return;
    // The daemon went away (even with kill -9): the VM keeps running; console output waits in
    // the bounded outbox (oldest dropped) for the next daemon.
    channel = undefined;
    con.outbox.connect(undefined);
    // A spare that was never made a VM has nothing to keep running for a later daemon.
    if (spare && !booted) process.exit(0);
  });
  ch.send({ t: "hello", pid: process.pid, booted, paused: userPaused });
  con.outbox.connect((data, done) => ch.send({ t: "console", data }, done));
  stats();
}

// --exit-with-parent (tests, embedders): no re-adoption; when the daemon's process is gone (this
// process is re-parented), stop the guest, flush its disks and exit.
if (process.argv.includes("--exit-with-parent")) {
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid === parent) return;
    if (vm && vm.state !== "stopped") vm.stop();
    else void finish("stopped", 0);
  }, 500).unref();
}

const server = createServer(attach);
server.on("error", (e) => {
  process.stderr.write(`VmProcess: cannot listen on ${socketPath}: ${e.message}\n`);
  process.exit(1);
});
// Owner-only: the socket carries console input and power control.
server.listen(firstSocket);
// A daemon that never connects (it died while starting this VM) leaves nothing behind.
const orphanTimer = setTimeout(() => {
  if (!booted) process.exit(1);
}, 30_000);
server.once("connection", () => clearTimeout(orphanTimer));
