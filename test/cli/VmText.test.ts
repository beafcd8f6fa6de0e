// `vm stats` and `vm logs` for people: the report names every counter group and each vCPU, and
// the log loses the escape sequences a Linux console writes (colours, cursor moves, titles) but
// keeps the text.
import { test } from "node:test";
import assert from "node:assert/strict";
import { formatVmStats, stripTerminalEscapes } from "../../src/cli/VmText.js";
import type { VmProcessStats } from "../../src/control/VmProtocol.js";

test("vm logs: escape sequences and control characters go, the text and line breaks stay", () => {
  const raw =
    "\x1b[0;32m[  OK  ]\x1b[0m Started \x1b[1msshd\x1b[0m.\r\n" +
    "\x1b]0;root@debian: ~\x07root@debian:~# ls\r\n" +
    "\x1b[?2004h\x1b[Kbin  etc\x1b(B\r\r\n" +
    "tab\there\x07\n";
  assert.equal(stripTerminalEscapes(raw), "[  OK  ] Started sshd.\nroot@debian:~# ls\nbin  etc\ntab\there\n");
  assert.equal(stripTerminalEscapes("plain\n"), "plain\n");
});

test("vm stats: a readable report with every group and one line per vCPU", () => {
  const s = {
    pid: 4242,
    engine: "dbt",
    instructions: 2_100_000_000,
    wallSeconds: 21.5,
    mips: 97.7,
    reboots: 0,
    memoryBytes: 512 * 2 ** 20,
    rssBytes: 330 * 2 ** 20,
    console: { txBytes: 5120, droppedBytes: 0 },
    net: { txFrames: 12, rxFrames: 14, rxDropped: 0 },
    exits: { hypercall: 900, wfi: 30, budget: 0 },
    exceptions: { "ecall from S": 900 },
    interrupts: { "supervisor timer": 400 },
    sbiCalls: { "TIME.set_timer": 400 },
    hypervisor: { vmEntries: 3, vmExits: 2, guestPageFaults: 1, virtualInsns: 0 },
    vcpus: [{ hart: 1, instructions: 5_000_000, exits: { mmio: 7 }, runningSeconds: 1.25, waitingSeconds: 3, mmio: 7 }],
  } as unknown as VmProcessStats;
  const text = formatVmStats(s);
  for (const want of [
    "pid 4242",
    "2.10 G in 21.5 s (97.7 MIPS)",
    "guest 512 MiB, process RSS 330 MiB",
    "12 frames out, 14 in, 0 dropped",
    "hypercall 900, wfi 30",
    "TIME.set_timer 400",
    "world switches 3 in / 2 out, G-stage faults 1",
    "vCPU 1: 5.0 M instructions, running 1.3 s, waiting 3.0 s, MMIO 7",
  ])
    assert.ok(text.includes(want), `missing '${want}' in:\n${text}`);
  assert.ok(!text.includes("budget"), "zero counters are left out");
});
