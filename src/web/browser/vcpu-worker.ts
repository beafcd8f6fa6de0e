// A vCPU thread in the page (host/spawnVcpu.ts starts one per hart from the VM worker): runs the
// hart (src/vmm/vcpu/Vcpu.ts, the same code as Node's VcpuWorker.ts) until the VM stops, sending
// console output, events and statistics back, then says "exited". The first message is the
// VcpuInit, with the guest's shared memory.
import { Vcpu, type VcpuInit, type VcpuMessage } from "../../vmm/vcpu/Vcpu.js";
import type { VcpuWorkerMessage } from "./host/spawnVcpu.js";

const send = (m: VcpuWorkerMessage) => postMessage(m);

onmessage = (ev: MessageEvent<VcpuInit>) => {
  onmessage = null;
  try {
    new Vcpu(ev.data, (m: VcpuMessage) => send(m)).run();
  } catch (e) {
    const err = e as Error;
    send({ kind: "error", message: `vCPU ${ev.data.hart}: ${err.stack ?? err.message}` });
  }
  send({ kind: "exited" });
  close();
};
