// The daemon's model of its VMs (Xen's Domain 0 role): creates, starts, pauses, resumes, shuts down,
// kills and deletes them; owns the backends they share (console scrollback, virtual switches); and
// records every state change in the Store so it survives a daemon restart. VM processes outlive
// the daemon: each owns a control socket (vms/ID/vm.sock) that a restarted daemon reconnects to
// (adopt()), reconciling the Store with the processes it finds.
import { spawn } from "node:child_process";
import { EventEmitter } from "node:events";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { connectChannel, type VmChannel } from "./VmChannel.js";
import { privateDir, tightenTree } from "./StateDir.js";
import { totalmem } from "node:os";
import { isIP } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Store, type VmExitRecord, type VmRecord, type VmStatus } from "./Store.js";
import type { NicSpecJson, VmSpec } from "./VmSpec.js";
import { ConsoleRing } from "./ConsoleRing.js";
import type { FromVm, LaunchConfig, ToVm, VmProcessStats } from "./VmProtocol.js";
import type { MigrationResult } from "./Migration.js";
import { call } from "./Client.js";
import { VirtualSwitch, type SwitchPort } from "../devices/net/VirtualSwitch.js";
import { formatMac } from "../devices/net/NetBackend.js";
import { stableMac } from "../devices/net/StableMac.js";
import { defaultShareTag, type DiskSpec, type NicSpec, type ShareSpec } from "../vmm/MachineSpec.js";
import { NAME_PATTERN } from "./VmSpec.js";
import { DEFAULT_ENGINE, type EngineName } from "../dbt/Engine.js";
import { ApiError } from "./ApiError.js";
import { HostPaths } from "./HostPaths.js";
import { SparePool } from "./SpareVmProcess.js";

export { ApiError };

export interface VmEvent {
  type: "created" | "state" | "exit" | "panic" | "deleted";
  vm: string;
  name: string;
  status?: VmStatus;
  exit?: VmExitRecord;
  at: string;
}

/** Console input kept for a VM process that has not connected yet (bytes), and other messages. */
const EARLY_INPUT_BYTES = 64 * 1024;
const EARLY_MESSAGES = 64;

interface Live {
  pid: number;
  /** The VM process's control socket connection (absent while connecting). */
  channel?: VmChannel<FromVm, ToVm>;
  /**
   * Messages for the VM process sent before its channel connected (console input typed right after
   * `start` or `restore`, a pause, a resize), delivered in order once it connects; bounded (EARLY_*).
   */
  early?: ToVm[];
  earlyInputBytes?: number;
  ring: ConsoleRing;
  stats?: VmProcessStats;
  /** The daemon's switch port of each switch NIC, by NIC index. */
  ports: Map<number, SwitchPort>;
  shutdownTimer?: NodeJS.Timeout;
  /** Why the daemon itself ended it, if it did (kill, shutdown timeout). */
  endedBy?: string;
  /** Resolves once the VM process is gone and its exit is recorded. */
  exited: Promise<void>;
  gone: () => void;
  lastError?: string;
  /** Snapshot requests sent to the VM process, by request number. */
  snapshotWaiters?: Map<number, (m: Extract<FromVm, { t: "snapshot-done" }>) => void>;
  migrateWaiters?: Map<number, (m: Extract<FromVm, { t: "migrate-done" }>) => void>;
}

/** What a source daemon sends a destination to prepare an incoming migration (POST /v1/migrations). */
export interface IncomingMigration {
  name: string;
  spec: VmSpec;
  /** The source's disks, opened by the same paths (shared storage). */
  disks: DiskSpec[];
  /** The source's NICs, MACs kept (the guest uses them). */
  nics: NicSpec[];
  /**
   * Copy the overlays instead of sharing the disk files: the destination opens the base files by
   * the same paths (read-only) with its own overlays, which the source fills with its overlays'
   * contents during the stop-and-copy.
   */
  copyDisks?: boolean;
}

/** A snapshot the daemon keeps (stateDir/snapshots/NAME/meta.json). */
export interface SnapshotRecord {
  name: string;
  /** The VM it was taken of (id and name at the time). */
  vm: string;
  vmName: string;
  createdAt: string;
  /** The source VM's spec: restores and clones start from it. */
  spec: VmSpec;
  /** The frozen disks (copies in the snapshot's directory, or read-only originals). */
  disks: DiskSpec[];
  bytes: number;
  pages: number;
  storedPages: number;
  pausedMs: number;
}

/** Written in a restored VM's directory: its disks are overlays over a snapshot's frozen copies. */
interface VmOrigin {
  snapshot: string;
  file: string;
  disks: DiskSpec[];
  /** Set until the first start: that start resumes the snapshot instead of booting. */
  pendingRestore: boolean;
  /** The disks as they are (a VM migrated here keeps using the source's files), not overlays over them. */
  keepDisks?: boolean;
}

export interface ImageResolver {
  (name: string): Promise<{ kernel: string; initrd?: string; disk?: string }>;
  /** Why the name cannot boot (unknown, another architecture, not bootable), checked at create; undefined if it can. */
  check?: (name: string) => string | undefined;
}

const VM_PROCESS = fileURLToPath(new URL("./VmProcess.js", import.meta.url));
const DEFAULT_APPEND = "console=ttyS0";

export class VmManager extends EventEmitter {
  readonly store: Store;
  private readonly live = new Map<string, Live>();
  /** Scrollback survives the VM process (a stopped VM's last output stays readable). */
  private readonly rings = new Map<string, ConsoleRing>();
  private readonly switches = new Map<string, VirtualSwitch>();
  private readonly consoleListeners = new Map<string, Set<(d: Uint8Array) => void>>();
  /** VMs with a lifecycle operation under way (start, kill, delete): one at a time per VM. */
  private readonly busy = new Map<string, string>();
  private readonly spares: SparePool | undefined;

