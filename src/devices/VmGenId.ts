// Virtual machine generation ID (Microsoft's "Virtual Machine Generation ID" specification, as
// Linux's drivers/virt/vmgenid.c reads it through the device-tree binding "microsoft,vmgenid",
// Documentation/devicetree/bindings/rng/microsoft,vmgenid.yaml): 16 bytes of memory holding a
// random ID that changes whenever the VM is duplicated (a snapshot restored, a clone), plus an
// interrupt announcing the change. Linux mixes a new ID into its CRNG and reseeds at once
// (add_vmfork_randomness), so clones of one snapshot stop sharing random state: re-reading a
// virtio-rng is not enough, since the CRNG state itself is in the snapshot's RAM.
//
// The interrupt line is raised by regenerate() and lowered when the guest reads the ID (its handler
// copies the ID out), so the level-triggered PLIC sees exactly one interrupt per change.
import type { BusDevice } from "../memory/IoBus.js";
import type { IrqLine } from "../memory/IrqLine.js";

export const VMGENID_SIZE = 0x1000;
const ID_BYTES = 16;

export class VmGenId implements BusDevice {
  readonly name = "vmgenid";
  private readonly id = new Uint8Array(ID_BYTES);
  private raised = false;

  constructor(
    private readonly irq: IrqLine,
    initial: Uint8Array,
  ) {
    this.id.set(initial.subarray(0, ID_BYTES));
  }

  /** Sets a new generation ID and tells the guest (a restored snapshot or a clone calls this). */
  regenerate(id: Uint8Array): void {
    if (id.length !== ID_BYTES) throw new RangeError(`a VM generation ID has ${ID_BYTES} bytes, not ${id.length}`);
    this.id.set(id);
    this.raised = true;
    this.irq.set(true);
  }

  read(offset: number, size: 1 | 2 | 4): number {
    if (offset + size > ID_BYTES) return 0;
    if (this.raised) {
      this.raised = false;
      this.irq.set(false);
    }
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = (v << 8) | this.id[offset + i]!;
    return v >>> 0;
  }

  write(): void {
    // Read-only memory.
  }

  saveState(): { id: number[]; raised: boolean } {
    return { id: Array.from(this.id), raised: this.raised };
  }

  restoreState(s: { id: number[]; raised: boolean }): void {
    this.id.set(s.id.slice(0, ID_BYTES));
    this.raised = s.raised;
  }
}
