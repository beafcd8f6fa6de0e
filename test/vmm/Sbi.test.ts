import { test } from "node:test";
import assert from "node:assert/strict";
import {
  DBCN_MAX_BYTES,
  EID_BASE,
  EID_DBCN,
  EID_HSM,
  EID_IPI,
  EID_RFENCE,
  EID_SRST,
  EID_TIME,
  HartState,
} from "../../src/vmm/Sbi.js";
import { fakeMachine } from "./sbiHarness.js";
import { gpa } from "../../src/memory/Address.js";

test("SBI base: spec version 2.0, probe finds the implemented extensions and not others", () => {
  const { call } = fakeMachine();
  assert.deepEqual(call(EID_BASE, 0), { err: 0n, value: 0x02000000n });
  for (const eid of [EID_TIME, EID_IPI, EID_RFENCE, EID_HSM, EID_SRST, EID_DBCN, EID_BASE]) {
    assert.equal(call(EID_BASE, 3, BigInt(eid)).value, 1n, `probe 0x${eid.toString(16)}`);
  }
  assert.equal(call(EID_BASE, 3, 0x504d55n).value, 0n, "PMU is not implemented");
  assert.equal(call(0x12345678, 0).err, -2n, "unknown extension: SBI_ERR_NOT_SUPPORTED");
});

test("SBI TIME set_timer, IPI and RFENCE reach the harts selected by hart_mask/hart_mask_base", () => {
  const { call, log } = fakeMachine(3);
  call(EID_TIME, 0, 123456n);
  call(EID_IPI, 0, 0b10n, 1n); // hart 2
  call(EID_IPI, 0, 0n, -1n); // all harts
  call(EID_RFENCE, 1, 0b11n, 0n, 0n, 0n);
  assert.deepEqual(log, ["timer 0 123456", "ipi 2", "ipi 0", "ipi 1", "ipi 2", "fence 0 vma", "fence 1 vma"]);
  assert.equal(call(EID_IPI, 0, 0b1n, 5n).err, -3n, "hart 5 does not exist: invalid param");
});

test("SBI HSM starts a stopped hart with its opaque value and reports its status", () => {
  const { call, log } = fakeMachine(2);
  assert.deepEqual(call(EID_HSM, 2, 1n), { err: 0n, value: BigInt(HartState.Stopped) });
  assert.equal(call(EID_HSM, 0, 1n, 0x80010000n, 42n).err, 0n);
  assert.deepEqual(call(EID_HSM, 2, 1n), { err: 0n, value: BigInt(HartState.Started) });
  assert.equal(call(EID_HSM, 0, 1n, 0x80200000n, 0n).err, -6n, "already started: SBI_ERR_ALREADY_AVAILABLE");
  assert.equal(call(EID_HSM, 0, 7n, 0x80200000n, 0n).err, -3n);
  assert.ok(log.includes("start 1 0x80010000 42"));
});

test("SBI SRST shutdown and reboot reach the machine; bad types are rejected", () => {
  const { call, log } = fakeMachine();
  call(EID_SRST, 0, 0n, 0n);
  call(EID_SRST, 0, 1n, 0n);
  assert.equal(call(EID_SRST, 0, 9n, 0n).err, -3n);
  assert.deepEqual(log, ["reset 0 0", "reset 1 0"]);
});

test("SBI DBCN writes and reads guest buffers by physical address; out-of-RAM is an invalid param", () => {
  const { call, out, memory } = fakeMachine();
  memory.write(gpa(0x80001000), Buffer.from("hello"));
  assert.deepEqual(call(EID_DBCN, 0, 5n, 0x80001000n, 0n), { err: 0n, value: 5n });
  assert.equal(Buffer.from(out).toString(), "hello");
  call(EID_DBCN, 2, 0x21n);
  assert.equal(Buffer.from(out).toString(), "hello!");
  assert.deepEqual(call(EID_DBCN, 1, 8n, 0x80002000n, 0n), { err: 0n, value: 2n });
  assert.equal(Buffer.from(memory.read(gpa(0x80002000), 2)).toString(), "AB");
  assert.equal(call(EID_DBCN, 0, 5n, 0x1000n, 0n).err, -3n);
  assert.equal(call(EID_DBCN, 0, 5n, 0x80001000n, 1n).err, -3n, "base_hi non-zero: above 2^64");
});