  /** paths: the host directories specs may name files in (default: the state directory only). */
  constructor(
    readonly stateDir: string,
    private readonly resolveImage: ImageResolver,
    readonly shutdownTimeoutMs = 30_000,
    readonly paths = new HostPaths([{ dir: stateDir, writable: true }]),
    /** false: VM processes end when the daemon's process does (tests, embedders). */
    readonly vmsOutliveDaemon = true,
    /** Keep a warm spare VM process for restores once there is a snapshot (SpareVmProcess.ts). */
    warmSpare = true,
  ) {
    super();
    privateDir(stateDir);
    privateDir(join(stateDir, "vms"));
    privateDir(join(stateDir, "snapshots"));
    // A previous daemon's spares ended with its connection; their directories are left over.
    rmSync(join(stateDir, "spares"), { recursive: true, force: true });
    if (warmSpare)
      this.spares = new SparePool(join(stateDir, "spares"), VM_PROCESS, vmsOutliveDaemon ? [] : ["--exit-with-parent"]);
    tightenTree(stateDir);
    this.store = new Store(join(stateDir, "typevisor.db"));
  }

  private emitEvent(e: Omit<VmEvent, "at">): void {
    this.emit("event", { ...e, at: new Date().toISOString() } satisfies VmEvent);
  }

  list(): VmRecord[] {
    return this.store.list();
  }

  /** Looks a VM up by id or by name. */
  get(ref: string): VmRecord {
    const r = this.store.get(ref) ?? this.store.byName(ref);
    if (!r) throw new ApiError(404, `no VM with id or name '${ref}'`);
    return r;
  }

  /** OS process id of a running VM's process (for tests and diagnostics). */
  pid(id: string): number | undefined {
    return this.live.get(id)?.pid;
  }

  stats(id: string): VmProcessStats | undefined {
    return this.live.get(id)?.stats ?? this.lastStats.get(id);
  }
  private readonly lastStats = new Map<string, VmProcessStats>();

  ring(id: string): ConsoleRing {
    let r = this.rings.get(id);
    if (!r) this.rings.set(id, (r = new ConsoleRing()));
    return r;
  }

  onConsole(id: string, fn: (d: Uint8Array) => void): () => void {
    let s = this.consoleListeners.get(id);
    if (!s) this.consoleListeners.set(id, (s = new Set()));
    s.add(fn);
    return () => s!.delete(fn);
  }

  /** The console client's terminal size: the guest's hvc0 follows it (its init copies it to the serial console). */
  resizeConsole(ref: string, cols: number, rows: number): VmRecord {
    const [rec, live] = this.running(ref, "resize the console of");
    this.toVm(live, { t: "resize", cols, rows });
    return rec;
  }

  sendInput(id: string, data: Uint8Array): void {
    const l = this.live.get(id);
    if (!l) throw new ApiError(409, `VM '${id}' is not running: start it before sending console input`);
    this.toVm(l, { t: "input", data });
  }

  create(spec: VmSpec): VmRecord {
    if (spec.image !== undefined && spec.kernel !== undefined)
      throw new ApiError(400, "give either 'image' or 'kernel', not both");
    if (spec.image === undefined && spec.kernel === undefined)
      throw new ApiError(400, "give 'image' (e.g. debian-riscv64) or 'kernel' (a path on the host)");
    if (spec.image === undefined && spec.initrd === undefined && spec.disks.length === 0) {
      // Allowed (a kernel can carry its own initramfs), nothing to check.
    }
    if (spec.image !== undefined) {
      const problem = this.resolveImage.check?.(spec.image);
      if (problem !== undefined) throw new ApiError(422, `image '${spec.image}': ${problem}`);
    }
    this.checkPaths(spec);
    if (spec.memoryMiB * 1024 * 1024 > totalmem()) {
      throw new ApiError(
        422,
        `memoryMiB ${spec.memoryMiB}: the host has only ${Math.floor(totalmem() / 2 ** 20)} MiB of memory`,
      );
    }
    if (this.store.byName(spec.name)) throw new ApiError(409, `a VM named '${spec.name}' exists already`);
    const now = new Date().toISOString();
    const rec: VmRecord = { id: newId(), spec, status: "created", lastExit: null, createdAt: now, updatedAt: now };
    this.store.insert(rec);
    privateDir(this.vmDir(rec.id));
    this.emitEvent({ type: "created", vm: rec.id, name: spec.name, status: "created" });
    return rec;
  }

  /** Every host path of the spec, resolved (symlinks followed) and confined; see HostPaths. */
  private checkPaths(spec: VmSpec): {
    kernel?: string;
    initrd?: string;
    bios?: string;
    disks: string[];
    shares: ShareSpec[];
  } {
    const one = (field: string, p: string | undefined) =>
      p === undefined ? undefined : this.paths.resolve(field, p, false);
    const kernel = one("kernel", spec.kernel);
    const initrd = one("initrd", spec.initrd);
    const bios = one("bios", spec.bios);
    const disks = spec.disks.map((d, i) => this.paths.resolve(`disks/${i}/path`, d.path, !d.readOnly && !d.overlay));
    const tags = new Set<string>();
    const shares = (spec.shares ?? []).map((sh, i): ShareSpec => {
      const path = this.paths.resolveDir(`shares/${i}/path`, sh.path, !sh.readOnly);
      const tag = sh.tag ?? defaultShareTag(path);
      if (tags.has(tag))
        throw new ApiError(422, `shares/${i}/tag: '${tag}' is used by another share; give each its own tag`);
      tags.add(tag);
      return { path, tag, readOnly: !!sh.readOnly };
    });
    return { ...(kernel ? { kernel } : {}), ...(initrd ? { initrd } : {}), ...(bios ? { bios } : {}), disks, shares };
  }

