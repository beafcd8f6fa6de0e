// National Semiconductor PC16550D ("16550A") UART, full device emulation as Linux's 8250 driver
// (drivers/tty/serial/8250) expects it on QEMU's virt board (compatible "ns16550a", reg-shift 0,
// reg-io-width 1). Register map and semantics follow the PC16550D datasheet (§8 "Registers"):
//   0 RBR/THR (DLAB=0) | DLL (DLAB=1)     4 MCR (DTR, RTS, OUT1, OUT2, LOOP)
//   1 IER (DLAB=0)     | DLM (DLAB=1)     5 LSR (DR, OE, PE, FE, BI, THRE, TEMT, RXFE)
//   2 IIR (read)       | FCR (write)      6 MSR (deltas + CTS, DSR, RI, DCD)
//   3 LCR (DLAB = bit 7)                  7 SCR (scratch)
// Transmission is instantaneous (there is no wire), so THR/transmitter are always empty again after
// a write and the THRE interrupt follows at once; the 16-byte receive FIFO is real, with trigger
// levels and overrun, and host input waits in a flow-controlled queue until the FIFO has room.
// Interrupt priorities (datasheet table IV): line status > received data / character timeout >
// THR empty > modem status.

import type { BusDevice } from "../memory/IoBus.js";
import type { IrqLine } from "../memory/IrqLine.js";
import { type CharBackend, InputQueue } from "./chardev/CharBackend.js";

const IER_ERBFI = 0x01,
  IER_ETBEI = 0x02,
  IER_ELSI = 0x04,
  IER_EDSSI = 0x08;
const IIR_NONE = 0x01,
  IIR_MSI = 0x00,
  IIR_THRI = 0x02,
  IIR_RDI = 0x04,
  IIR_RLSI = 0x06,
  IIR_CTI = 0x0c;
const FCR_ENABLE = 0x01,
  FCR_CLEAR_RX = 0x02;
const LCR_DLAB = 0x80;
const MCR_DTR = 0x01,
  MCR_RTS = 0x02,
  MCR_OUT1 = 0x04,
  MCR_OUT2 = 0x08,
  MCR_LOOP = 0x10;
export const LSR_DR = 0x01,
  LSR_OE = 0x02,
  LSR_PE = 0x04,
  LSR_FE = 0x08,
  LSR_BI = 0x10,
  LSR_THRE = 0x20,
  LSR_TEMT = 0x40,
  LSR_RXFE = 0x80;
const LSR_ERRORS = LSR_OE | LSR_PE | LSR_FE | LSR_BI;
const MSR_DCTS = 0x01,
  MSR_DDSR = 0x02,
  MSR_TERI = 0x04,
  MSR_DDCD = 0x08;
const MSR_CTS = 0x10,
  MSR_DSR = 0x20,
  MSR_RI = 0x40,
  MSR_DCD = 0x80;
const FIFO_SIZE = 16;
const TRIGGER = [1, 4, 8, 14];
const TX_BATCH = 4096;

/** The 16550's registers and receive FIFO, for snapshots. */
export interface UartSavedState {
  rx: number[];
  rxHead: number;
  rxCount: number;
  ier: number;
  fcr: number;
  lcr: number;
  mcr: number;
  lsrErrors: number;
  msr: number;
  scr: number;
  dll: number;
  dlm: number;
  thrIpending: boolean;
  irqLevel: boolean;
}

export class Uart16550 implements BusDevice {
  readonly name = "uart16550a";
  private readonly rx = new Uint8Array(FIFO_SIZE);
  private rxHead = 0;
  private rxCount = 0;
  private ier = 0;
  private fcr = 0;
  private lcr = 0; // datasheet reset values: LCR/IER 0, LSR = THRE|TEMT
  // QEMU resets MCR to OUT2 (on PCs OUT2 gates the IRQ line); the datasheet says 0. We match QEMU,
  // our differential oracle, so firmware that works there works here.
  private mcr = MCR_OUT2;
  private lsrErrors = 0;
  private msr = MSR_CTS | MSR_DSR | MSR_DCD; // a connected null-modem line
  private scr = 0;
  private dll = 0x0c;
  private dlm = 0;
  private thrIpending = false;
  private irqLevel = false;
  private readonly input: InputQueue;
  private tx = new Uint8Array(TX_BATCH);
  private txLen = 0;
  private flushScheduled = false;
  /** Bytes the guest transmitted / received (for `vm info`). */
  txBytes = 0;
  rxBytes = 0;

  constructor(
    private readonly irq: IrqLine,
    private readonly backend: CharBackend,
  ) {
    this.input = new InputQueue(backend);
    backend.attach({
      input: (d) => {
        this.input.push(d);
        this.fillFifo();
      },
      break: () => this.receiveBreak(),
    });
  }

