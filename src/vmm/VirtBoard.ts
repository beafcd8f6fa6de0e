// The RISC-V `virt` board: guest RAM at 0x80000000, harts, PLIC, CLINT, 16550 UART, virtio-mmio
// slots, goldfish RTC and the syscon poweroff/reboot device at QEMU virt's addresses
// (VirtDeviceTree.ts has the map), plus the two boot paths:
//
//  - built-in SBI (default, para-virtualization): the harts start in S-mode at the kernel entry with
//    a0 = hartid, a1 = DTB address (Linux Documentation/arch/riscv/boot.rst), the M-mode CSRs set up
//    as a firmware would, and ecall-from-S exits to the VMM, which serves it (Sbi.ts);
//  - --bios FILE (full virtualization): the firmware runs in emulated M-mode from 0x80000000 with
//    a0 = hartid, a1 = DTB, a2 = &fw_dynamic_info (OpenSBI docs/firmware/fw_dynamic.md), and the
//    kernel's ecalls go to the firmware like on hardware.
import { Hart, PRIV_M, type MachineTimer } from "../riscv/Hart.js";
import { CSR_MIP, CSR_STIMECMP } from "../riscv/Csr.js";
import { Irq } from "../riscv/Trap.js";
import { GuestMemory } from "../memory/GuestMemory.js";
import { IoBus } from "../memory/IoBus.js";
import type { IrqLine } from "../memory/IrqLine.js";
import { Uart16550 } from "../devices/Uart16550.js";
import type { CharBackend } from "../devices/chardev/CharBackend.js";
import { Plic } from "../devices/Plic.js";
import { Aclint } from "../devices/Aclint.js";
import { GoldfishRtc } from "../devices/GoldfishRtc.js";
import { Syscon } from "../devices/Syscon.js";
import { VmGenId } from "../devices/VmGenId.js";
import { VirtioMmio } from "../devices/virtio/VirtioMmio.js";
import { VirtioConsole } from "../devices/virtio/VirtioConsole.js";
import { VirtioRng } from "../devices/virtio/VirtioRng.js";
import type { VirtioDevice } from "../devices/virtio/VirtioDevice.js";
import { loadKernel } from "../boot/LinuxImage.js";
import { VIRT, virtDeviceTree } from "./VirtDeviceTree.js";
import {
  DTB_REGION,
  placementOf,
  planVirtBoot,
  type NamedBytes,
  type VirtBootLayout,
  type VirtBootPlacement,
} from "./VirtLayout.js";
import { HartState, ResetType, Sbi, type SbiPlatform } from "./Sbi.js";
import { DEFAULT_ENGINE, engineBytes, useEngine, type EngineName } from "../dbt/Engine.js";
import type { DbtOptions } from "../dbt/Dbt.js";
import type { Dbt } from "../dbt/Dbt.js";
import { gpa } from "../memory/Address.js";
import { enterSupervisor } from "./HartSetup.js";

/** The machine as configured by the user (the CLI's flags, or the control plane's VM spec). */
export interface VirtMachineConfig {
  memory: number;
  cpus: number;
  kernel?: NamedBytes;
  initrd?: NamedBytes;
  bios?: NamedBytes;
  append: string;
  /** CPU engine of every hart (--engine; default DEFAULT_ENGINE of src/dbt/Engine.ts). */
  engine?: EngineName;
  /** Options of the translator (--engine dbt): hot threshold, debugging knobs (src/dbt/Dbt.ts). */
  engineOptions?: DbtOptions;
  /**
   * The harts implement the hypervisor extension (misa.H, "h" in the device tree): the guest
   * kernel can run guests of its own with KVM (src/riscv/Hypervisor.ts, docs/HYPERVISOR.md).
   * Default true; false gives RV64GC harts without H.
   */
  hypervisor?: boolean;
  /**
   * Each hart on its own host thread (src/vmm/vcpu), or all harts round-robin on the VMM thread
   * (deterministic slice order). Default: threads when there is more than one hart.
   */
  vcpuThreads?: boolean;
}