  vmDir(id: string): string {
    return join(this.stateDir, "vms", id);
  }

  private setStatus(rec: VmRecord, status: VmStatus, exit?: VmExitRecord): void {
    this.store.setStatus(rec.id, status, exit);
    this.emitEvent({ type: "state", vm: rec.id, name: rec.spec.name, status, ...(exit ? { exit } : {}) });
  }

  /** Guest memory of VMs that are running now, in bytes. */
  private committedMemory(): number {
    let n = 0;
    for (const id of this.live.keys()) n += (this.store.get(id)?.spec.memoryMiB ?? 0) * 2 ** 20;
    return n;
  }

  /**
   * Runs one lifecycle operation on a VM while refusing others (409): without it, three
   * concurrent starts each passed the "not running" check during the asynchronous image lookup
   * and started three VM processes on one overlay (issue 12, item 4).
   */
  private async exclusive<T>(ref: string, what: string, fn: (rec: VmRecord) => Promise<T>): Promise<T> {
    const rec = this.get(ref);
    const other = this.busy.get(rec.id);
    if (other)
      throw new ApiError(
        409,
        `VM '${rec.spec.name}' is busy: a ${other} is under way; try ${what} again when it has finished`,
      );
    this.busy.set(rec.id, what);
    try {
      return await fn(rec);
    } finally {
      this.busy.delete(rec.id);
    }
  }

  start(ref: string): Promise<VmRecord> {
    return this.exclusive(ref, "start", (rec) => this.startNow(rec));
  }

  private async startNow(rec: VmRecord): Promise<VmRecord> {
    if (this.live.has(rec.id))
      throw new ApiError(409, `VM '${rec.spec.name}' is ${rec.status}: only a created or stopped VM can be started`);
    const want = rec.spec.memoryMiB * 2 ** 20;
    // Leave the daemon and the host headroom: guests may commit at most 90% of the host's memory.
    const room = totalmem() * 0.9 - this.committedMemory();
    if (want > room) {
      throw new ApiError(
        422,
        `memoryMiB ${rec.spec.memoryMiB}: only ${Math.max(0, Math.floor(room / 2 ** 20))} MiB of host memory is left for guests (running VMs hold ${Math.floor(this.committedMemory() / 2 ** 20)} MiB)`,
      );
    }
    const cfg = await this.launchConfig(rec);
    const dir = this.vmDir(rec.id);
    privateDir(dir);
    for (const f of ["vm.sock", "exit.json", "proc-tag"]) rmSync(join(dir, f), { force: true });
    // The launch configuration stays beside the socket: a restarted daemon re-adopting the VM
    // reconnects its switch NICs from it.
    writeFileSync(join(dir, "launch.json"), JSON.stringify(cfg), { mode: 0o600 });
    // A restore goes to the warm spare if there is one: its socket and log move into the VM's
    // directory, and its command line names its old socket (proc-tag, for killVmProcess).
    const spare = cfg.restore !== undefined ? this.spares?.take() : undefined;
    if (spare) {
      renameSync(spare.socket, join(dir, "vm.sock"));
      renameSync(join(spare.dir, "stderr.log"), join(dir, "stderr.log"));
      rmSync(spare.dir, { recursive: true, force: true });
      writeFileSync(join(dir, "proc-tag"), spare.socket, { mode: 0o600 });
      spare.channel.send({ t: "adopt", socket: join(dir, "vm.sock") });
      const live = this.newLive(rec, spare.pid);
      writeFileSync(join(dir, "pid"), String(live.pid), { mode: 0o600 });
      spare.child.on("exit", (code, signal) => this.gone(rec, live, code, signal));
      return this.launched(rec, live, spare.channel, cfg);
    }
    // Detached (its own session, no controlling terminal) and with no IPC channel: the VM process
    // survives the daemon. Its stderr goes to a file the daemon reads when it crashes.
    const err = openSync(join(dir, "stderr.log"), "w", 0o600);
    // Node options: a VM process needs little JS heap (guest RAM is a WebAssembly.Memory outside it),
    // and a small young generation (src/dbt/WasmTiering.ts, setVmHeapFlags: ~27 MiB less peak RSS).
    const child = spawn(
      process.execPath,
      [
        "--max-old-space-size=256",
        "--max-semi-space-size=1",
        VM_PROCESS,
        join(dir, "vm.sock"),
        ...(this.vmsOutliveDaemon ? [] : ["--exit-with-parent"]),
      ],
      { detached: true, stdio: ["ignore", "ignore", err] },
    );
    closeSync(err);
    child.unref();
    child.on("error", () => {});
    const live = this.newLive(rec, child.pid ?? -1);
    writeFileSync(join(dir, "pid"), String(live.pid), { mode: 0o600 });
    child.on("exit", (code, signal) => this.gone(rec, live, code, signal));
    let ch: VmChannel<FromVm, ToVm> | undefined;
    for (
      const t0 = Date.now();
      !ch && Date.now() - t0 < 20_000 && child.exitCode === null && child.signalCode === null;
    ) {
      ch = await connectChannel<FromVm, ToVm>(join(dir, "vm.sock")).catch(() => undefined);
      if (!ch) await new Promise((r) => setTimeout(r, 20));
    }
    if (!ch) {
      // It died or hangs before listening: end it; 'exit' records why.
      try {
        process.kill(live.pid, "SIGKILL");
      } catch {
        // gone already
      }
      await live.exited;
      return this.get(rec.id);
    }
    return this.launched(rec, live, ch, cfg);
  }

