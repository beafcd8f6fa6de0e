// A fake machine behind the SBI: records what each call asks of the platform.
import { GuestMemory } from "../../src/memory/GuestMemory.js";
import { HartState, Sbi, type SbiPlatform } from "../../src/vmm/Sbi.js";

export const SBI_RAM_BASE = 0x80000000;
export const SBI_RAM_SIZE = 1 << 20;
const SENTINEL = 0xa5;

export function fakeMachine(harts = 2, hypervisor = false) {
  const log: string[] = [];
  const out: number[] = [];
  const input = [0x41, 0x42];
  const states = Array.from({ length: harts }, (_, i) => (i === 0 ? HartState.Started : HartState.Stopped));
  // The bytes after RAM are a sentinel, so a test can tell that nothing wrote outside guest RAM.
  const memory = new GuestMemory({ base: SBI_RAM_BASE, size: SBI_RAM_SIZE, engineBytes: 65536, shared: false });
  new Uint8Array(memory.buffer, memory.engineOffset, memory.engineBytes).fill(SENTINEL);
  const sentinelIntact = () =>
    new Uint8Array(memory.buffer, memory.engineOffset, memory.engineBytes).every((b) => b === SENTINEL);
  const platform: SbiPlatform = {
    memory,
    hartCount: harts,
    hypervisor,
    mvendorid: 0n,
    marchid: 0n,
    mimpid: 0n,
    consoleWrite: (b) => out.push(...b),
    consoleRead: (max) => Uint8Array.from(input.splice(0, max)),
    setTimer: (h, v) => log.push(`timer ${h} ${v}`),
    sendIpi: (h) => log.push(`ipi ${h}`),
    clearIpi: (h) => log.push(`clear ${h}`),
    remoteFence: (h, k) => log.push(`fence ${h} ${k}`),
    hartState: (h) => states[h]!,
    hartStart: (h, s, o) => {
      states[h] = HartState.Started;
      log.push(`start ${h} 0x${s.toString(16)} ${o}`);
    },
    hartStop: (h) => {
      states[h] = HartState.Stopped;
      log.push(`stop ${h}`);
    },
    hartSuspend: (h, t) => log.push(`suspend ${h} ${t}`),
    systemReset: (t, r) => log.push(`reset ${t} ${r}`),
  };
  const sbi = new Sbi(platform);
  const x = new BigUint64Array(32);
  const regs = {
    getX: (i: number) => x[i]!,
    setX: (i: number, v: bigint) => {
      x[i] = v;
    },
  };
  const call = (eid: number, fid: number, ...args: bigint[]) => {
    x[17] = BigInt(eid);
    x[16] = BigInt(fid);
    args.forEach((a, i) => (x[10 + i] = BigInt.asUintN(64, a)));
    sbi.handle(0, regs);
    return { err: BigInt.asIntN(64, x[10]!), value: x[11]! };
  };
  return { sbi, call, log, out, input, memory, x, regs, states, sentinelIntact };
}
