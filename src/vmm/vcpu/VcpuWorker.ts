// Entry point of a vCPU worker thread (VcpuSet.ts starts one per hart): runs the hart until the VMM
// thread stops the VM, sending console output, events and statistics back as messages.
import { parentPort, workerData } from "node:worker_threads";
import { Vcpu, type VcpuInit, type VcpuMessage } from "./Vcpu.js";

const port = parentPort;
if (port) {
  const vcpu = new Vcpu(workerData as VcpuInit, (m: VcpuMessage) => port.postMessage(m));
  vcpu.run();
}
