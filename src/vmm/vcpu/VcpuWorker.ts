// Entry point of a vCPU worker thread (VcpuSet.ts starts one per hart): runs the hart until the VMM
// thread stops the VM, sending console output, events and statistics back as messages.
import { parentPort, workerData } from "node:worker_threads";
import { Vcpu, type VcpuInit, type VcpuMessage } from "./Vcpu.js";
import { setWasmTiering } from "../../dbt/WasmTiering.js";

const port = parentPort;
if (port) {
  const init = workerData as VcpuInit;
  // V8's flags are the process's, but the optimizing tier's compiler is registered per thread (module
  // state): without it hot units on vCPU threads stayed Liftoff code while one hart on the VMM
  // thread got TurboFan. (Its compile switches the process's flags for a moment, so a unit another
  // thread compiles then may come out of TurboFan too: slower to compile, the same code.)
  if (init.optimizingTier) setWasmTiering({ tierUp: false });
  const vcpu = new Vcpu(init, (m: VcpuMessage) => port.postMessage(m));
  vcpu.run();
}
