// virtio-console, virtio 1.2 §5.3: hvc0 for the guest, plus extra named ports with MULTIPORT
// (/dev/vportNpM, /dev/virtio-ports/NAME). Queue layout (§5.3.2): port 0 receiveq/transmitq at 0/1,
// control receiveq/transmitq at 2/3, port n ≥ 1 at 2n+2 / 2n+3. Control messages (§5.3.6.2) carry
// the port handshake Linux performs: DEVICE_READY → DEVICE_ADD per port → PORT_READY →
// CONSOLE_PORT / PORT_NAME / PORT_OPEN. Host input waits in a flow-controlled queue until the guest
// posts receive buffers.

import type { GuestMemory } from "../../memory/GuestMemory.js";
import { type CharBackend, InputQueue } from "../chardev/CharBackend.js";
import { DescChain, POP_OK, type VirtQueue } from "./VirtQueue.js";
import { InFlight, VIRTIO_ID_CONSOLE, bit, type VirtioContext, type VirtioDevice } from "./VirtioDevice.js";

export const VIRTIO_CONSOLE_F_SIZE = 0;
export const VIRTIO_CONSOLE_F_MULTIPORT = 1;
export const VIRTIO_CONSOLE_F_EMERG_WRITE = 2;

// Control events, §5.3.6.2.
export const VIRTIO_CONSOLE_DEVICE_READY = 0;
export const VIRTIO_CONSOLE_DEVICE_ADD = 1;
export const VIRTIO_CONSOLE_DEVICE_REMOVE = 2;
export const VIRTIO_CONSOLE_PORT_READY = 3;
export const VIRTIO_CONSOLE_CONSOLE_PORT = 4;
export const VIRTIO_CONSOLE_RESIZE = 5;
export const VIRTIO_CONSOLE_PORT_OPEN = 6;
export const VIRTIO_CONSOLE_PORT_NAME = 7;

const QUEUE_SIZE = 128;
/** Largest single guest write we pass on (Linux sends at most a page per buffer). */
const MAX_TX = 1 << 20;
/**
 * Control replies waiting for the guest's control-receive buffers. Linux's handshake needs a few per
 * port; a guest that keeps sending DEVICE_READY without reading the answers must not grow the host
 * without bound (issue 12), so replies beyond this are dropped and counted.
 */
export const MAX_CONTROL_BACKLOG = 256;

export interface ConsolePortOptions {
  backend: CharBackend;
  /** Name announced with PORT_NAME (appears as /dev/virtio-ports/NAME). */
  name?: string;
}

class Port {
  readonly input: InputQueue;
  /** The guest has the port open (PORT_OPEN from the driver); port 0 without MULTIPORT is always open. */
  guestOpen = false;
  constructor(
    readonly id: number,
    readonly opts: ConsolePortOptions,
  ) {
    this.input = new InputQueue(opts.backend);
  }
}

export class VirtioConsole implements VirtioDevice {
  readonly deviceId = VIRTIO_ID_CONSOLE;
  readonly name = "virtio-console";
  readonly features: bigint;
  readonly queueMaxSizes: number[];
  private ctx: VirtioContext | null = null;
  private readonly ports: Port[];
  private readonly multiport: boolean;
  private readonly chain = new DescChain(8);
  private readonly ctrlOut: Uint8Array[] = [];
  private readonly msg = new Uint8Array(8);
  private readonly msgView = new DataView(this.msg.buffer);
  private readonly txBuf = new Uint8Array(MAX_TX);
  private logCount = 0;
  /** Control replies dropped because the guest left MAX_CONTROL_BACKLOG unread. */
  private controlDropped = 0;
  private readonly none = new InFlight();
  /** struct virtio_console_config {u16 cols; u16 rows; u32 max_nr_ports; u32 emerg_wr;}, §5.3.4. */
  private readonly config = new DataView(new ArrayBuffer(12));

  /** `ports[0]` becomes hvc0. More than one port enables MULTIPORT. */
  constructor(
    private readonly memory: GuestMemory,
    ports: ConsolePortOptions[],
    opts: { multiport?: boolean; size?: { cols: number; rows: number } } = {},
  ) {
    if (ports.length === 0) throw new RangeError("virtio-console needs at least one port");
    this.multiport = opts.multiport ?? ports.length > 1;
    if (!this.multiport && ports.length > 1) throw new RangeError("more than one virtio-console port needs multiport");
    this.ports = ports.map((p, i) => new Port(i, p));
    // SIZE only without MULTIPORT: Linux then applies cols/rows to hvc0 at probe and on every
    // configuration change (drivers/char/virtio_console.c, config_work_handler), §5.3.4.
    this.features =
      bit(VIRTIO_CONSOLE_F_EMERG_WRITE) |
      (this.multiport ? bit(VIRTIO_CONSOLE_F_MULTIPORT) : 0n) |
      (opts.size && !this.multiport ? bit(VIRTIO_CONSOLE_F_SIZE) : 0n);
    if (opts.size) this.setSize(opts.size.cols, opts.size.rows);
    const nq = this.multiport ? 2 * (ports.length + 1) : 2;
    this.queueMaxSizes = new Array<number>(nq).fill(QUEUE_SIZE);
    this.config.setUint32(4, ports.length, true);
    this.ports.forEach((p) =>
      p.opts.backend.attach({
        input: (d) => {
          p.input.push(d);
          this.deliver(p);
        },
      }),
    );
  }

