// Warming up a spare VM process (docs/SNAPSHOTS.md "Clones from a warm process"). A fresh Node
// process runs its first million guest instructions several times slower than a warm one: V8
// interprets the hart's loop, the MMU and the devices' code until it has compiled them with type
// feedback. Measured on a restored Debian guest answering one shell command: ~230 ms of CPU in a
// fresh process against ~30 ms in one that had restored a guest before. A spare process therefore
// restores a snapshot once, types a newline at the guest's console and lets it answer, then drops
// the machine; the clone it later becomes runs on compiled code.
//
// The warm-up machine is a throwaway: its disks are copy-on-write overlays in the spare's own
// directory (deleted afterwards), its NICs are wires to nowhere, and nothing it prints goes anywhere.
import { rmSync } from "node:fs";
import { join } from "node:path";
import { buildVirtMachine, type VirtMachine } from "../vmm/MachineBuilder.js";
import { nodeBackends } from "../vmm/NodeBackends.js";
import { MemoryBackend } from "../devices/chardev/MemoryBackend.js";
import type { NetBackend } from "../devices/net/NetBackend.js";
import type { MachineSpec } from "../vmm/MachineSpec.js";
import { readSnapshotHeader, restoreSnapshot, snapshotSpec } from "../vmm/snapshot/Snapshot.js";

/** A NIC wire that goes nowhere (frames the warm-up guest sends are dropped). */
class NoWire implements NetBackend {
  attach(): void {}
  send(): void {}
  async close(): Promise<void> {}
}

/** How long the warm-up guest runs after the newline at most (it usually answers in ~0.3 s). */
const WARM_UP_MS = 1500;

/** A running warm-up; stop() ends it early (the spare was asked to become a VM). */
export interface WarmUp {
  readonly done: Promise<void>;
  stop(): void;
}

/** Restores `snapshot` into a throwaway machine with overlays in `dir`, runs it briefly, drops it. */
export function warmUp(snapshot: string, dir: string): WarmUp {
  let machine: VirtMachine | undefined;
  let stopped = false;
  const overlays: string[] = [];
  const run = async () => {
    const header = readSnapshotHeader(snapshot);
    const spec: MachineSpec = {
      ...snapshotSpec(header, snapshot),
      disks: header.machine.disks.map((d, i) => {
        if (d.readOnly) return d;
        const overlay = join(dir, `warm-disk${i}.overlay`);
        overlays.push(overlay);
        return { path: d.path, readOnly: false, overlay };
      }),
      nics: header.machine.nics.map((n) => ({ kind: "switch" as const, mac: n.mac, name: "warm-up" })),
    };
    const con = new MemoryBackend();
    machine = await buildVirtMachine(spec, {
      restoring: true,
      console: con,
      backends: nodeBackends({ openSwitch: () => Promise.resolve(new NoWire()) }),
    });
    if (stopped) return;
    const vm = machine.vm;
    restoreSnapshot(vm, snapshot);
    const timer = setTimeout(() => vm.stop(), WARM_UP_MS);
    const before = con.output().length;
    // The guest's answer to a newline (a shell prints its prompt again) ends the warm-up.
    const poll = setInterval(() => {
      if (con.output().length > before + 4) setTimeout(() => vm.stop(), 50);
    }, 20);
    con.input("\n");
    try {
      await vm.start();
    } finally {
      clearTimeout(timer);
      clearInterval(poll);
    }
  };
  const done = run()
    .catch(() => {
      // A warm-up that fails only leaves the process colder: the real restore reports its own errors.
    })
    .then(async () => {
      await machine?.close().catch(() => {});
      machine = undefined;
      for (const o of overlays) rmSync(o, { force: true });
      // The warm-up guest's RAM (a WebAssembly.Memory) is returned to the OS only when collected:
      // the daemon starts spares with --expose-gc so that it is, before the spare becomes a VM.
      (globalThis as { gc?: () => void }).gc?.();
    });
  return {
    done,
    stop() {
      stopped = true;
      machine?.vm.stop();
    },
  };
}