  /** A VM process is connected: wire it, boot it, record it running. */
  private launched(rec: VmRecord, live: Live, ch: VmChannel<FromVm, ToVm>, cfg: LaunchConfig): VmRecord {
    this.attach(rec, live, ch, cfg);
    this.toVm(live, { t: "boot", config: cfg });
    // What API callers sent while the process was connecting, in order, after the boot request.
    const early = live.early ?? [];
    live.early = undefined;
    for (const m of early) this.toVm(live, m);
    if (cfg.restore) {
      this.setOrigin(rec.id, { ...this.origin(rec.id)!, pendingRestore: false });
      // The next clone of this snapshot finds a warm process.
      this.spares?.fill(cfg.restore);
    }
    this.setStatus(rec, "running");
    return this.get(rec.id);
  }

  private newLive(rec: VmRecord, pid: number): Live {
    let gone = () => {};
    const exited = new Promise<void>((r) => (gone = r));
    const live: Live = { pid, ring: this.ring(rec.id), ports: new Map(), exited, gone };
    this.live.set(rec.id, live);
    return live;
  }

  /** Wires a VM process's channel: console, stats, frames, exit; its switch NICs to the switches. */
  private attach(rec: VmRecord, live: Live, ch: VmChannel<FromVm, ToVm>, cfg: LaunchConfig): void {
    live.channel = ch;
    const ring = live.ring;
    cfg.nics.forEach((nic, index) => {
      if (nic.kind !== "switch") return;
      const port = this.switchNamed(nic.name).connect();
      live.ports.set(index, port);
      port.attach({
        mac: new Uint8Array(6),
        receive: (frame) => {
          this.toVm(live, { t: "net", nic: index, frame: frame.slice() });
          return true;
        },
      });
    });
    ch.on("message", (m) => {
      switch (m.t) {
        case "console":
          ring.write(m.data);
          for (const fn of this.consoleListeners.get(rec.id) ?? []) fn(m.data);
          break;
        case "stats":
          live.stats = m.stats;
          this.lastStats.set(rec.id, m.stats);
          break;
        case "net":
          live.ports.get(m.nic)?.send(m.frame);
          break;
        case "error":
          live.lastError = m.message;
          break;
        case "exit": {
          const exit: VmExitRecord = {
            reason: live.endedBy ?? m.reason,
            status: m.status,
            at: new Date().toISOString(),
            ...(m.message ? { message: m.message } : {}),
          };
          live.endedBy = "reported";
          this.finish(rec, live, exit);
          break;
        }
        case "snapshot-done":
          live.snapshotWaiters?.get(m.req)?.(m);
          break;
        case "migrate-done":
          live.migrateWaiters?.get(m.req)?.(m);
          break;
        case "incoming-ready":
          this.readyWaiters.get(rec.id)?.(m.port);
          break;
        case "hello":
          break;
      }
    });
    ch.start();
    ch.on("close", () => {
      // The VM process closes its socket only when it exits. A process that is not this daemon's
      // child (re-adopted) is watched by its pid until it is gone.
      const watch = setInterval(() => {
        if (!pidAlive(live.pid)) {
          clearInterval(watch);
          this.gone(rec, live, null, null);
        }
      }, 100);
    });
  }

  /** The VM process is gone: records why (its report, exit.json, or how it ended). */
  private gone(rec: VmRecord, live: Live, code: number | null, signal: NodeJS.Signals | null): void {
    if (live.endedBy !== "reported") {
      const reported = readExitFile(this.vmDir(rec.id));
      if (reported && !live.endedBy) {
        this.finish(rec, live, {
          reason: reported.reason,
          status: reported.status,
          at: new Date().toISOString(),
          ...(reported.message ? { message: reported.message } : {}),
        });
      } else {
        const reason = live.endedBy ?? (signal === "SIGKILL" ? "killed" : "crashed");
        const stderr = tail(join(this.vmDir(rec.id), "stderr.log"));
        const how = signal
          ? `the VM process was ended by ${signal}`
          : code !== null
            ? `the VM process exited with code ${code}`
            : "the VM process ended";
        const message = live.lastError ?? how + (stderr && reason === "crashed" ? `: ${stderr}` : "");
        this.finish(rec, live, { reason, status: code, message, at: new Date().toISOString() });
      }
    }
    live.gone();
  }

  /**
   * Re-adopts the VMs a previous daemon left running (called once at start): reconnects to each
   * VM process's socket; a VM whose process is gone is recorded stopped (with the exit record the
   * process left, if any); a process without a record, or one that does not answer, is ended.
   */
  async adopt(): Promise<void> {
    for (const rec of this.store.list()) {
      if (rec.status === "created" || rec.status === "stopped") continue;
      const dir = this.vmDir(rec.id);
      const ch = await connectChannel<FromVm, ToVm>(join(dir, "vm.sock"), 1000).catch(() => undefined);
      const hello = ch && (await ch.next(2000));
      let cfg: LaunchConfig | undefined;
      try {
        cfg = JSON.parse(readFileSync(join(dir, "launch.json"), "utf8")) as LaunchConfig;
      } catch {
        // no configuration: cannot re-adopt
      }
      if (ch && hello?.t === "hello" && cfg) {
        const live = this.newLive(rec, hello.pid);
        this.attach(rec, live, ch, cfg);
        // A stop requested from the previous daemon gets the timeout again.
        if (rec.status === "stopping") this.shutdown(rec.id);
        continue;
      }
      ch?.close();
      killVmProcess(dir);
      const left = readExitFile(dir);
      this.store.setStatus(
        rec.id,
        "stopped",
        left
          ? {
              reason: left.reason,
              status: left.status,
              at: new Date().toISOString(),
              message: `${left.message ? left.message + "; " : ""}ended while no daemon was attached`,
            }
          : {
              reason: "daemon-restart",
              status: null,
              message: "the VM process was gone when the daemon started again",
              at: new Date().toISOString(),
            },
      );
    }
    // Directories of VMs that have no record (deleted while their process hung): end and remove.
    const known = new Set(this.store.list().map((r) => r.id));
    for (const id of readdirSync(join(this.stateDir, "vms"))) {
      if (known.has(id)) continue;
      killVmProcess(join(this.stateDir, "vms", id));
      rmSync(join(this.stateDir, "vms", id), { recursive: true, force: true });
    }
  }