  private setSize(cols: number, rows: number): void {
    this.config.setUint16(0, Math.max(0, Math.min(0xffff, cols | 0)), true);
    this.config.setUint16(2, Math.max(0, Math.min(0xffff, rows | 0)), true);
  }

  /**
   * The host terminal changed size: new cols/rows in the configuration space and a configuration
   * change notification, so the guest resizes hvc0 (its foreground processes get SIGWINCH).
   */
  resize(cols: number, rows: number): void {
    if ((this.features & bit(VIRTIO_CONSOLE_F_SIZE)) === 0n) return;
    this.setSize(cols, rows);
    if (this.ctx && (this.ctx.features & bit(VIRTIO_CONSOLE_F_SIZE)) !== 0n) this.ctx.configChanged();
  }

  private get mp(): boolean {
    return this.ctx !== null && (this.ctx.features & bit(VIRTIO_CONSOLE_F_MULTIPORT)) !== 0n;
  }

  configRead(offset: number, size: 1 | 2 | 4): number {
    const cfg = this.config;
    if (offset < 0 || offset + size > 12) return 0;
    return size === 1 ? cfg.getUint8(offset) : size === 2 ? cfg.getUint16(offset, true) : cfg.getUint32(offset, true);
  }

  configWrite(offset: number, _size: 1 | 2 | 4, value: number): void {
    // emerg_wr: one character to port 0, usable before the queues are up (§5.3.4, EMERG_WRITE).
    if (offset === 8) this.ports[0]!.opts.backend.write(Uint8Array.of(value & 0xff));
  }

  activate(ctx: VirtioContext): void {
    this.ctx = ctx;
    if (!this.mp) this.ports[0]!.guestOpen = true;
  }

  reset(): void {
    this.ctx = null;
    this.ctrlOut.length = 0;
    this.controlDropped = 0;
    for (const p of this.ports) p.guestOpen = false;
  }

  /** Snapshot state: which ports the guest has open (control messages not yet read are dropped). */
  saveState(): { guestOpen: boolean[] } {
    return { guestOpen: this.ports.map((p) => p.guestOpen) };
  }

  restoreState(state: unknown): void {
    const open = (state as { guestOpen?: unknown } | null)?.guestOpen;
    if (!Array.isArray(open)) return;
    this.ports.forEach((p, i) => (p.guestOpen = open[i] === true));
  }

  idle(): Promise<void> {
    return this.none.idle();
  }

  private rxQueue(port: number): number {
    return port === 0 ? 0 : 2 * port + 2;
  }

  queueNotify(index: number): void {
    const ctx = this.ctx;
    if (!ctx) return;
    if (this.mp && index === 3) {
      this.controlTx(ctx, ctx.queues[3]!);
      return;
    }
    if (this.mp && index === 2) {
      this.flushControl(ctx);
      return;
    }
    const port = index < 2 ? 0 : (index >> 1) - 1;
    const p = this.ports[port];
    if (!p) return;
    if (index & 1) this.transmit(ctx, ctx.queues[index]!, p);
    else this.deliver(p);
  }

  private warn(line: string): void {
    if (this.logCount++ < 50) this.ctx?.log(`${this.name}: ${line}`);
  }

  /** Guest → host: hand each buffer chain's readable bytes to the port's backend. */
  private transmit(ctx: VirtioContext, q: VirtQueue, p: Port): void {
    let any = false;
    while (q.pop(this.chain) === POP_OK) {
      const ch = this.chain;
      any = true;
      if (ch.error) {
        this.warn(`transmit dropped: ${ch.error}`);
      } else if (ch.readableBytes > MAX_TX) {
        this.warn(`transmit of ${ch.readableBytes} bytes dropped (absurd length)`);
      } else {
        const n = ch.readInto(this.memory, 0, this.txBuf, 0, ch.readableBytes);
        if (n > 0) p.opts.backend.write(this.txBuf.slice(0, n));
      }
      q.pushUsed(ch.head, 0);
    }
    if (any) ctx.notifyUsed(q);
  }

