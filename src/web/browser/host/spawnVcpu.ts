// The page's vCPU threads (the SpawnVcpu backend of src/vmm/MachineBackends.ts; Node's is
// src/vmm/vcpu/spawnVcpu.ts on worker_threads): one dedicated Web Worker per vCPU running
// vcpu-worker.js (../vcpu-worker.ts), started from the VM worker. What differs from Node:
// - the worker's script is a file of the bundle beside vm-worker.js, found from this module's URL;
// - the shared WebAssembly.Memory and SharedArrayBuffers travel in a postMessage (structured clone
//   shares them within the page's agent cluster, which needs cross-origin isolation) instead of
//   workerData;
// - a Web Worker has no exit event: vcpu-worker.ts says "exited" when the run loop returns, and a
//   worker that fails (an error event) counts as ended, so VcpuSet.stop() never waits forever.
// Atomics.wait, which the vCPU's run loop and MMIO channel block on, is allowed in dedicated
// workers; the VM worker serves the MMIO with Atomics.waitAsync (vm-worker.ts runs every hart on
// its own thread in a browser without it).
import type * as Host from "../../../vmm/vcpu/spawnVcpu.js";
import type { VcpuMessage } from "../../../vmm/vcpu/Vcpu.js";

/** What vcpu-worker.ts sends: the vCPU's messages, and "exited" after its run loop returned. */
export type VcpuWorkerMessage = VcpuMessage | { kind: "exited" };

export const spawnVcpu: typeof Host.spawnVcpu = (init, events) => {
  const w = new Worker(new URL("./vcpu-worker.js", import.meta.url), { type: "module", name: `vcpu${init.hart}` });
  let ended!: () => void;
  const exited = new Promise<void>((resolve) => (ended = resolve));
  const end = () => {
    w.terminate();
    ended();
  };
  w.onmessage = (ev: MessageEvent<VcpuWorkerMessage>) => {
    if (ev.data.kind === "exited") end();
    else events.message(ev.data);
  };
  w.onerror = (ev) => {
    ev.preventDefault();
    events.error(new Error(ev.message || `the vCPU ${init.hart} worker failed to start (vcpu-worker.js)`));
    end();
  };
  w.onmessageerror = () => {
    events.error(new Error(`vCPU ${init.hart}: a message could not be received`));
  };
  w.postMessage(init);
  return { exited };
};