/** Every virtio-mmio slot is mapped and described, populated or not (as QEMU's virt board does). */
const ALL_VIRTIO_SLOTS = Array.from({ length: VIRT.virtio.slots }, (_, i) => i);

/** The DTB `run` would build for this configuration (used by `typevisor dtb`). */
export function buildVirtDtb(cfg: VirtMachineConfig, rngSeed?: Uint8Array): Uint8Array {
  let initrd: { start: number; end: number } | undefined;
  if (cfg.kernel) initrd = planVirtBoot(cfg.memory, cfg.kernel, cfg.initrd, cfg.bios).initrd;
  else if (cfg.initrd) throw new Error("an initramfs needs a kernel to be placed after: give --kernel too");
  return virtDeviceTree({
    memory: cfg.memory,
    cpus: cfg.cpus,
    bootargs: cfg.append,
    initrd,
    virtioSlots: ALL_VIRTIO_SLOTS,
    rngSeed,
    hypervisor: cfg.hypervisor ?? true,
  }).toDtb();
}

/** Why the machine stopped running. */
export type BoardEvent = { kind: "poweroff"; code: number } | { kind: "reboot" };

export interface VirtBoardOptions {
  config: VirtMachineConfig;
  /** Device factories for virtio-mmio slots 0.. in order (the machine builder's order: disks, NICs). */
  virtio?: ((memory: GuestMemory) => VirtioDevice)[];
  /**
   * The console: the 16550 UART's backend, also used for the SBI debug console's output (earlycon=sbi).
   * SBI console reads return nothing: input belongs to the UART, which the kernel uses once up.
   */
  console: CharBackend;
  timer?: MachineTimer;
  /** Add a virtio-console (hvc0) writing to `console` (default true). */
  hvc?: boolean;
  /** hvc0's initial terminal size (VIRTIO_CONSOLE_F_SIZE); then follow it with `hvc.resize()`. */
  hvcSize?: { cols: number; rows: number };
  /** Add a virtio-rng (default true). */
  rng?: boolean;
  /** The harts run in vCPU worker threads (src/vmm/vcpu); this thread keeps the devices. */
  vcpuThreads?: boolean;
  /** Called (from inside a hart's run) when the guest asks for poweroff or reboot. */
  onEvent?: (ev: BoardEvent) => void;
  /**
   * The board's RAM will be replaced by a snapshot's or a migrating VM's: the first reset leaves it
   * zero instead of loading the kernel, initramfs and device tree (faster restores, and RAM pages the
   * snapshot does not hold are never touched, so clones stay small).
   */
  restoring?: boolean;
}

/** A machine timer a snapshot restore can set: it then counts on from the saved value. */
export interface RebasableTimer extends MachineTimer {
  rebase(ticks: number): void;
}

/** A monotonic 10 MHz timebase from the host clock. */
export function hostTimer(frequency: number = VIRT.timebase): RebasableTimer {
  // performance.now(): monotonic milliseconds with a fraction (microseconds or finer under Node;
  // 5 us in a cross-origin isolated page), the same clock in Node and the browser.
  let t0 = performance.now();
  const perMs = frequency / 1000;
  return {
    frequency,
    now: () => (performance.now() - t0) * perMs,
    rebase(ticks: number) {
      t0 = performance.now() - ticks / perMs;
    },
  };
}

