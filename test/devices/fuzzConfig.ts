// Run count and seed for the device/SBI property-based fuzz tests. CI uses the defaults (a fixed
// seed, a bounded count: a few seconds per file); a longer run (docs/TESTING.md) multiplies them:
//   DEVICE_FUZZ_RUNS=50 DEVICE_FUZZ_SEED=7 node --test dist/test/devices/*.fuzz.test.js dist/test/vmm/Sbi.fuzz.test.js
export const FUZZ_SEED = Number(process.env["DEVICE_FUZZ_SEED"] ?? 20261204);
const SCALE = Number(process.env["DEVICE_FUZZ_RUNS"] ?? 1);

/** fast-check parameters: `base` runs in CI, times DEVICE_FUZZ_RUNS in a long run. */
export function fuzzParams(base: number): { seed: number; numRuns: number; includeErrorInReport: true } {
  return { seed: FUZZ_SEED, numRuns: Math.max(1, Math.round(base * SCALE)), includeErrorInReport: true };
}
