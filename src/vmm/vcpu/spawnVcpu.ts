// Node's vCPU threads (the SpawnVcpu backend of MachineBackends.ts): one worker_threads worker per
// vCPU running VcpuWorker.ts. Host-specific: the page's build substitutes
// src/web/browser/host/spawnVcpu.ts (Web Workers; test/layering/BrowserCore.test.ts).
import { Worker } from "node:worker_threads";
import type { SpawnVcpu } from "../MachineBackends.js";
import type { VcpuMessage } from "./Vcpu.js";

export const spawnVcpu: SpawnVcpu = (init, events) => {
  const w = new Worker(new URL("./VcpuWorker.js", import.meta.url), { workerData: init });
  w.on("message", (m: VcpuMessage) => events.message(m));
  w.on("error", (e) => events.error(e));
  return { exited: new Promise((resolve) => w.once("exit", () => resolve())) };
};
