// Typevisor's built-in SBI firmware: the kernel runs in S-mode and its `ecall`s (cause 9, "environment
// call from S-mode") exit the hart to the VMM, which serves them here as hypercalls — the
// para-virtual path. Implements the RISC-V Supervisor Binary Interface Specification 2.0:
//
//   §3  calling convention: a7 = extension id (EID), a6 = function id (FID), a0..a5 arguments;
//       returns a0 = error, a1 = value
//   §4  Base (EID 0x10)          §5 Legacy (EIDs 0x00..0x08; return in a0 only)
//   §6  TIME (0x54494D45)        §7 IPI (0x735049)          §8 RFENCE (0x52464E43)
//   §9  HSM (0x48534D)           §10 SRST (0x53525354)      §12 DBCN (0x4442434E)
//
// The VMM side of each call (console, timer, IPIs, TLB flushes, hart start/stop, reset) is behind
// the SbiPlatform interface so this file has no dependency on the hart engine or the devices.
import type { GuestMemory } from "../memory/GuestMemory.js";
import { gpa as asGpa } from "../memory/Address.js";

export const SBI_SUCCESS = 0n;
export const SBI_ERR_FAILED = -1n;
export const SBI_ERR_NOT_SUPPORTED = -2n;
export const SBI_ERR_INVALID_PARAM = -3n;
export const SBI_ERR_DENIED = -4n;
export const SBI_ERR_INVALID_ADDRESS = -5n;
export const SBI_ERR_ALREADY_AVAILABLE = -6n;
export const SBI_ERR_ALREADY_STARTED = -7n;
export const SBI_ERR_ALREADY_STOPPED = -8n;

export const EID_BASE = 0x10;
export const EID_TIME = 0x54494d45;
export const EID_IPI = 0x735049;
export const EID_RFENCE = 0x52464e43;
export const EID_HSM = 0x48534d;
export const EID_SRST = 0x53525354;
export const EID_DBCN = 0x4442434e;

/** SBI spec §9.1 hart states. */
export const enum HartState {
  Started = 0,
  Stopped = 1,
  StartPending = 2,
  StopPending = 3,
  Suspended = 4,
}

/** SBI spec §10: reset types. */
export const enum ResetType {
  Shutdown = 0,
  ColdReboot = 1,
  WarmReboot = 2,
}

/** Register access to the calling hart (a0..a7 are x10..x17). */
export interface SbiCaller {
  getX(i: number): bigint;
  setX(i: number, v: bigint): void;
}

/** What the SBI implementation needs from the machine. */
export interface SbiPlatform {
  readonly memory: GuestMemory;
  readonly hartCount: number;
  /** The harts have the hypervisor extension: RFENCE's remote_hfence_* calls are served (SBI §8.4-8.7). */
  readonly hypervisor?: boolean;
  /** Machine vendor/arch/impl ids reported by Base §4.8-4.10. */
  readonly mvendorid: bigint;
  readonly marchid: bigint;
  readonly mimpid: bigint;
  consoleWrite(bytes: Uint8Array): void;
  /** Up to `max` bytes of pending console input, or an empty array (never blocks). */
  consoleRead(max: number): Uint8Array;
  /** Programs hart `hart`'s supervisor timer to fire at mtime >= value, and clears a pending one. */
  setTimer(hart: number, value: bigint): void;
  /** Raises the supervisor software interrupt (SSIP) on hart `hart`. */
  sendIpi(hart: number): void;
  /** Legacy clear_ipi: clears SSIP on the calling hart. */
  clearIpi(hart: number): void;
  /** Remote fence on hart `hart`: "i" = fence.i, "vma" = sfence.vma (whole TLB is always correct). */
  remoteFence(hart: number, kind: "i" | "vma"): void;
  hartState(hart: number): HartState;
  /** Starts a stopped hart in S-mode at `start` with a0 = hartid, a1 = opaque (SBI §9.2). */
  hartStart(hart: number, start: bigint, opaque: bigint): void;
  /** Stops the calling hart (SBI §9.3). */
  hartStop(hart: number): void;
  /** Non-retentive suspend resumes at `resume` like a start; retentive = wfi (SBI §9.5). */
  hartSuspend(hart: number, type: number, resume: bigint, opaque: bigint): void;
  systemReset(type: ResetType, reason: number): void;
}