export class VirtBoard {
  readonly memory: GuestMemory;
  readonly bus = new IoBus("mmio");
  readonly harts: Hart[] = [];
  readonly hartStates: HartState[] = [];
  readonly plic: Plic;
  readonly clint: Aclint;
  readonly rtc: GoldfishRtc;
  readonly syscon: Syscon;
  readonly uart: Uart16550;
  /** The VM generation ID (a restore of a snapshot changes it, so the guest reseeds its RNG). */
  readonly vmgenid: VmGenId;
  /** hvc0, when the board has one. */
  hvc: VirtioConsole | undefined;
  readonly virtio: VirtioMmio[] = [];
  readonly sbi: Sbi;
  readonly timer: MachineTimer;
  /** The boot plan with the kernel's bytes, from construction until the first load puts them in RAM. */
  private bootPlan: VirtBootLayout | undefined;
  private bootPlacement: VirtBootPlacement | undefined;
  /**
   * Where the kernel, initramfs, firmware and DTB go. A board built for a restore plans it only
   * when it needs it (a reboot, vCPU threads): the restore replaces RAM, and not reading the kernel
   * and initramfs saves a restore their reading and their memory (snapshotSpec reads them lazily).
   */
  get layout(): VirtBootPlacement {
    if (this.bootPlacement) return this.bootPlacement;
    const planned = this.bootPlan === undefined;
    this.bootPlacement = placementOf(this.bootPlan ?? this.planBoot());
    if (planned) this.releaseBootFiles();
    return this.bootPlacement;
  }
  private planBoot(): VirtBootLayout {
    const cfg = this.config;
    return planVirtBoot(cfg.memory, cfg.kernel!, cfg.initrd, cfg.bios);
  }
  /**
   * The kernel, initramfs and firmware are in RAM: their holders may drop them (a file is read again
   * at a reboot, src/vmm/BootFile.ts); ~45 MB of a Debian boot's peak RSS (docs/DBT.md "Session 6: RSS").
   */
  private releaseBootFiles(): void {
    const cfg = this.config;
    cfg.kernel?.release?.();
    cfg.initrd?.release?.();
    cfg.bios?.release?.();
  }
  readonly config: VirtMachineConfig;
  readonly builtinSbi: boolean;
  readonly engine: EngineName;
  private readonly engineOptions: DbtOptions;
  /** The harts run in vCPU worker threads (VirtBoardOptions.vcpuThreads); this.harts only hold boot state. */
  get vcpuThreads(): boolean {
    return this.opts.vcpuThreads === true;
  }
  /** reset() calls so far (the first one finds RAM zeroed already). */
  private resets = 0;
  /** The translator of each hart (index = hart id) with --engine dbt; empty with the interpreter. */
  readonly translators: Dbt[] = [];
  dtb: Uint8Array = new Uint8Array(0);
  /** Set by poweroff/reboot; the run loop reads it after the hart returns Halt. */
  pendingEvent: BoardEvent | undefined;
  /**
   * Where device interrupt lines (PLIC contexts, CLINT msip) go instead of this thread's harts: set
   * when the harts run in vCPU worker threads (vcpu/VcpuSet.ts delivers them through shared memory).
   */
  irqSink: ((hart: number, bit: number, level: boolean) => void) | undefined;
  /** Called when a device raises an interrupt, so an idle run loop wakes up. */
  wake: () => void = () => {};
  /**
   * this.harts hold a restored state (restoreMachineState) that the vCPU threads start from instead
   * of booting (vcpu/VcpuSet.ts takes it and clears this); a reset clears it.
   */
  resumeFromHarts = false;

