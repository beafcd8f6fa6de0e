// V8's tiering of the translated code, a per-process setting: for entry points only (the CLI's
// commands, the daemon's VM process, benchmarks), never called by library code.
//
// V8's dynamic tier-up recompiles hot translated functions with TurboFan on a background thread.
// Measured on an idle 2-core host (docs/DBT.md): it pays for long-running user programs (sha256sum of
// 30 MB under exec: 2.8 s against 4.6 s Liftoff-only; gzip of 32 MB: even) and costs a Linux boot
// dearly (36 s against 23 s: the boot runs 2 million translated instructions a few times each, and
// TurboFan compiles of these large functions fill the second core). So exec turns it on, with the
// tiering budget raised from V8's 1.8 MB so only really hot functions are recompiled, and VMs run
// Liftoff only.
import { setFlagsFromString } from "node:v8";

export interface WasmTiering {
  /** Let V8 recompile hot wasm with TurboFan (false: Liftoff only). */
  tierUp: boolean;
  /** With tierUp: V8's --wasm-tiering-budget (default 20,000,000). */
  tieringBudget?: number;
}

/** Sets V8's wasm tiering flags for this process (before the first translation is compiled). */
export function setWasmTiering(t: WasmTiering): void {
  if (!t.tierUp) {
    setFlagsFromString("--liftoff-only");
    return;
  }
  setFlagsFromString("--no-liftoff-only");
  setFlagsFromString(`--wasm-tiering-budget=${t.tieringBudget ?? 20_000_000}`);
}