  private finish(rec: VmRecord, live: Live, exit: VmExitRecord): void {
    if (this.live.get(rec.id) !== live) return;
    clearTimeout(live.shutdownTimer);
    this.live.delete(rec.id);
    for (const p of live.ports.values()) void p.close();
    this.setStatus(rec, "stopped", exit);
    if (exit.reason === "panic") this.emitEvent({ type: "panic", vm: rec.id, name: rec.spec.name, exit });
    this.emitEvent({ type: "exit", vm: rec.id, name: rec.spec.name, exit });
  }

  private toVm(live: Live, m: ToVm): void {
    const ch = live.channel;
    if (!ch) {
      // The process is still starting: keystrokes and control messages wait for it (bounded, as a
      // UART's FIFO is), frames are dropped as by a NIC whose link is not up yet.
      if (m.t === "net") return;
      const queue = (live.early ??= []);
      if (m.t === "input") {
        const bytes = (live.earlyInputBytes ?? 0) + m.data.length;
        if (bytes > EARLY_INPUT_BYTES) return;
        live.earlyInputBytes = bytes;
      } else if (queue.length >= EARLY_MESSAGES) return;
      queue.push(m);
      return;
    }
    // Frames and keystrokes for a VM process that does not read are dropped (as a NIC or a UART
    // with a full FIFO would), never queued without bound; control messages always go.
    if (m.t === "net" || m.t === "input") ch.sendDroppable(m);
    else ch.send(m);
  }

  private running(ref: string, what: string): [VmRecord, Live] {
    const rec = this.get(ref);
    const live = this.live.get(rec.id);
    if (!live)
      throw new ApiError(409, `VM '${rec.spec.name}' is ${rec.status}: cannot ${what} a VM that is not running`);
    return [rec, live];
  }

  pause(ref: string): VmRecord {
    const [rec, live] = this.running(ref, "pause");
    if (rec.status === "paused") throw new ApiError(409, `VM '${rec.spec.name}' is paused already`);
    this.toVm(live, { t: "pause" });
    this.setStatus(rec, "paused");
    return this.get(rec.id);
  }

  resume(ref: string): VmRecord {
    const [rec, live] = this.running(ref, "resume");
    if (rec.status !== "paused")
      throw new ApiError(409, `VM '${rec.spec.name}' is ${rec.status}: only a paused VM can be resumed`);
    this.toVm(live, { t: "resume" });
    this.setStatus(rec, "running");
    return this.get(rec.id);
  }

  /**
   * Asks the guest to power off (serial SysRq s/u/o: sync, remount read-only, power off through
   * the SBI system-reset call); if it hasn't within the timeout, stops the machine (disks flushed).
   */
  shutdown(ref: string, timeoutMs = this.shutdownTimeoutMs): VmRecord {
    const [rec, live] = this.running(ref, "shut down");
    if (rec.status === "paused") this.toVm(live, { t: "resume" });
    this.toVm(live, { t: "shutdown" });
    clearTimeout(live.shutdownTimer);
    live.shutdownTimer = setTimeout(() => {
      live.endedBy = "shutdown-timeout";
      this.toVm(live, { t: "stop" });
      // A VM process that doesn't answer a stop within 5 s is killed.
      setTimeout(() => killPid(live.pid), 5000).unref();
    }, timeoutMs);
    this.setStatus(rec, "stopping");
    return this.get(rec.id);
  }

  /** Pulls the plug: SIGKILL to the VM process. Disk writes already issued are in the host's page cache. */
  kill(ref: string): Promise<VmRecord> {
    return this.exclusive(ref, "kill", () => this.killNow(ref));
  }

  private async killNow(ref: string): Promise<VmRecord> {
    const [rec, live] = this.running(ref, "kill");
    live.endedBy = "killed";
    killPid(live.pid);
    await live.exited;
    return this.get(rec.id);
  }

  delete(ref: string, force: boolean): Promise<void> {
    return this.exclusive(ref, "delete", (rec) => this.deleteNow(rec, force));
  }

  private async deleteNow(rec: VmRecord, force: boolean): Promise<void> {
    if (this.live.has(rec.id)) {
      if (!force)
        throw new ApiError(409, `VM '${rec.spec.name}' is ${rec.status}: stop it first, or delete with force=true`);
      await this.killNow(rec.id);
    }
    this.store.delete(rec.id);
    this.rings.delete(rec.id);
    this.lastStats.delete(rec.id);
    rmSync(this.vmDir(rec.id), { recursive: true, force: true });
    this.emitEvent({ type: "deleted", vm: rec.id, name: rec.spec.name });
  }

  private switchNamed(name: string): VirtualSwitch {
    let s = this.switches.get(name);
    if (!s) this.switches.set(name, (s = new VirtualSwitch()));
    return s;
  }