const NAMES: Record<number, { name: string; fns: string[] }> = {
  0x00: { name: "legacy", fns: ["set_timer"] },
  0x01: { name: "legacy", fns: ["", "console_putchar"] },
  0x02: { name: "legacy", fns: ["", "", "console_getchar"] },
  0x03: { name: "legacy", fns: ["", "", "", "clear_ipi"] },
  0x04: { name: "legacy", fns: ["", "", "", "", "send_ipi"] },
  0x05: { name: "legacy", fns: ["", "", "", "", "", "remote_fence_i"] },
  0x06: { name: "legacy", fns: ["", "", "", "", "", "", "remote_sfence_vma"] },
  0x07: { name: "legacy", fns: ["", "", "", "", "", "", "", "remote_sfence_vma_asid"] },
  0x08: { name: "legacy", fns: ["", "", "", "", "", "", "", "", "shutdown"] },
  [EID_BASE]: {
    name: "base",
    fns: [
      "get_spec_version",
      "get_impl_id",
      "get_impl_version",
      "probe_extension",
      "get_mvendorid",
      "get_marchid",
      "get_mimpid",
    ],
  },
  [EID_TIME]: { name: "time", fns: ["set_timer"] },
  [EID_IPI]: { name: "ipi", fns: ["send_ipi"] },
  [EID_RFENCE]: {
    name: "rfence",
    fns: [
      "remote_fence_i",
      "remote_sfence_vma",
      "remote_sfence_vma_asid",
      "remote_hfence_gvma_vmid",
      "remote_hfence_gvma",
      "remote_hfence_vvma_asid",
      "remote_hfence_vvma",
    ],
  },
  [EID_HSM]: { name: "hsm", fns: ["hart_start", "hart_stop", "hart_get_status", "hart_suspend"] },
  [EID_SRST]: { name: "srst", fns: ["system_reset"] },
  [EID_DBCN]: { name: "dbcn", fns: ["console_write", "console_read", "console_write_byte"] },
};

/** SBI specification version 2.0 (§4.1: major in bits 30:24, minor in 23:0). */
const SPEC_VERSION = (2n << 24n) | 0n;
/** Implementation id: not one of the registered ids (§4.2 lists 0..10); "Typevisor" chooses 0x7476 ("tv"). */
export const TYPEVISOR_SBI_IMPL_ID = 0x7476n;
/** Most bytes one DBCN console_write/console_read moves (§12.1 lets an implementation do less). */
export const DBCN_MAX_BYTES = 4096;

export class Sbi {
  /** Calls served, keyed "extension.function" (e.g. "time.set_timer"); the control plane reads this. */
  readonly calls = new Map<string, number>();

  constructor(private readonly platform: SbiPlatform) {}

  private count(eid: number, fid: number): void {
    // Keys come from a fixed set: a guest probing random EIDs/FIDs must not grow this map without bound.
    const e = NAMES[eid];
    const key = e ? `${e.name}.${e.fns[eid <= 8 ? eid : fid] || "unknown"}` : "unknown";
    this.calls.set(key, (this.calls.get(key) ?? 0) + 1);
  }

  /** Serves one ecall from S-mode on hart `hart`. The caller then advances the pc past the ecall. */
  handle(hart: number, regs: SbiCaller): void {
    const eid = Number(BigInt.asUintN(32, regs.getX(17)));
    const fid = Number(BigInt.asUintN(32, regs.getX(16)));
    this.count(eid, fid);
    if (eid <= 8) {
      // Legacy extensions (§5): the result goes in a0 only; a1 is preserved.
      regs.setX(10, this.legacy(hart, eid, regs));
      return;
    }
    const [err, value] = this.call(hart, eid, fid, regs);
    regs.setX(10, BigInt.asUintN(64, err));
    regs.setX(11, BigInt.asUintN(64, value));
  }

  private supported(eid: bigint): boolean {
    if (eid >= 0n && eid <= 8n) return true;
    const n = Number(eid);
    return (
      n === EID_BASE ||
      n === EID_TIME ||
      n === EID_IPI ||
      n === EID_RFENCE ||
      n === EID_HSM ||
      n === EID_SRST ||
      n === EID_DBCN
    );
  }

