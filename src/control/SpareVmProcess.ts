// The daemon's warm spare VM process (docs/SNAPSHOTS.md "Clones from a warm process"). A restore
// in a new process pays for Node's start, loading the modules and, most, V8 compiling the hart's
// loop while the first guest instructions run slowly; a spare has done all of that ahead of time
// (WarmUp.ts), so a clone started in it answers sooner. One spare is kept once the daemon has a
// snapshot; `vm restore` takes it and a new one warms up behind it.
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, openSync, rmSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { connectChannel, type VmChannel } from "./VmChannel.js";
import type { FromVm, ToVm } from "./VmProtocol.js";

/** A started spare: its process, the daemon's connection and where its files are. */
export interface Spare {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly channel: VmChannel<FromVm, ToVm>;
  /** Its directory (socket and stderr.log until it is adopted). */
  readonly dir: string;
  /** Its control socket's path when started (its command line names it). */
  readonly socket: string;
}

export class SparePool {
  private ready: Spare | undefined;
  private starting = false;
  private closed = false;

  constructor(
    /** Where spares keep their socket and log until adopted (the state directory's spares/). */
    private readonly dir: string,
    /** The VM process's script. */
    private readonly script: string,
    /** Extra arguments (--exit-with-parent). */
    private readonly args: string[],
  ) {}

  /** Starts a spare warming up on `snapshot`, unless one is ready or starting. */
  fill(snapshot: string): void {
    if (this.ready || this.starting || this.closed) return;
    this.starting = true;
    this.start(snapshot)
      .then((s) => {
        if (this.closed || !s) return s && discard(s);
        this.ready = s;
        s.child.once("exit", () => {
          if (this.ready === s) this.ready = undefined;
          rmSync(s.dir, { recursive: true, force: true });
        });
      })
      .catch(() => {
        // No spare: restores start their own process, as without one.
      })
      .finally(() => (this.starting = false));
  }

  /** The ready spare for the caller to adopt (undefined: none, start a process as usual). */
  take(): Spare | undefined {
    const s = this.ready;
    this.ready = undefined;
    if (!s) return undefined;
    s.child.removeAllListeners("exit");
    if (s.child.exitCode !== null || s.child.signalCode !== null || !s.channel.open) {
      discard(s);
      return undefined;
    }
    return s;
  }

  /** Ends the spare (daemon shutdown). */
  close(): void {
    this.closed = true;
    const s = this.ready;
    this.ready = undefined;
    if (s) discard(s);
  }

  private async start(snapshot: string): Promise<Spare | undefined> {
    const dir = join(this.dir, randomBytes(6).toString("hex"));
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const socket = join(dir, "vm.sock");
    const err = openSync(join(dir, "stderr.log"), "w", 0o600);
    // As a VM process (VmManager.startNow), plus --expose-gc: the warm-up machine's RAM is collected
    // before the spare becomes a VM.
    const child = spawn(
      process.execPath,
      // --max-semi-space-size=1: as every VM process (VmManager, src/dbt/WasmTiering.ts setVmHeapFlags).
      [
        "--max-old-space-size=256",
        "--max-semi-space-size=1",
        "--expose-gc",
        this.script,
        socket,
        "--spare",
        ...this.args,
      ],
      { detached: true, stdio: ["ignore", "ignore", err] },
    );
    closeSync(err);
    child.unref();
    child.on("error", () => {});
    let channel: VmChannel<FromVm, ToVm> | undefined;
    for (const t0 = Date.now(); !channel && Date.now() - t0 < 20_000 && child.exitCode === null;) {
      channel = await connectChannel<FromVm, ToVm>(socket).catch(() => undefined);
      if (!channel) await new Promise((r) => setTimeout(r, 20));
    }
    const hello = await channel?.next(2000);
    if (!channel || hello?.t !== "hello" || child.pid === undefined) {
      channel?.close();
      child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
      return undefined;
    }
    channel.send({ t: "warm", snapshot });
    return { child, pid: child.pid, channel, dir, socket };
  }
}

function discard(s: Spare): void {
  s.channel.close();
  s.child.kill("SIGKILL");
  rmSync(s.dir, { recursive: true, force: true });
}