  private async launchConfig(rec: VmRecord): Promise<LaunchConfig> {
    const s = rec.spec;
    // Checked again at start: a file may have become a symlink to elsewhere since create.
    const real = this.checkPaths(s);
    let kernel = real.kernel;
    let initrd = real.initrd;
    const disks: LaunchConfig["disks"] = [];
    let append = s.append;
    if (s.image !== undefined) {
      let img;
      try {
        img = await this.resolveImage(s.image);
      } catch (e) {
        throw new ApiError(422, `image '${s.image}': ${(e as Error).message}`);
      }
      kernel = img.kernel;
      initrd = img.initrd;
      append ??= DEFAULT_APPEND;
      // The image's data disk, through a per-VM overlay: the cached base is shared and never written.
      if (img.disk)
        disks.push({ path: img.disk, readOnly: false, overlay: join(this.vmDir(rec.id), "image-disk.overlay") });
    }
    s.disks.forEach((d, i) => {
      disks.push({
        path: real.disks[i]!,
        readOnly: !!d.readOnly,
        ...(d.overlay ? { overlay: join(this.vmDir(rec.id), `disk${i}.overlay`) } : {}),
      });
    });
    // A VM restored from a snapshot runs on overlays over the snapshot's frozen disks, then and on
    // every later boot; its first start resumes the snapshot.
    const origin = this.origin(rec.id);
    let restore: string | undefined;
    if (origin) {
      disks.length = 0;
      origin.disks.forEach((d, i) =>
        disks.push(
          d.readOnly || origin.keepDisks
            ? d
            : { path: d.path, readOnly: false, overlay: join(this.vmDir(rec.id), `disk${i}.overlay`) },
        ),
      );
      if (origin.pendingRestore) {
        if (!existsSync(origin.file))
          throw new ApiError(409, `snapshot '${origin.snapshot}' of this VM is gone; it cannot be restored`);
        restore = origin.file;
      }
    }
    const inc = this.incomingFor.get(rec.id);
    if (inc) {
      disks.length = 0;
      disks.push(...inc.disks);
    }
    if (!kernel) throw new ApiError(422, "the VM has no kernel");
    return {
      ...(restore ? { restore } : {}),
      ...(inc ? { incoming: { host: inc.host, ticket: inc.ticket, copyDisks: inc.copyDisks } } : {}),
      id: rec.id,
      kernel,
      ...(initrd ? { initrd } : {}),
      append: append ?? DEFAULT_APPEND,
      ...(real.bios ? { bios: real.bios } : {}),
      memoryBytes: s.memoryMiB * 2 ** 20,
      cpus: s.cpus,
      // Specs stored before the engine field existed have none: they ran on the default engine.
      engine: (s.engine as EngineName | undefined) ?? DEFAULT_ENGINE,
      disks,
      nics: inc ? inc.nics : launchNics(rec),
      shares: real.shares,
      ...(s.cpuQuota !== undefined ? { cpuQuota: s.cpuQuota } : {}),
    };
  }

  private snapshotDir(name: string): string {
    return join(this.stateDir, "snapshots", name);
  }

  private origin(id: string): VmOrigin | undefined {
    try {
      return JSON.parse(readFileSync(join(this.vmDir(id), "origin.json"), "utf8")) as VmOrigin;
    } catch {
      return undefined;
    }
  }

  private setOrigin(id: string, o: VmOrigin): void {
    writeFileSync(join(this.vmDir(id), "origin.json"), JSON.stringify(o), { mode: 0o600 });
  }