  /** The harts selected by (hart_mask, hart_mask_base) (§3.1); base = -1 means all harts. */
  private targets(mask: bigint, base: bigint): number[] | undefined {
    const n = this.platform.hartCount;
    if (BigInt.asIntN(64, base) === -1n) return Array.from({ length: n }, (_, i) => i);
    const out: number[] = [];
    for (let bit = 0; bit < 64; bit++) {
      if (((mask >> BigInt(bit)) & 1n) === 0n) continue;
      const h = base + BigInt(bit);
      if (h >= BigInt(n)) return undefined;
      out.push(Number(h));
    }
    return out;
  }

  private legacy(hart: number, eid: number, regs: SbiCaller): bigint {
    const p = this.platform;
    const a0 = regs.getX(10);
    switch (eid) {
      case 0x00:
        p.setTimer(hart, a0);
        return 0n;
      case 0x01:
        p.consoleWrite(Uint8Array.of(Number(a0 & 0xffn)));
        return 0n;
      case 0x02: {
        const b = p.consoleRead(1);
        return b.length ? BigInt(b[0]!) : BigInt.asUintN(64, -1n);
      }
      case 0x03:
        p.clearIpi(hart);
        return 0n;
      case 0x04:
      case 0x05:
      case 0x06:
      case 0x07: {
        // Legacy calls pass a pointer to the hart mask in S-mode virtual memory (§5.5); Linux only
        // uses them when the v0.2 extensions are missing, so treat the mask as "all harts".
        for (let h = 0; h < p.hartCount; h++) {
          if (eid === 0x04) p.sendIpi(h);
          else p.remoteFence(h, eid === 0x05 ? "i" : "vma");
        }
        return 0n;
      }
      case 0x08:
        p.systemReset(ResetType.Shutdown, 0);
        return 0n;
    }
    return BigInt.asUintN(64, SBI_ERR_NOT_SUPPORTED);
  }

  private call(hart: number, eid: number, fid: number, regs: SbiCaller): [bigint, bigint] {
    const p = this.platform;
    const a0 = regs.getX(10);
    const a1 = regs.getX(11);
    const a2 = regs.getX(12);
    switch (eid) {
      case EID_BASE:
        switch (fid) {
          case 0:
            return [SBI_SUCCESS, SPEC_VERSION];
          case 1:
            return [SBI_SUCCESS, TYPEVISOR_SBI_IMPL_ID];
          case 2:
            return [SBI_SUCCESS, 1n];
          case 3:
            return [SBI_SUCCESS, this.supported(a0) ? 1n : 0n];
          case 4:
            return [SBI_SUCCESS, p.mvendorid];
          case 5:
            return [SBI_SUCCESS, p.marchid];
          case 6:
            return [SBI_SUCCESS, p.mimpid];
        }
        break;
      case EID_TIME:
        if (fid === 0) {
          p.setTimer(hart, a0);
          return [SBI_SUCCESS, 0n];
        }
        break;
      case EID_IPI:
        if (fid === 0) {
          const t = this.targets(a0, a1);
          if (!t) return [SBI_ERR_INVALID_PARAM, 0n];
          for (const h of t) p.sendIpi(h);
          return [SBI_SUCCESS, 0n];
        }
        break;
      case EID_RFENCE:
        if (fid <= 2) {
          const t = this.targets(a0, a1);
          if (!t) return [SBI_ERR_INVALID_PARAM, 0n];
          for (const h of t) p.remoteFence(h, fid === 0 ? "i" : "vma");
          return [SBI_SUCCESS, 0n];
        }
        // remote_hfence_gvma(_vmid) / remote_hfence_vvma(_asid): a whole-TLB flush of the targets
        // covers every one of them (the hart's flushTlb drops G-stage and VS-stage entries too).
        if (fid <= 6 && p.hypervisor === true) {
          const t = this.targets(a0, a1);
          if (!t) return [SBI_ERR_INVALID_PARAM, 0n];
          for (const h of t) p.remoteFence(h, "vma");
          return [SBI_SUCCESS, 0n];
        }
        break; // hfence.* need the H extension
      case EID_HSM:
        return this.hsm(hart, fid, a0, a1, a2);
      case EID_SRST:
        if (fid === 0) {
          const type = Number(BigInt.asUintN(32, a0));
          const reason = Number(BigInt.asUintN(32, a1));
          // §10.1: reset types above 2 and reasons above 1 are reserved or platform-specific (none here).
          if (type > 2 || reason > 1) return [SBI_ERR_INVALID_PARAM, 0n];
          p.systemReset(type as ResetType, reason);
          return [SBI_SUCCESS, 0n];
        }
        break;
      case EID_DBCN:
        return this.dbcn(fid, a0, a1, a2);
    }
    return [SBI_ERR_NOT_SUPPORTED, 0n];
  }

