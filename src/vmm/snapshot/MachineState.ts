// Save and restore of a whole virt board's device and hart state (Firecracker's Persist pattern
// applied part by part: each part has saveState()/restoreState() next to its own fields, and this file
// only gathers them). RAM is not here: SnapshotFile.ts stores it in its own section.
import type { HartSavedState } from "../../riscv/HartPersist.js";
import type { PlicSavedState } from "../../devices/Plic.js";
import type { UartSavedState } from "../../devices/Uart16550.js";
import type { GoldfishRtcSavedState } from "../../devices/GoldfishRtc.js";
import type { VirtioMmioSavedState } from "../../devices/virtio/VirtioMmio.js";
import type { VirtBoard, RebasableTimer } from "../VirtBoard.js";
import type { HartState } from "../Sbi.js";
import { SnapshotError } from "./SnapshotFile.js";
import { randomBytes } from "node:crypto";

/** Everything of a board but its RAM, JSON-safe. */
export interface MachineSavedState {
  /** The machine timer (mtime, the time CSR) at the snapshot, in ticks: a restore counts on from it. */
  timerTicks: number;
  harts: HartSavedState[];
  /** The built-in SBI's HSM state of each hart (SBI §9). */
  hartStates: number[];
  plic: PlicSavedState;
  aclint: { msip: number[] };
  uart: UartSavedState;
  rtc: GoldfishRtcSavedState;
  vmgenid: { id: number[]; raised: boolean };
  /** Every virtio-mmio slot in order, empty ones included. */
  virtio: VirtioMmioSavedState[];
}

/** Reasons the board cannot be snapshotted now (empty: it can). */
export function snapshotBlockers(board: VirtBoard): string[] {
  const out: string[] = [];
  if (board.pendingEvent) out.push(`the guest is in the middle of a ${board.pendingEvent.kind}`);
  for (const t of board.virtio) {
    const why = t.device?.snapshotBlocker?.() ?? "";
    if (why) out.push(why);
  }
  return out;
}

/**
 * The board's state. Call it with the VM paused and no device I/O in flight (await the devices'
 * idle()); with vCPU threads, after Vm.syncHarts() copied the threads' harts into board.harts.
 */
export function saveMachineState(board: VirtBoard): MachineSavedState {
  return {
    timerTicks: board.timer.now(),
    harts: board.harts.map((h) => h.saveState()),
    hartStates: board.hartStates.map((s) => s as number),
    plic: board.plic.saveState(),
    aclint: board.clint.saveState(),
    uart: board.uart.saveState(),
    rtc: board.rtc.saveState(),
    vmgenid: board.vmgenid.saveState(),
    virtio: board.virtio.map((t) => t.saveState()),
  };
}

function isRebasable(t: object): t is RebasableTimer {
  return typeof (t as { rebase?: unknown }).rebase === "function";
}

/**
 * Puts a saved state on a freshly built board of the same configuration whose RAM already holds the
 * snapshot's RAM. Translations are dropped, queues the driver had filled are served.
 */
export function restoreMachineState(board: VirtBoard, s: MachineSavedState): void {
  if (s.harts.length !== board.harts.length)
    throw new SnapshotError(`the snapshot has ${s.harts.length} harts, the machine ${board.harts.length}`);
  if (s.virtio.length !== board.virtio.length)
    throw new SnapshotError(`the snapshot has ${s.virtio.length} virtio slots, the machine ${board.virtio.length}`);
  if (!isRebasable(board.timer)) throw new SnapshotError("this machine's timer cannot be set (not the host timer)");
  board.timer.rebase(s.timerTicks);
  // Harts first: their saved mip bits match the PLIC's and ACLINT's saved outputs, and a device
  // whose line changes during its own restore (host input that arrived before it) then reaches a
  // hart through the PLIC as a normal transition instead of being overwritten.
  board.harts.forEach((h, i) => h.restoreState(s.harts[i]!));
  // Transports next: their reset drops interrupt lines, which the PLIC's saved levels then set again.
  board.virtio.forEach((t, i) => t.restoreState(s.virtio[i]!));
  board.plic.restoreState(s.plic);
  board.clint.restoreState(s.aclint);
  board.uart.restoreState(s.uart);
  board.rtc.restoreState(s.rtc);
  board.vmgenid.restoreState(s.vmgenid);
  s.hartStates.forEach((st, i) => (board.hartStates[i] = st as HartState));
  // vCPU threads start from these harts instead of booting (vcpu/VcpuSet.ts).
  board.resumeFromHarts = true;
  for (const d of board.translators) d.flushAll();
  board.pendingEvent = undefined;
  for (const t of board.virtio) t.kickQueues();
  // A restored machine is a new generation of the snapshot's (it may be one of many clones): a new
  // ID makes the guest reseed its CRNG (VmGenId.ts).
  board.vmgenid.regenerate(randomBytes(16));
}
