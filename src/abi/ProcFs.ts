// A few /proc files for guests under --root (where the host's /proc is out of reach): the ones
// scripts and libcs read. Contents follow proc(5) formats; each open takes a snapshot.
import type { Process } from "./Process.js";
import type { Kernel } from "./Kernel.js";
import { PAGE_SIZE } from "./FrameAllocator.js";
import { PROT_EXEC, PROT_READ, PROT_WRITE } from "./AddressSpace.js";

/** The contents of /proc/PATH for process p, or undefined if we do not provide that file. */
export function procFile(k: Kernel, p: Process, guestPath: string): string | undefined {
  const m = /^\/proc\/(self|\d+)\/(.+)$/.exec(guestPath);
  if (m) {
    const target = m[1] === "self" ? p : k.procs.get(Number(m[1]));
    if (!target) return undefined;
    switch (m[2]) {
      case "maps":
        return (
          target.space.vmas
            .map((v) => {
              const perms =
                (v.prot & PROT_READ ? "r" : "-") +
                (v.prot & PROT_WRITE ? "w" : "-") +
                (v.prot & PROT_EXEC ? "x" : "-") +
                "p";
              return `${v.start.toString(16).padStart(8, "0")}-${v.end.toString(16).padStart(8, "0")} ${perms} 00000000 00:00 0 ${v.name ? " ".repeat(10) + v.name : ""}`.trimEnd();
            })
            .join("\n") + "\n"
        );
      case "comm":
        return target.comm + "\n";
      case "status":
        return `Name:\t${target.comm}\nState:\tR (running)\nPid:\t${target.pid}\nPPid:\t${target.parent?.pid ?? 0}\nUid:\t${k.uid}\t${k.uid}\t${k.uid}\t${k.uid}\nGid:\t${k.gid}\t${k.gid}\t${k.gid}\t${k.gid}\nVmRSS:\t${target.space.residentPages() * 4} kB\n`;
      default:
        return undefined;
    }
  }
  const up = (performance.now() - k.bootMs) / 1000;
  const fr = k.frames;
  switch (guestPath) {
    case "/proc/uptime":
      return `${up.toFixed(2)} ${up.toFixed(2)}\n`;
    case "/proc/meminfo": {
      const kb = (pages: number) => String(Math.floor((pages * PAGE_SIZE) / 1024)).padStart(8) + " kB";
      return `MemTotal:       ${kb(fr.total)}\nMemFree:        ${kb(fr.total - fr.inUse)}\nMemAvailable:   ${kb(fr.total - fr.inUse)}\n`;
    }
    case "/proc/cpuinfo":
      return "processor\t: 0\nhart\t\t: 0\nisa\t\t: rv64imafdc_zicsr_zifencei_zba_zbb_zbs\nmmu\t\t: sv39\n\n";
    case "/proc/loadavg":
      return `0.00 0.00 0.00 1/${k.procs.size} ${p.pid}\n`;
    default:
      return undefined;
  }
}
