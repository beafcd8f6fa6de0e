// The page's ThreadClock (src/vmm/vcpu/ThreadClock.ts): performance.now() in nanoseconds. The page
// runs its harts on the VM worker's one thread, so one thread's clock is all it needs.
import type * as Host from "../../../vmm/vcpu/ThreadClock.js";

export const clockOrigin: typeof Host.clockOrigin = () => BigInt(Math.round(performance.now() * 1e6));

export const clockFrom: typeof Host.clockFrom = (origin, frequency) => {
  const t0 = Number(origin) / 1e6;
  const perMs = frequency / 1000;
  return { frequency, now: () => (performance.now() - t0) * perMs };
};