  /**
   * vm snapshot: the VM process pauses the guest, saves it and freezes its writable disks into the
   * snapshot's directory, and resumes it (docs/SNAPSHOTS.md).
   */
  snapshot(ref: string, name: string | undefined, compress = false): Promise<SnapshotRecord> {
    return this.exclusive(ref, "snapshot", async (rec) => {
      const live = this.live.get(rec.id);
      if (!live?.channel)
        throw new ApiError(
          409,
          `VM '${rec.spec.name}' is ${rec.status}: only a running or paused VM can be snapshotted`,
        );
      const snapName = name ?? `${rec.spec.name}-${new Date().toISOString().replace(/[:.]/g, "-")}`;
      if (!new RegExp(NAME_PATTERN).test(snapName))
        throw new ApiError(400, `snapshot name '${snapName}': use 1-63 letters, digits, '_', '.' or '-'`);
      const dir = this.snapshotDir(snapName);
      if (existsSync(dir)) throw new ApiError(409, `a snapshot named '${snapName}' exists already`);
      privateDir(dir);
      const req = ++this.snapshotReq;
      const waiters = (live.snapshotWaiters ??= new Map<
        number,
        (m: Extract<FromVm, { t: "snapshot-done" }>) => void
      >());
      try {
        const m = await new Promise<Extract<FromVm, { t: "snapshot-done" }>>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new ApiError(500, "the VM process did not finish the snapshot in 5 minutes")),
            300_000,
          );
          waiters.set(req, (r) => {
            clearTimeout(timer);
            resolve(r);
          });
          void live.exited.then(() => {
            clearTimeout(timer);
            reject(new ApiError(409, `VM '${rec.spec.name}' ended during the snapshot`));
          });
          this.toVm(live, { t: "snapshot", req, dir, compress });
        });
        if (!m.report)
          throw new ApiError(409, `snapshot of VM '${rec.spec.name}' failed: ${m.error ?? "unknown error"}`);
        const snap: SnapshotRecord = {
          name: snapName,
          vm: rec.id,
          vmName: rec.spec.name,
          createdAt: new Date().toISOString(),
          spec: rec.spec,
          ...m.report,
        };
        writeFileSync(join(dir, "meta.json"), JSON.stringify(snap), { mode: 0o600 });
        this.spares?.fill(join(dir, "snapshot.tvsnap"));
        return snap;
      } catch (e) {
        await rm(dir, { recursive: true, force: true });
        throw e;
      } finally {
        waiters.delete(req);
      }
    });
  }
  private snapshotReq = 0;

  snapshots(): SnapshotRecord[] {
    const out: SnapshotRecord[] = [];
    for (const name of readdirSync(join(this.stateDir, "snapshots")).sort()) {
      try {
        out.push(JSON.parse(readFileSync(join(this.snapshotDir(name), "meta.json"), "utf8")) as SnapshotRecord);
      } catch {
        // a snapshot being written, or a broken one: not listed
      }
    }
    return out;
  }

  getSnapshot(name: string): SnapshotRecord {
    const snap = new RegExp(NAME_PATTERN).test(name) ? this.snapshots().find((s) => s.name === name) : undefined;
    if (!snap) throw new ApiError(404, `no snapshot named '${name}' (see GET /v1/snapshots)`);
    return snap;
  }

  /** Deletes a snapshot; refused while VMs restored from it run on its frozen disks (unless force). */
  async deleteSnapshot(name: string, force: boolean): Promise<void> {
    const snap = this.getSnapshot(name);
    const users = this.list().filter((r) => this.origin(r.id)?.snapshot === snap.name);
    if (users.length > 0 && !force)
      throw new ApiError(
        409,
        `snapshot '${snap.name}' holds the disks of VM(s) ${users.map((u) => u.spec.name).join(", ")}: delete them first, or delete with force=true (their disks are then gone)`,
      );
    await rm(this.snapshotDir(snap.name), { recursive: true, force: true });
  }

  /**
   * vm restore: a new VM from a snapshot, started at once. Each restore is a clone: its own id, MAC,
   * disk overlays over the snapshot's frozen disks, and a new generation ID so the guest reseeds.
   */
  async restore(snapName: string, name: string): Promise<VmRecord> {
    const snap = this.getSnapshot(snapName);
    const rec = this.create({ ...snap.spec, name });
    this.setOrigin(rec.id, {
      snapshot: snap.name,
      file: join(this.snapshotDir(snap.name), "snapshot.tvsnap"),
      disks: snap.disks,
      pendingRestore: true,
    });
    try {
      return await this.start(rec.id);
    } catch (e) {
      await this.delete(rec.id, true).catch(() => {});
      throw e;
    }
  }

  /** Incoming migrations being set up, by VM id (the next start receives instead of booting). */
  private readonly incomingFor = new Map<
    string,
    { host: string; ticket: string; disks: DiskSpec[]; nics: NicSpec[]; copyDisks: boolean }
  >();

  /**
   * Destination of a live migration: creates the VM (the source's spec and name), starts its process
   * listening on `host` for the source, and returns where and with what ticket to connect. The disks
   * are the source's own files (shared storage): they must lie in directories this daemon may use.
   */
  async incoming(m: IncomingMigration, host: string): Promise<{ vm: VmRecord; port: number; ticket: string }> {
    m.disks.forEach((d, i) => {
      if (m.copyDisks && !d.readOnly && !d.overlay)
        throw new ApiError(
          422,
          `disks/${i}: a writable disk without an overlay cannot be copied (only overlays are); migrate it with shared storage`,
        );
      this.paths.resolve(`disks/${i}/path`, d.path, !d.readOnly && !d.overlay);
      if (d.overlay && !m.copyDisks) this.paths.resolve(`disks/${i}/overlay`, d.overlay, true);
    });
    m.nics.forEach((n, i) => {
      if (n.kind !== "user" && n.kind !== "switch")
        throw new ApiError(422, `nics/${i}: a ${n.kind} NIC cannot be migrated through the daemon`);
    });
    const rec = this.create({ ...m.spec, name: m.name });
    // Copied overlays are this VM's own files.
    const disks = m.disks.map((d, i) =>
      m.copyDisks && d.overlay ? { ...d, overlay: join(this.vmDir(rec.id), `disk${i}.overlay`) } : d,
    );
    // Later boots of this VM keep the disks it came with.
    this.setOrigin(rec.id, { snapshot: "", file: "", disks, pendingRestore: false, keepDisks: true });
    const ticket = randomBytes(32).toString("hex");
    this.incomingFor.set(rec.id, { host, ticket, disks, nics: m.nics, copyDisks: m.copyDisks === true });
    try {
      const ready = new Promise<number>((resolve, reject) => {
        const t = setTimeout(
          () => reject(new ApiError(500, "the VM process did not get ready for the migration")),
          20_000,
        );
        this.readyWaiters.set(rec.id, (port) => {
          clearTimeout(t);
          resolve(port);
        });
      });
      const started = await this.start(rec.id);
      const live = this.live.get(rec.id);
      if (!live) throw new ApiError(500, `the VM process for the migration ended: ${started.lastExit?.message ?? "?"}`);
      const port = await Promise.race([
        ready,
        live.exited.then(() => Promise.reject(new ApiError(500, "the VM process for the migration ended"))),
      ]);
      return { vm: this.get(rec.id), port, ticket };
    } catch (e) {
      await this.delete(rec.id, true).catch(() => {});
      throw e;
    } finally {
      this.incomingFor.delete(rec.id);
      this.readyWaiters.delete(rec.id);
    }
  }
  private readonly readyWaiters = new Map<string, (port: number) => void>();

  /**
   * Live migration, source side: asks the destination daemon (with its token) to prepare a VM, then
   * has this VM's process send the guest there. On success this VM ends (recorded "migrated"); on
   * any failure it keeps running here.
   */
  migrate(
    ref: string,
    to: { url: string; token: string },
    maxDowntimeMs: number,
    /** The VM's name at the destination (default: its name here). */
    destName?: string,
    /** Copy the disks' overlays instead of sharing the disk files (IncomingMigration.copyDisks). */
    copyDisks = false,
  ): Promise<{ destination: string; result: MigrationResult }> {
    return this.exclusive(ref, "migration", async (rec) => {
      const live = this.live.get(rec.id);
      if (!live?.channel)
        throw new ApiError(409, `VM '${rec.spec.name}' is ${rec.status}: only a running VM can be migrated`);
      let cfg: LaunchConfig;
      try {
        cfg = JSON.parse(readFileSync(join(this.vmDir(rec.id), "launch.json"), "utf8")) as LaunchConfig;
      } catch {
        throw new ApiError(409, `VM '${rec.spec.name}' has no launch configuration to migrate`);
      }
      let target: URL;
      try {
        target = new URL(to.url);
      } catch {
        throw new ApiError(400, `to: '${to.url}' is not a URL (give http://HOST:PORT of the destination daemon)`);
      }
      const dest = { url: target.origin, token: to.token };
      const body: IncomingMigration = {
        name: destName ?? rec.spec.name,
        spec: rec.spec,
        disks: cfg.disks,
        nics: cfg.nics,
        copyDisks,
      };
      let r: { status: number; body: unknown; text: string };
      try {
        r = await call(dest, "POST", "/v1/migrations", body);
      } catch (e) {
        throw new ApiError(502, `the destination ${dest.url} cannot be reached: ${(e as Error).message}`);
      }
      if (r.status !== 201) {
        const msg = (r.body as { error?: string } | null)?.error ?? r.text;
        throw new ApiError(
          r.status === 401 ? 401 : 409,
          `the destination refused the migration (HTTP ${r.status}): ${msg}`,
        );
      }
      const answer = r.body as { vm: { id: string }; port: number; ticket: string };
      const req = ++this.snapshotReq;
      const waiters = (live.migrateWaiters ??= new Map<number, (m: Extract<FromVm, { t: "migrate-done" }>) => void>());
      const done = await new Promise<Extract<FromVm, { t: "migrate-done" }>>((resolve) => {
        waiters.set(req, resolve);
        void live.exited.then(() => resolve({ t: "migrate-done", req, error: "the VM process ended" }));
        this.toVm(live, {
          t: "migrate",
          req,
          host: target.hostname,
          port: answer.port,
          ticket: answer.ticket,
          maxDowntimeMs,
          copyDisks,
        });
      });
      waiters.delete(req);
      if (!done.result) {
        // The destination's half-made VM is of no use.
        await call(dest, "DELETE", `/v1/vms/${answer.vm.id}?force=true`).catch(() => {});
        throw new ApiError(
          409,
          `migration of VM '${rec.spec.name}' failed, it keeps running here: ${done.error ?? "?"}`,
        );
      }
      live.endedBy = "migrated";
      await live.exited;
      return { destination: answer.vm.id, result: done.result };
    });
  }

  /** Stops every VM (daemon shutdown): asks each process to stop and flush, then waits. */
  async closeAll(): Promise<void> {
    this.spares?.close();
    const waits: Promise<void>[] = [];
    for (const [, live] of this.live) {
      live.endedBy = "stopped";
      this.toVm(live, { t: "stop" });
      setTimeout(() => killPid(live.pid), 5000).unref();
      waits.push(live.exited);
    }
    await Promise.all(waits);
    this.store.close();
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

function killPid(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // gone already
  }
}

