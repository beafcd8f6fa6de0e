// Entry point of a vCPU worker thread (VcpuSet.ts starts one per hart): runs the hart until the VMM
// thread stops the VM, sending console output, events and statistics back as messages.
import { parentPort, workerData } from "node:worker_threads";
import { Vcpu, type VcpuInit, type VcpuMessage } from "./Vcpu.js";
import { setWasmTiering } from "../../dbt/WasmTiering.js";
import { SnapshotReader } from "../snapshot/SnapshotFile.js";

const port = parentPort;
if (port) {
  const init = workerData as VcpuInit;
  // V8's flags are the process's, but the optimizing tier's tier-up function is registered per thread
  // (module state, and the intrinsic's caller is a function of this thread's isolate): without it
  // hot units on vCPU threads stayed Liftoff code while one hart on the VMM thread got TurboFan.
  if (init.optimizingTier) setWasmTiering({ tierUp: false });
  const vcpu = new Vcpu(
    init,
    (m: VcpuMessage) => port.postMessage(m),
    (file, ram) => {
      // The same file the VMM thread restored from, opened again on this thread.
      const r = new SnapshotReader(file);
      const lazy = r.lazyRam(ram);
      if (!lazy) throw new Error(`snapshot '${file}': its RAM cannot be read page by page`);
      return { pageIn: lazy.pageIn, close: () => r.close() };
    },
  );
  vcpu.run();
}
