// The clock the VMM thread and every vCPU thread read mtime from: nanoseconds of one process-wide
// monotonic clock (process.hrtime), the same in every worker thread, unlike performance.now(),
// whose origin is each thread's start. Host-specific: the page's build substitutes
// src/web/browser/host/ThreadClock.ts (test/layering/BrowserCore.test.ts).

/** Now, as the origin of a machine's mtime. */
export function clockOrigin(): bigint {
  return process.hrtime.bigint();
}

/** One mtime for every thread: ticks of `frequency` Hz since `origin` (clockOrigin()). */
export function clockFrom(origin: bigint, frequency: number): { frequency: number; now(): number } {
  const div = 1e9 / frequency;
  return { frequency, now: () => Number(process.hrtime.bigint() - origin) / div };
}