  /**
   * Snapshot state: registers and the receive FIFO. Transmitted bytes are flushed to the backend
   * first, so none is lost or written twice; host input not yet in the FIFO stays with the host.
   */
  saveState(): UartSavedState {
    this.flushTx();
    return {
      rx: Array.from(this.rx),
      rxHead: this.rxHead,
      rxCount: this.rxCount,
      ier: this.ier,
      fcr: this.fcr,
      lcr: this.lcr,
      mcr: this.mcr,
      lsrErrors: this.lsrErrors,
      msr: this.msr,
      scr: this.scr,
      dll: this.dll,
      dlm: this.dlm,
      thrIpending: this.thrIpending,
      irqLevel: this.irqLevel,
    };
  }

  /**
   * Puts back a saveState() value. Bytes the host typed into this fresh UART before the restore
   * (already in its FIFO) are received after the saved FIFO's, as far as the FIFO holds them.
   */
  restoreState(s: UartSavedState): void {
    if (s.rx.length !== this.rx.length) throw new RangeError(`UART state: FIFO of ${s.rx.length} bytes`);
    const early: number[] = [];
    for (let i = 0; i < this.rxCount; i++) early.push(this.rx[(this.rxHead + i) % FIFO_SIZE]!);
    this.rx.set(s.rx);
    this.rxHead = s.rxHead;
    this.rxCount = s.rxCount;
    this.ier = s.ier;
    this.fcr = s.fcr;
    this.lcr = s.lcr;
    this.mcr = s.mcr;
    this.lsrErrors = s.lsrErrors;
    this.msr = s.msr;
    this.scr = s.scr;
    this.dll = s.dll;
    this.dlm = s.dlm;
    this.thrIpending = s.thrIpending;
    this.irqLevel = s.irqLevel;
    const cap = this.fcr & FCR_ENABLE ? FIFO_SIZE : 1;
    for (const b of early) if (this.rxCount < cap) this.pushRx(b);
    this.fillFifo();
    this.update();
  }

  read(offset: number, _size: 1 | 2 | 4): number {
    const dlab = (this.lcr & LCR_DLAB) !== 0;
    switch (offset) {
      case 0:
        return dlab ? this.dll : this.readRbr();
      case 1:
        return dlab ? this.dlm : this.ier;
      case 2:
        return this.readIir();
      case 3:
        return this.lcr;
      case 4:
        return this.mcr;
      case 5:
        return this.readLsr();
      case 6:
        return this.readMsr();
      case 7:
        return this.scr;
      default:
        return 0;
    }
  }

  write(offset: number, _size: 1 | 2 | 4, value: number): void {
    value &= 0xff;
    const dlab = (this.lcr & LCR_DLAB) !== 0;
    switch (offset) {
      case 0:
        if (dlab) this.dll = value;
        else this.writeThr(value);
        break;
      case 1:
        if (dlab) {
          this.dlm = value;
          break;
        }
        {
          const old = this.ier;
          this.ier = value & 0x0f;
          // Enabling ETBEI while THR is empty raises THRE at once (datasheet §8.4; Linux's
          // serial8250_start_tx relies on it).
          if (this.ier & IER_ETBEI && !(old & IER_ETBEI)) this.thrIpending = true;
        }
        break;
      case 2:
        this.writeFcr(value);
        break;
      case 3:
        this.lcr = value;
        break;
      case 4:
        this.writeMcr(value & 0x1f);
        break;
      case 5:
      case 6:
        break; // LSR/MSR are read-only (writes are factory test only)
      case 7:
        this.scr = value;
        break;
      default:
        return;
    }
    this.update();
  }

  private readRbr(): number {
    let v = 0;
    if (this.rxCount > 0) {
      v = this.rx[this.rxHead]!;
      this.rxHead = (this.rxHead + 1) % FIFO_SIZE;
      this.rxCount--;
      this.fillFifo();
    }
    this.update();
    return v;
  }

  private readIir(): number {
    const id = this.pendingId();
    // Reading IIR while THRE is the reported source clears it (datasheet table IV).
    if (id === IIR_THRI) {
      this.thrIpending = false;
      this.update();
    }
    return id | (this.fcr & FCR_ENABLE ? 0xc0 : 0);
  }

  private readLsr(): number {
    let v = LSR_THRE | LSR_TEMT | this.lsrErrors;
    if (this.rxCount > 0) v |= LSR_DR;
    if (this.lsrErrors & (LSR_PE | LSR_FE | LSR_BI) && this.fcr & FCR_ENABLE) v |= LSR_RXFE;
    this.lsrErrors = 0; // error bits clear on read
    this.update();
    return v;
  }

  private readMsr(): number {
    const v = this.msr;
    this.msr &= 0xf0; // delta bits clear on read
    this.update();
    return v;
  }