test("SBI legacy console_putchar/getchar return in a0 only, and calls are counted by extension.function", () => {
  const { sbi, call, out, x } = fakeMachine();
  x[11] = 77n;
  call(0x01, 0, 0x58n);
  assert.equal(Buffer.from(out).toString(), "X");
  assert.equal(x[11], 77n, "a1 preserved by legacy calls");
  assert.equal(call(0x02, 0).err, 0x41n);
  call(0x02, 0);
  assert.equal(call(0x02, 0).err, -1n, "no input: -1");
  call(EID_TIME, 0, 1n);
  call(EID_TIME, 0, 2n);
  assert.equal(sbi.calls.get("time.set_timer"), 2);
  assert.equal(sbi.calls.get("legacy.console_getchar"), 3);
});

test("SBI DBCN console_write moves at most DBCN_MAX_BYTES per call and returns the count; hostile ranges are INVALID_PARAM", () => {
  const { call, out, memory } = fakeMachine();
  const base = 0x80000000n;
  memory.write(gpa(0x80000000), new Uint8Array(1 << 20).fill(0x61));
  // A 1 MiB write (issue 12: a guest looping on this grew the host by 70 MB/s) writes a bounded part.
  assert.deepEqual(call(EID_DBCN, 0, 1n << 20n, base, 0n), { err: 0n, value: BigInt(DBCN_MAX_BYTES) });
  assert.equal(out.length, DBCN_MAX_BYTES);
  assert.deepEqual(call(EID_DBCN, 0, 0n, base, 0n), { err: 0n, value: 0n }, "zero bytes: success, nothing written");
  const bad: [bigint, bigint, bigint, string][] = [
    [16n, base + (1n << 20n) - 8n, 0n, "buffer runs past the end of RAM"],
    [(1n << 64n) - 1n, base, 0n, "num_bytes larger than RAM"],
    [1n << 21n, base, 0n, "first bytes in RAM, the rest not"],
    [16n, (1n << 64n) - 8n, 0n, "address range wraps around 2^64"],
    [16n, base, 1n, "base_addr_hi non-zero on RV64"],
    [16n, base - 8n, 0n, "starts below RAM"],
  ];
  for (const [n, lo, hi, why] of bad) {
    assert.deepEqual(call(EID_DBCN, 0, n, lo, hi), { err: -3n, value: 0n }, `write: ${why}`);
    assert.deepEqual(call(EID_DBCN, 1, n, lo, hi), { err: -3n, value: 0n }, `read: ${why}`);
  }
  assert.equal(out.length, DBCN_MAX_BYTES, "nothing written by the refused calls");
});

test("SBI SRST: reserved reset reasons are INVALID_PARAM; unknown EIDs/FIDs are counted under fixed keys", () => {
  const { sbi, call, log } = fakeMachine();
  assert.equal(call(EID_SRST, 0, 0n, 2n).err, -3n);
  assert.equal(call(EID_SRST, 0, 0n, 0xe0000000n).err, -3n);
  assert.equal(call(EID_SRST, 0, 0n, 1n).err, 0n, "system failure is a defined reason");
  assert.deepEqual(log, ["reset 0 1"]);
  for (let i = 0; i < 1000; i++) call(0x1000 + i, i);
  for (let i = 0; i < 1000; i++) call(EID_BASE, 100 + i);
  assert.ok(sbi.calls.size < 10, `call counters hold ${sbi.calls.size} keys`);
  assert.equal(sbi.calls.get("unknown"), 1000);
  assert.equal(sbi.calls.get("base.unknown"), 1000);
});

test("SBI RFENCE remote_hfence_*: served when the harts have H (a whole-TLB fence), NOT_SUPPORTED otherwise", () => {
  const h = fakeMachine(2, true);
  for (const fid of [3, 4, 5, 6]) assert.equal(h.call(EID_RFENCE, fid, 0b10n, 0n, 0n, 0n, 7n).err, 0n);
  assert.deepEqual(h.log, ["fence 1 vma", "fence 1 vma", "fence 1 vma", "fence 1 vma"]);
  const plain = fakeMachine(2, false);
  assert.equal(plain.call(EID_RFENCE, 3, 0b10n, 0n, 0n, 0n, 7n).err, -2n);
  assert.deepEqual(plain.log, []);
});
