// A process's CPU time and resident memory from /proc (Linux), for benchmarks that measure VM
// processes they did not start themselves (a daemon's VM processes, restored clones).
import { readFileSync } from "node:fs";

/** user+sys CPU of process `pid` so far, in ms (/proc/PID/stat utime + stime, 10 ms ticks). */
export function cpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(f[11]) + Number(f[12])) * 10;
}

/** Resident set size of process `pid` now, in MiB (NaN if /proc does not say). */
export function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : NaN;
}
