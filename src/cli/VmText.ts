// Human-readable forms of what the control plane returns for one VM: `vm stats` as a short
// report (the API's JSON stays available with --json) and `vm logs` with terminal escape
// sequences removed (--raw keeps them), so a log can be read in a pager or a file.
import type { VmProcessStats } from "../control/VmProtocol.js";

const MiB = 2 ** 20;

/** "a 3, b 2" for the non-zero counters of a record, largest first; "-" when none. */
function counters(rec: Record<string, number> | undefined): string {
  if (rec === undefined) return "-";
  const items = Object.entries(rec)
    .filter(([, n]) => n !== 0)
    .sort((a, b) => b[1] - a[1]);
  return items.length === 0 ? "-" : items.map(([k, n]) => `${k} ${n}`).join(", ");
}

function count(n: number): string {
  return n >= 1e9 ? `${(n / 1e9).toFixed(2)} G` : n >= 1e6 ? `${(n / 1e6).toFixed(1)} M` : String(n);
}

/** The `vm stats` report: one labelled line per group, then a line per vCPU when it ran on threads. */
export function formatVmStats(s: VmProcessStats): string {
  const rows: [string, string][] = [
    ["engine", s.engine],
    ["instructions", `${count(s.instructions)} in ${s.wallSeconds.toFixed(1)} s (${s.mips.toFixed(1)} MIPS)`],
    ["reboots", String(s.reboots)],
    ["memory", `guest ${(s.memoryBytes / MiB).toFixed(0)} MiB, process RSS ${(s.rssBytes / MiB).toFixed(0)} MiB`],
    ["console", `${s.console.txBytes} bytes out, ${s.console.droppedBytes} dropped`],
  ];
  if (s.net !== undefined)
    rows.push(["network", `${s.net.txFrames} frames out, ${s.net.rxFrames} in, ${s.net.rxDropped} dropped`]);
  rows.push(
    ["exits", counters(s.exits)],
    ["exceptions", counters(s.exceptions)],
    ["interrupts", counters(s.interrupts)],
    ["SBI calls", counters(s.sbiCalls)],
  );
  if (s.hypervisor !== undefined) {
    const h = s.hypervisor;
    rows.push([
      "hypervisor",
      `world switches ${h.vmEntries} in / ${h.vmExits} out, G-stage faults ${h.guestPageFaults}, virtual-instruction traps ${h.virtualInsns}`,
    ]);
  }
  const w = Math.max(...rows.map(([k]) => k.length));
  let text = `pid ${s.pid}\n` + rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join("\n") + "\n";
  for (const v of s.vcpus ?? [])
    text +=
      `vCPU ${v.hart}: ${count(v.instructions)} instructions, running ${v.runningSeconds.toFixed(1)} s, ` +
      `waiting ${v.waitingSeconds.toFixed(1)} s, MMIO ${v.mmio}, exits ${counters(v.exits)}\n`;
  return text;
}

// ECMA-48: CSI (ESC [ params intermediates final), OSC/DCS/APC/PM/SOS strings ended by BEL or
// ST (ESC \), and ECMA-35 escapes (ESC, intermediates 0x20-0x2f, a final byte: ESC ( B, ESC 7).
const ESCAPES =
  /\x1b\[[0-?]*[ -/]*[@-~]|\x1b[\]P^_X][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[ -/]*[0-~]|\x9b[0-?]*[ -/]*[@-~]/g;
// Other C0 controls except tab and newline; a carriage return before a newline is dropped.
const CONTROLS = /[\x00-\x08\x0b-\x1f\x7f]/g;

/** Console output as plain text: escape sequences and control characters removed, CRLF -> LF. */
export function stripTerminalEscapes(text: string): string {
  return text.replace(ESCAPES, "").replace(/\r+\n/g, "\n").replace(CONTROLS, "");
}