  private writeThr(v: number): void {
    if (this.mcr & MCR_LOOP) {
      // Loopback (datasheet §8.6): the transmitter feeds the receiver, nothing leaves the chip.
      this.pushRx(v);
    } else {
      this.tx[this.txLen++] = v;
      this.txBytes++;
      if (this.txLen === TX_BATCH) this.flushTx();
      else if (!this.flushScheduled) {
        this.flushScheduled = true;
        queueMicrotask(() => this.flushTx()); // after this slice of guest execution
      }
    }
    // The byte left at once: THR empty again, THRE interrupt pending if enabled.
    this.thrIpending = true;
  }

  /** Hands buffered output to the backend (batched so a boot log is not one syscall per byte). */
  flushTx(): void {
    this.flushScheduled = false;
    if (this.txLen === 0) return;
    const out = this.tx.slice(0, this.txLen);
    this.txLen = 0;
    this.backend.write(out);
  }

  private writeFcr(v: number): void {
    if ((v & FCR_ENABLE) !== (this.fcr & FCR_ENABLE)) {
      // Changing FIFO mode resets both FIFOs (datasheet §8.5).
      this.rxHead = this.rxCount = 0;
    }
    if (v & FCR_CLEAR_RX) {
      this.rxHead = this.rxCount = 0;
      this.lsrErrors &= ~LSR_OE;
    }
    // Bits 1-2 self-clear; bit 3 (DMA mode) and 6-7 (trigger) are kept. Bit 5 (64-byte FIFO) is a 16750 feature: ignored.
    this.fcr = v & 0xc9;
    this.fillFifo();
  }

  private writeMcr(v: number): void {
    const old = this.mcr;
    this.mcr = v;
    if (v & MCR_LOOP) {
      // In loopback, modem inputs follow the outputs: CTS=RTS, DSR=DTR, RI=OUT1, DCD=OUT2.
      const lines =
        (v & MCR_RTS ? MSR_CTS : 0) |
        (v & MCR_DTR ? MSR_DSR : 0) |
        (v & MCR_OUT1 ? MSR_RI : 0) |
        (v & MCR_OUT2 ? MSR_DCD : 0);
      this.setModemLines(lines);
    } else if (old & MCR_LOOP) {
      this.setModemLines(MSR_CTS | MSR_DSR | MSR_DCD);
      this.fillFifo();
    }
  }

  private setModemLines(lines: number): void {
    const old = this.msr & 0xf0;
    let delta = 0;
    if ((old ^ lines) & MSR_CTS) delta |= MSR_DCTS;
    if ((old ^ lines) & MSR_DSR) delta |= MSR_DDSR;
    if ((old ^ lines) & MSR_DCD) delta |= MSR_DDCD;
    if (old & MSR_RI && !(lines & MSR_RI)) delta |= MSR_TERI; // trailing edge of RI
    this.msr = lines | (this.msr & 0x0f) | delta;
  }

  private pushRx(v: number): void {
    if (this.rxCount === (this.fcr & FCR_ENABLE ? FIFO_SIZE : 1)) {
      // Overrun: the character in the shift register is lost (datasheet LSR bit 1).
      this.lsrErrors |= LSR_OE;
      if (!(this.fcr & FCR_ENABLE)) this.rx[this.rxHead] = v; // non-FIFO: RBR is overwritten
      return;
    }
    this.rx[(this.rxHead + this.rxCount) % FIFO_SIZE] = v;
    this.rxCount++;
  }

  /** Moves host input into the FIFO while there is room (host input never overruns). */
  private fillFifo(): void {
    if (this.mcr & MCR_LOOP) return;
    const cap = this.fcr & FCR_ENABLE ? FIFO_SIZE : 1;
    let moved = false;
    while (this.rxCount < cap && this.input.length > 0) {
      this.pushRx(this.input.shift());
      this.rxBytes++;
      moved = true;
    }
    if (moved) this.update();
  }

  private receiveBreak(): void {
    // A break arrives as a 0 character with BI set (datasheet LSR bit 4).
    this.lsrErrors |= LSR_BI;
    this.pushRx(0);
    this.update();
  }

  private pendingId(): number {
    const ier = this.ier;
    if (ier & IER_ELSI && this.lsrErrors & LSR_ERRORS) return IIR_RLSI;
    if (ier & IER_ERBFI && this.rxCount > 0) {
      if (!(this.fcr & FCR_ENABLE)) return IIR_RDI;
      // Below the trigger level the character-timeout interrupt reports the data (we have no line
      // timing, so the timeout is considered elapsed at once; Linux treats both alike).
      return this.rxCount >= TRIGGER[this.fcr >>> 6]! ? IIR_RDI : IIR_CTI;
    }
    if (ier & IER_ETBEI && this.thrIpending) return IIR_THRI;
    if (ier & IER_EDSSI && this.msr & 0x0f) return IIR_MSI;
    return IIR_NONE;
  }

  private update(): void {
    const level = this.pendingId() !== IIR_NONE;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq.set(level);
    }
  }

  /** Hands any buffered output to the backend and closes it. */
  async close(): Promise<void> {
    this.flushTx();
    await this.backend.close();
  }
}