  constructor(private readonly opts: VirtBoardOptions) {
    const cfg = opts.config;
    this.config = cfg;
    if (!cfg.kernel) throw new Error("the virt board needs a kernel");
    if (!opts.restoring) this.bootPlan = this.planBoot();
    this.builtinSbi = !cfg.bios;
    this.timer = opts.timer ?? hostTimer();
    this.engine = cfg.engine ?? DEFAULT_ENGINE;
    this.engineOptions = cfg.engineOptions ?? {};
    // The translator keeps each hart's registers, TLB mirrors and jump cache in its own slot of the
    // engine area after RAM (indexed by hart id), so one GuestMemory serves every translating hart.
    this.memory = new GuestMemory({
      base: VIRT.dram.base,
      size: cfg.memory,
      engineBytes: engineBytes(this.engine, cfg.cpus),
    });

    // PLIC contexts: 2h = hart h M-mode (MEIP), 2h+1 = S-mode (SEIP).
    const contexts: ((level: boolean) => void)[] = [];
    for (let h = 0; h < cfg.cpus; h++) {
      contexts.push((l) => this.irq(h, Irq.MEI, l));
      contexts.push((l) => this.irq(h, Irq.SEI, l));
    }
    this.plic = new Plic(VIRT.plic.ndev, contexts);
    this.clint = new Aclint(
      this.timer,
      Array.from({ length: cfg.cpus }, (_, h) => ({
        setMsip: (l: boolean) => this.irq(h, Irq.MSI, l),
        getMtimecmp: () => this.harts[h]!.mtimecmp,
        setMtimecmp: (v: bigint) => {
          this.harts[h]!.mtimecmp = v;
          this.wake();
        },
      })),
    );
    this.rtc = new GoldfishRtc(this.plic.irqLine(VIRT.rtc.irq));
    this.syscon = new Syscon({
      powerOff: (code) => this.event({ kind: "poweroff", code }),
      reset: () => this.event({ kind: "reboot" }),
    });
    this.bus.map(VIRT.syscon.base, VIRT.syscon.size, this.syscon);
    this.bus.map(VIRT.rtc.base, VIRT.rtc.size, this.rtc);
    this.bus.map(VIRT.clint.base, VIRT.clint.size, this.clint);
    this.bus.map(VIRT.plic.base, VIRT.plic.size, this.plic);
    this.vmgenid = new VmGenId(this.wakingLine(VIRT.vmgenid.irq), crypto.getRandomValues(new Uint8Array(16)));
    this.bus.map(VIRT.vmgenid.base, VIRT.vmgenid.size, this.vmgenid);
    this.uart = new Uart16550(this.wakingLine(VIRT.uart0.irq), opts.console);
    this.bus.map(VIRT.uart0.base, VIRT.uart0.size, this.uart);
    // After the user's devices (disks: /dev/vda... in order): hvc0, writing to the same console as the
    // UART (input stays with the UART, the login console), and an entropy source for /dev/hwrng.
    const hvcOut: CharBackend = {
      write: (b) => {
        this.uart.flushTx();
        opts.console.write(b);
      },
      attach: () => {},
      pause: () => {},
      resume: () => {},
      close: async () => {},
    };
    const makers = [...(opts.virtio ?? [])];
    if (opts.hvc !== false)
      makers.push((m) => (this.hvc = new VirtioConsole(m, [{ backend: hvcOut }], { size: opts.hvcSize })));
    if (opts.rng !== false) makers.push((m) => new VirtioRng(m));
    if (makers.length > VIRT.virtio.slots) {
      throw new Error(
        `${makers.length} virtio devices requested but the virt board has ${VIRT.virtio.slots} virtio-mmio slots (give fewer --disk/--net)`,
      );
    }
    // All eight slots are mapped; the ones without a device read DeviceID 0, which drivers skip
    // (virtio 1.2 §4.2.3.1.1), so the device tree never depends on how many devices there are.
    for (const slot of ALL_VIRTIO_SLOTS) {
      const make = makers[slot];
      const t = new VirtioMmio(
        this.memory,
        this.wakingLine(VIRT.virtio.firstIrq + slot),
        make ? make(this.memory) : null,
      );
      this.virtio.push(t);
      this.bus.map(VIRT.virtio.base + slot * VIRT.virtio.stride, VIRT.virtio.size, t);
    }

    const board = this;
    const platform: SbiPlatform = {
      memory: this.memory,
      hartCount: cfg.cpus,
      hypervisor: cfg.hypervisor ?? true,
      mvendorid: 0n,
      marchid: 0n,
      mimpid: 0n,
      consoleWrite: (b) => {
        this.uart.flushTx(); // keep SBI and UART output in order
        opts.console.write(b);
      },
      consoleRead: () => new Uint8Array(0),
      setTimer(h, value) {
        // With Sstc the supervisor timer is stimecmp (Sstc spec §1): writing it also clears STIP
        // when the new deadline is in the future, exactly the SBI set_timer semantics (SBI §6.1).
        board.harts[h]!.writeCsr(CSR_STIMECMP, value);
        board.wake();
      },
      sendIpi(h) {
        board.setSsip(h, true);
      },
      clearIpi(h) {
        board.setSsip(h, false);
      },
      remoteFence(h) {
        board.harts[h]!.flushTlb();
      },
      hartState: (h) => this.hartStates[h]!,
      hartStart(h, start, opaque) {
        board.startHartS(h, start, opaque);
      },
      hartStop(h) {
        board.hartStates[h] = HartState.Stopped;
        board.harts[h]!.requestExit();
      },
      hartSuspend() {
        // Retentive suspend behaves as wfi: the run loop idles the hart until an interrupt.
      },
      systemReset(type: ResetType, reason: number) {
        board.event(
          type === ResetType.Shutdown ? { kind: "poweroff", code: reason === 0 ? 0 : 1 } : { kind: "reboot" },
        );
      },
    };
    this.sbi = new Sbi(platform);
    this.reset();
  }