  private hsm(hart: number, fid: number, a0: bigint, a1: bigint, a2: bigint): [bigint, bigint] {
    const p = this.platform;
    switch (fid) {
      case 0: {
        if (a0 >= BigInt(p.hartCount)) return [SBI_ERR_INVALID_PARAM, 0n];
        const target = Number(a0);
        const st = p.hartState(target);
        if (st !== HartState.Stopped) return [SBI_ERR_ALREADY_AVAILABLE, 0n];
        if (!p.memory.contains(asGpa(Number(a1)), 4)) return [SBI_ERR_INVALID_ADDRESS, 0n];
        p.hartStart(target, a1, a2);
        return [SBI_SUCCESS, 0n];
      }
      case 1:
        p.hartStop(hart);
        return [SBI_SUCCESS, 0n];
      case 2:
        if (a0 >= BigInt(p.hartCount)) return [SBI_ERR_INVALID_PARAM, 0n];
        return [SBI_SUCCESS, BigInt(p.hartState(Number(a0)))];
      case 3: {
        const type = BigInt.asUintN(32, a0);
        // §9.5: 0x00000000 default retentive, 0x80000000 default non-retentive.
        if (type !== 0n && type !== 0x80000000n) return [SBI_ERR_INVALID_PARAM, 0n];
        // Non-retentive suspend (resume at a1 with state lost) is not implemented; the DT advertises
        // no idle states, so Linux does not ask for it.
        if (type !== 0n) return [SBI_ERR_NOT_SUPPORTED, 0n];
        p.hartSuspend(hart, Number(type), a1, a2);
        return [SBI_SUCCESS, 0n];
      }
    }
    return [SBI_ERR_NOT_SUPPORTED, 0n];
  }

  /**
   * Debug console (§12). (num_bytes, base_addr_lo, base_addr_hi) name a buffer by physical address;
   * base_addr_hi holds the address bits above XLEN, so on RV64 it must be 0. The whole buffer must
   * lie in guest RAM (§3.2 shared memory requirements), else SBI_ERR_INVALID_PARAM. Both calls are
   * non-blocking and may transfer fewer bytes than asked (§12.1, §12.2): each call moves at most
   * DBCN_MAX_BYTES and returns the count, so a guest looping on a huge write cannot make the host
   * copy megabytes per call (issue 12); Linux's callers loop on the returned count.
   */
  private dbcn(fid: number, a0: bigint, a1: bigint, a2: bigint): [bigint, bigint] {
    const p = this.platform;
    if (fid === 2) {
      p.consoleWrite(Uint8Array.of(Number(a0 & 0xffn)));
      return [SBI_SUCCESS, 0n];
    }
    if (fid !== 0 && fid !== 1) return [SBI_ERR_NOT_SUPPORTED, 0n];
    const mem = p.memory;
    const numBytes = BigInt.asUintN(64, a0);
    const base = BigInt.asUintN(64, a1);
    if (
      BigInt.asUintN(64, a2) !== 0n ||
      numBytes > BigInt(mem.size) ||
      base < BigInt(mem.base) ||
      base + numBytes > BigInt(mem.end)
    ) {
      return [SBI_ERR_INVALID_PARAM, 0n];
    }
    const gpa = Number(base);
    const len = Math.min(Number(numBytes), DBCN_MAX_BYTES);
    if (len === 0) return [SBI_SUCCESS, 0n];
    if (fid === 0) {
      p.consoleWrite(mem.read(asGpa(gpa), len));
      return [SBI_SUCCESS, BigInt(len)];
    }
    const got = p.consoleRead(len);
    if (got.length) mem.write(asGpa(gpa), got.subarray(0, len));
    return [SBI_SUCCESS, BigInt(Math.min(got.length, len))];
  }
}
