// 16550A UART register-level behaviour as Linux's 8250 driver uses it, with a memory backend.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Uart16550 } from "../../src/devices/Uart16550.js";
import { MemoryBackend } from "../../src/devices/chardev/MemoryBackend.js";
import { TestIrq } from "./VirtioDriver.js";

const RBR = 0,
  THR = 0,
  IER = 1,
  IIR = 2,
  FCR = 2,
  LCR = 3,
  MCR = 4,
  LSR = 5,
  MSR = 6,
  SCR = 7;

function uart(): {
  u: Uart16550;
  be: MemoryBackend;
  irq: TestIrq;
  r: (o: number) => number;
  w: (o: number, v: number) => void;
} {
  const be = new MemoryBackend();
  const irq = new TestIrq();
  const u = new Uart16550(irq, be);
  return { u, be, irq, r: (o) => u.read(o, 1), w: (o, v) => u.write(o, 1, v) };
}

test("uart: reset state, scratch register and divisor latch behind DLAB", () => {
  const { r, w } = uart();
  assert.equal(r(LSR), 0x60, "THRE|TEMT, no data");
  assert.equal(r(IIR), 0x01, "no interrupt, FIFOs off");
  assert.equal(r(MSR) & 0xb0, 0xb0, "CTS, DSR, DCD asserted");
  w(SCR, 0x5a);
  assert.equal(r(SCR), 0x5a);
  w(LCR, 0x80);
  w(0, 0x01); // DLL: 115200 baud
  w(1, 0x00);
  assert.equal(r(0), 1);
  assert.equal(r(1), 0);
  w(LCR, 0x03);
  assert.equal(r(IER), 0, "IER unaffected by the DLM write");
  assert.equal(r(LCR), 0x03);
  w(IER, 0xff);
  assert.equal(r(IER), 0x0f, "only the four interrupt enables exist");
});

test("uart: transmitted bytes reach the backend, THRE interrupt as the 8250 driver expects", () => {
  const { u, be, irq, r, w } = uart();
  w(FCR, 0x07);
  assert.equal(r(IIR) & 0xc0, 0xc0, "FIFOs enabled: IIR bits 7:6 set (how Linux detects a 16550A)");
  w(IER, 0x02); // ETBEI with THR empty: THRE interrupt at once
  assert.equal(irq.level, true);
  assert.equal(r(IIR) & 0x0f, 0x02);
  assert.equal(irq.level, false, "reading IIR cleared the THRE interrupt");
  for (const c of "hello\r\n") w(THR, c.charCodeAt(0));
  assert.equal(irq.level, true, "THR empty again after the writes");
  u.flushTx();
  assert.equal(be.text(), "hello\r\n");
  w(IER, 0);
  assert.equal(irq.level, false);
});

test("uart: received bytes, 16-byte FIFO with trigger levels, and flow control instead of overrun", () => {
  const { be, irq, r, w } = uart();
  w(FCR, 0xc1); // FIFO on, trigger at 14
  w(IER, 0x01);
  be.input("abc");
  assert.equal(irq.level, true);
  assert.equal(r(IIR) & 0x0f, 0x0c, "below the trigger level: character timeout");
  assert.equal(r(LSR) & 1, 1);
  assert.equal(String.fromCharCode(r(RBR), r(RBR), r(RBR)), "abc");
  assert.equal(irq.level, false);
  assert.equal(r(LSR) & 1, 0);
  const text = "0123456789abcdefghijklmnopqrstuvwxyz";
  be.input(text);
  assert.equal(r(IIR) & 0x0f, 0x04, "at or above the trigger level: received data available");
  let got = "";
  while (r(LSR) & 1) got += String.fromCharCode(r(RBR));
  assert.equal(got, text, "more than 16 bytes of host input wait for FIFO room; nothing lost");
  assert.equal(r(LSR) & 0x02, 0, "no overrun");
});

test("uart: loopback mode, overrun and line-status interrupt, modem status deltas", () => {
  const { be, irq, r, w, u } = uart();
  w(MCR, 0x10); // LOOP
  w(FCR, 0x01);
  w(IER, 0x05); // ERBFI | ELSI
  for (let i = 0; i < 17; i++) w(THR, 0x41 + i);
  u.flushTx();
  assert.equal(be.output().length, 0, "loopback output never leaves the chip");
  assert.equal(r(IIR) & 0x0f, 0x06, "line status has priority");
  const lsr = r(LSR);
  assert.equal(lsr & 0x03, 0x03, "data ready and overrun");
  assert.equal(r(LSR) & 0x02, 0, "OE cleared by reading LSR");
  assert.equal(r(IIR) & 0x0f, 0x04);
  let n = 0;
  while (r(LSR) & 1) {
    assert.equal(r(RBR), 0x41 + n);
    n++;
  }
  assert.equal(n, 16);
  assert.equal(irq.level, false);
  // Modem lines follow MCR in loopback: RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD.
  w(IER, 0x08);
  r(MSR);
  w(MCR, 0x10 | 0x0b);
  const msr = r(MSR);
  assert.equal(msr & 0xf0, 0x10 | 0x20 | 0x80);
  assert.ok(msr & 0x0f, "delta bits reported");
  assert.equal(r(MSR) & 0x0f, 0, "delta bits clear on read");
});

test("uart: a break arrives as a NUL with BI and a line-status interrupt", () => {
  const { be, irq, r, w } = uart();
  w(IER, 0x05);
  be.sendBreak();
  assert.equal(irq.level, true);
  assert.equal(r(IIR) & 0x0f, 0x06);
  assert.equal(r(LSR) & 0x11, 0x11);
  assert.equal(r(RBR), 0);
});

test("uart: 4-byte accesses and offsets past the registers are harmless", () => {
  const { u } = uart();
  u.write(7, 4, 0x1234_56ab);
  assert.equal(u.read(7, 4), 0xab);
  u.write(0x80, 1, 1);
  assert.equal(u.read(0x80, 1), 0);
});