  /** An IrqLine to the PLIC that also wakes an idle run loop. */
  private wakingLine(source: number): IrqLine {
    const line = this.plic.irqLine(source);
    return {
      set: (level: boolean) => {
        line.set(level);
        if (level) this.wake();
      },
    };
  }

  private irq(h: number, bit: number, level: boolean): void {
    const hart = this.harts[h];
    // With vCPU threads this thread's harts are idle copies; they follow the lines anyway, so a
    // snapshot taken while the threads are parked saves the levels the devices last set.
    if (this.irqSink) {
      hart?.setInterruptPending(bit, level);
      return this.irqSink(h, bit, level);
    }
    if (!hart) return;
    hart.setInterruptPending(bit, level);
    if (level) this.wake();
  }

  /**
   * SSIP is a software-writable bit of mip/sip (Privileged ISA 3.1.9, 4.1.3): the SBI IPI sets it the
   * way an M-mode firmware would (csrs mip), so the guest's `csrc sip, SSIP` clears it again. SEIP is
   * masked out of the write so the software SEIP latch is never set from the PLIC's level.
   */
  setSsip(h: number, level: boolean): void {
    const hart = this.harts[h];
    if (!hart) return;
    const mip = hart.readCsr(CSR_MIP) & ~(1n << BigInt(Irq.SEI));
    hart.writeCsr(CSR_MIP, level ? mip | (1n << BigInt(Irq.SSI)) : mip & ~(1n << BigInt(Irq.SSI)));
    if (level) this.wake();
  }

  private event(ev: BoardEvent): void {
    if (!this.pendingEvent) this.pendingEvent = ev;
    for (const h of this.harts) h.requestExit();
    this.opts.onEvent?.(ev);
  }

  /** Power-on reset: clears RAM, loads firmware/kernel/initrd/DTB and resets every hart and device. */
  reset(): void {
    const cfg = this.config;
    this.pendingEvent = undefined;
    this.resumeFromHarts = false;
    // A reboot starts from zeroed RAM; the first boot's RAM is fresh (zero) already, and filling it
    // would make the OS commit every page of it (a 512 MiB guest's RSS grew by 512 MiB at start).
    if (this.resets++ > 0) {
      this.memory.endLazy(); // a lazy restore's pages not loaded yet are not wanted any more
      this.memory.bytes.fill(0);
      // Every page changed: a live migration under way sends them again (GuestMemory.dirtyLog).
      this.memory.markRange(0, this.memory.size);
    } else this.memory.takeDirty();
    for (const t of this.virtio) t.reset();
    // A restore's first reset only builds the harts: RAM and their state come from the snapshot.
    const load = !(this.opts.restoring && this.resets === 1);
    const L = load ? this.loadBoot() : undefined;
    this.harts.length = 0;
    this.hartStates.length = 0;
    this.translators.length = 0;
    for (let h = 0; h < cfg.cpus; h++) {
      const hart = new Hart({
        memory: this.memory,
        bus: this.bus,
        hartId: h,
        timer: this.timer,
        hypervisor: cfg.hypervisor ?? true,
      });
      // A re-created hart (reboot) gets a new translator in the engine-area slot of its hart id; the
      // old one goes with the old hart (RAM was rewritten above, so none of its code is valid anyway).
      // With vCPU threads the harts here only hold the boot state; the workers run their own.
      // Not DbtOptions.hostWritesReported: with it, the second boot after a guest reboot ran stale
      // code in 1 of 4 runs (test/vmm/bootDbt's disk-reboot test, a kernel panic or a hang), so some
      // write to RAM on this board does not go through the marking writers yet; translated pages are
      // compared with their snapshots at every run() until it is found (docs/DBT.md "Session 7: lead").
      const dbt = this.opts.vcpuThreads ? undefined : useEngine(hart, this.engine, this.engineOptions);
      if (dbt) this.translators.push(dbt);
      this.harts.push(hart);
      this.hartStates.push(h === 0 ? HartState.Started : HartState.Stopped);
    }
    if (L) this.enterBoot(L);
  }

