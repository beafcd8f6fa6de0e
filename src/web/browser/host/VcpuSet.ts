// The page's VcpuSet (src/vmm/vcpu/VcpuSet.ts starts vCPU threads with worker_threads): the page
// runs every hart on the VM worker's thread (the Vm's single-thread loop), so a machine that asks
// for vCPU threads gets a clear error instead. Web Workers over the same shared memory would be
// the page's vCPU threads; not done yet (docs/WEB.md).
import type * as Host from "../../../vmm/vcpu/VcpuSet.js";

class PageVcpuSet {
  constructor() {
    throw new Error(
      "vCPU threads are not available in the page yet: the page runs all harts on one thread (give cpus: 1, or vcpuThreads: false)",
    );
  }
}

export const VcpuSet = PageVcpuSet as unknown as typeof Host.VcpuSet;
