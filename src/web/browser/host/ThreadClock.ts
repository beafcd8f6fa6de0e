// The page's ThreadClock (src/vmm/vcpu/ThreadClock.ts): the VM worker and every vCPU worker read
// mtime from one clock. performance.now() counts from each worker's own start, so the clock is
// performance.timeOrigin + performance.now() (High Resolution Time §4: timeOrigin is the same
// timeline for every global of the page's agent cluster), with the per-worker offset taken once,
// so the running value keeps now()'s full precision.
import type * as Host from "../../../vmm/vcpu/ThreadClock.js";

/** Milliseconds on the page's shared timeline. */
const nowMs = () => performance.timeOrigin + performance.now();

export const clockOrigin: typeof Host.clockOrigin = () => BigInt(Math.round(nowMs() * 1e6));

export const clockFrom: typeof Host.clockFrom = (origin, frequency) => {
  // origin in ms on the shared timeline, as an offset from this worker's performance.now() origin.
  const offsetMs = performance.timeOrigin - Number(origin) / 1e6;
  const perMs = frequency / 1000;
  return { frequency, now: () => (performance.now() + offsetMs) * perMs };
};