  /**
   * Loads the firmware, kernel, initramfs and device tree into RAM, and lets go of their bytes: a
   * reboot plans again from the files (the same ones: BootFile checks), to the same addresses.
   */
  private loadBoot(): VirtBootPlacement {
    const cfg = this.config;
    const plan = this.bootPlan ?? this.planBoot();
    this.bootPlan = undefined;
    const L = (this.bootPlacement = placementOf(plan));
    loadKernel(plan.kernel, this.memory);
    if (plan.bios) loadKernel(plan.bios, this.memory);
    if (L.initrd && cfg.initrd) this.memory.write(gpa(L.initrd.start), cfg.initrd.bytes);
    this.releaseBootFiles();
    this.dtb = virtDeviceTree({
      memory: cfg.memory,
      cpus: cfg.cpus,
      bootargs: cfg.append,
      initrd: L.initrd,
      virtioSlots: ALL_VIRTIO_SLOTS,
      hypervisor: cfg.hypervisor ?? true,
    }).toDtb();
    if (this.dtb.length > DTB_REGION / 2) throw new Error(`device tree of ${this.dtb.length} bytes is too large`);
    this.memory.write(gpa(L.dtbAddr), this.dtb);
    return L;
  }

  /** Puts the harts at the kernel's entry (built-in SBI) or the firmware's. */
  private enterBoot(L: VirtBootPlacement): void {
    const cfg = this.config;
    if (this.builtinSbi) {
      this.startHartS(0, BigInt(L.kernel.entry), BigInt(L.dtbAddr));
    } else {
      // fw_dynamic_info (OpenSBI include/sbi/fw_dynamic.h, version 2): magic "OSBI", version,
      // next_addr, next_mode (1 = S), options, boot_hart.
      const info = L.fwInfoAddr;
      this.memory.writeU64(gpa(info), 0x4942534fn);
      this.memory.writeU64(gpa(info + 8), 2n);
      this.memory.writeU64(gpa(info + 16), BigInt(L.kernel.entry));
      this.memory.writeU64(gpa(info + 24), 1n);
      this.memory.writeU64(gpa(info + 32), 0n);
      this.memory.writeU64(gpa(info + 40), 0n);
      // Every hart enters the firmware (it picks a boot hart by itself); fw_jump also reads a0/a1.
      for (let h = 0; h < cfg.cpus; h++) {
        const hart = this.harts[h]!;
        hart.priv = PRIV_M;
        hart.setPc(BigInt(L.bios!.entry));
        hart.setX(10, BigInt(h));
        hart.setX(11, BigInt(L.dtbAddr));
        hart.setX(12, BigInt(info));
        this.hartStates[h] = HartState.Started;
      }
    }
  }

  /** Puts hart h in S-mode at `start` with a0 = hartid, a1 = opaque (HartSetup.ts). */
  startHartS(h: number, start: bigint, opaque: bigint): void {
    enterSupervisor(this.harts[h]!, start, opaque);
    this.hartStates[h] = HartState.Started;
    this.wake();
  }
}