  /** Host → guest: fill posted receive buffers from the port's input queue. */
  private deliver(p: Port): void {
    const ctx = this.ctx;
    if (!ctx || p.input.length === 0) return;
    // Linux discards data that arrives for a port nobody has open (virtio_console.c in_intr), so
    // host input waits here, flow-controlled, until the guest opens the port (PORT_OPEN, §5.3.6.2).
    if (!p.guestOpen) return;
    const q = ctx.queues[this.rxQueue(p.id)];
    if (!q || !q.ready) return;
    let any = false;
    while (p.input.length > 0 && q.pending() > 0) {
      if (q.pop(this.chain) !== POP_OK) break;
      const ch = this.chain;
      let written = 0;
      if (ch.error) this.warn(`receive buffer rejected: ${ch.error}`);
      else {
        const n = p.input.take(this.txBuf, Math.min(ch.writableBytes, this.txBuf.length));
        written = ch.writeFrom(this.memory, 0, this.txBuf, 0, n);
      }
      q.pushUsed(ch.head, written);
      any = true;
    }
    if (any) ctx.notifyUsed(q);
  }

  // ---- MULTIPORT control queues ----

  private sendControl(id: number, event: number, value: number, extra?: Uint8Array): void {
    const m = new Uint8Array(8 + (extra?.length ?? 0));
    const v = new DataView(m.buffer);
    v.setUint32(0, id, true);
    v.setUint16(4, event, true);
    v.setUint16(6, value, true);
    if (extra) m.set(extra, 8);
    if (this.ctrlOut.length >= MAX_CONTROL_BACKLOG) {
      if (this.controlDropped++ === 0)
        this.warn(`guest does not read control messages: control replies dropped beyond ${MAX_CONTROL_BACKLOG}`);
      return;
    }
    this.ctrlOut.push(m);
  }

  /** Control replies queued for the guest (tests, `vm info`). */
  get pendingControlMessages(): number {
    return this.ctrlOut.length;
  }

  private flushControl(ctx: VirtioContext): void {
    const q = ctx.queues[2]!;
    let any = false;
    while (this.ctrlOut.length > 0 && q.pending() > 0) {
      if (q.pop(this.chain) !== POP_OK) break;
      const ch = this.chain;
      const m = this.ctrlOut[0]!;
      let written = 0;
      if (ch.error) this.warn(`control buffer rejected: ${ch.error}`);
      else if (ch.writableBytes < m.length)
        this.warn(`control buffer of ${ch.writableBytes} bytes too small for a ${m.length}-byte message`);
      else {
        written = ch.writeFrom(this.memory, 0, m, 0, m.length);
        this.ctrlOut.shift();
      }
      q.pushUsed(ch.head, written);
      any = true;
    }
    if (any) ctx.notifyUsed(q);
  }

  private controlTx(ctx: VirtioContext, q: VirtQueue): void {
    let any = false;
    while (q.pop(this.chain) === POP_OK) {
      const ch = this.chain;
      any = true;
      if (ch.error || ch.readInto(this.memory, 0, this.msg, 0, 8) < 8) {
        this.warn(`malformed control message: ${ch.error || "shorter than 8 bytes"}`);
      } else {
        this.handleControl(
          this.msgView.getUint32(0, true),
          this.msgView.getUint16(4, true),
          this.msgView.getUint16(6, true),
        );
      }
      q.pushUsed(ch.head, 0);
    }
    if (any) ctx.notifyUsed(q);
    this.flushControl(ctx);
    for (const p of this.ports) this.deliver(p);
  }

  private handleControl(id: number, event: number, value: number): void {
    switch (event) {
      case VIRTIO_CONSOLE_DEVICE_READY:
        if (value !== 1) {
          this.warn("driver failed to initialise (DEVICE_READY 0)");
          return;
        }
        for (const p of this.ports) this.sendControl(p.id, VIRTIO_CONSOLE_DEVICE_ADD, 0);
        return;
      case VIRTIO_CONSOLE_PORT_READY: {
        const p = this.ports[id];
        if (!p) {
          this.warn(`PORT_READY for unknown port ${id}`);
          return;
        }
        if (value !== 1) {
          this.warn(`guest could not set up port ${id}`);
          return;
        }
        if (id === 0) this.sendControl(0, VIRTIO_CONSOLE_CONSOLE_PORT, 1);
        if (p.opts.name) this.sendControl(id, VIRTIO_CONSOLE_PORT_NAME, 1, new TextEncoder().encode(p.opts.name));
        // The host end is always connected.
        this.sendControl(id, VIRTIO_CONSOLE_PORT_OPEN, 1);
        return;
      }
      case VIRTIO_CONSOLE_PORT_OPEN: {
        const p = this.ports[id];
        if (!p) {
          this.warn(`PORT_OPEN for unknown port ${id}`);
          return;
        }
        p.guestOpen = value === 1;
        return;
      }
      default:
        this.warn(`unexpected control event ${event} for port ${id}`);
    }
  }

  /** Whether the guest has port `id` open (tests, control plane). */
  isOpen(id: number): boolean {
    return this.ports[id]?.guestOpen ?? false;
  }
}