/** Ends the VM process recorded in dir (pid file), if that pid still runs a VM process. */
function killVmProcess(dir: string): void {
  let pid: number;
  try {
    pid = Number(readFileSync(join(dir, "pid"), "utf8"));
    // The pid may have been reused by an unrelated process since: check it is this VM's (by the
    // socket its command line names: a spare's first one, in proc-tag, if it was adopted).
    const tag = existsSync(join(dir, "proc-tag")) ? readFileSync(join(dir, "proc-tag"), "utf8") : join(dir, "vm.sock");
    if (!readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(tag)) return;
  } catch {
    return;
  }
  killPid(pid);
}

function readExitFile(dir: string): { reason: string; status: number; message?: string } | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, "exit.json"), "utf8")) as {
      reason: string;
      status: number;
      message?: string;
    };
  } catch {
    return undefined;
  }
}

/** The last lines of a VM process's stderr log, on one line. */
function tail(path: string): string {
  if (!existsSync(path)) return "";
  try {
    return readFileSync(path, "utf8").slice(-4000).trim().split("\n").slice(-3).join(" / ");
  } catch {
    return "";
  }
}

function newId(): string {
  return randomBytes(6).toString("hex");
}

/** A stable locally administered unicast MAC per VM (52:54:00 is QEMU's prefix; we use 52:54:76). */
/** The spec's NICs as the machine builder's NicSpecs, with MACs derived from the VM's id. */
function launchNics(rec: VmRecord): NicSpec[] {
  const s = rec.spec;
  const list: NicSpecJson[] = [
    ...(s.nics ?? []),
    ...(s.network ? [{ mode: "switch" as const, switch: s.network.switch, mac: s.network.mac }] : []),
  ];
  return list.map((n, i) => {
    // NIC 0 keeps the MAC VMs had before there were several NICs.
    const mac = (n.mac ?? (i === 0 ? macFor(rec.id) : stableMac(`${rec.id}/${i}`))).toLowerCase();
    if (n.mode === "switch") return { kind: "switch", mac, name: n.switch };
    const hostfwd = (n.hostfwd ?? []).map((f) => {
      const hostAddr = f.hostAddr ?? "127.0.0.1";
      if (isIP(hostAddr) === 0) throw new ApiError(422, `nics[${i}].hostfwd: '${hostAddr}' is not an IP address`);
      return { proto: f.proto, hostAddr, hostPort: f.hostPort, guestPort: f.guestPort };
    });
    return { kind: "user", mac, hostfwd };
  });
}

function macFor(id: string): string {
  const b = Buffer.from(id.padEnd(12, "0").slice(0, 6), "hex");
  return formatMac(Uint8Array.from([0x52, 0x54, 0x76, b[0] ?? 0, b[1] ?? 0, b[2] ?? 0]));
}
