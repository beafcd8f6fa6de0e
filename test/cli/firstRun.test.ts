// The first-run rough edges of issue 16 that need no guest: start refuses what it cannot boot before
// pulling anything, flag errors name the flag, run's default command line, and start --cmd's output
// filter (only the command's output, its exit status).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CmdOutputFilter } from "../../src/cli/CmdOutput.js";
import type { CharBackend } from "../../src/devices/chardev/CharBackend.js";

const bin = fileURLToPath(new URL("../../../bin/typevisor.js", import.meta.url));

/** Runs typevisor with an empty cache and no apt-get on PATH: anything that tries to pull fails loudly. */
function offline(args: string[]) {
  const dir = mkdtempSync(join(tmpdir(), "tv-first-"));
  try {
    return spawnSync(process.execPath, [bin, ...args], {
      encoding: "utf8",
      env: { ...process.env, TYPEVISOR_CACHE: dir, TYPEVISOR_DATA: join(dir, "data"), PATH: join(dir, "no-bin") },
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("start refuses a non-riscv64 image and bad machine flags before pulling anything", () => {
  const a = offline(["start", "debian-amd64", "--quiet"]);
  assert.equal(a.status, 1, a.stderr);
  assert.match(a.stderr, /image debian-amd64 is for amd64; .* riscv64 guests only/);
  assert.doesNotMatch(a.stderr, /apt-get/, "it did not try to pull");
  const n = offline(["start", "--net", "user,hostfwd=tcp:80", "--quiet"]);
  assert.equal(n.status, 2, n.stderr);
  assert.match(n.stderr, /start: --net user,hostfwd=tcp:80: .*PROTO:\[ADDR\]:HOSTPORT-:GUESTPORT/);
  const m = offline(["start", "--memory", "1T", "--quiet"]);
  assert.equal(m.status, 2, m.stderr);
  assert.match(m.stderr, /--memory 1T: at most 2G/, "T is a size; the message says the limit");
  const r = offline(["start", "debian-riscv64-userland", "--quiet"]);
  assert.match(r.stderr, /not a bootable image/);
});

test("start without passt boots offline and says how to get networking", () => {
  const a = offline(["start", "--quiet"]); // no passt (and no apt) on this PATH
  assert.match(a.stderr, /passt is not installed, so the guest has no network this time \(apt-get install passt/);
  assert.match(a.stderr, /apt-get/, "then the image pull fails for want of apt, as before");
});

test("run without --append gives the kernel console=ttyS0 earlycon=sbi (output from the first instruction)", () => {
  const dir = mkdtempSync(join(tmpdir(), "tv-dtb-"));
  try {
    const out = join(dir, "virt.dtb");
    const r = spawnSync(process.execPath, [bin, "dtb", "-o", out], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(readFileSync(out).includes("console=ttyS0 earlycon=sbi\0"), "bootargs in /chosen");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

class Sink implements CharBackend {
  out = "";
  write(d: Uint8Array): void {
    this.out += Buffer.from(d).toString("latin1");
  }
  attach(): void {}
  pause(): void {}
  resume(): void {}
  async close(): Promise<void> {}
}

test("start --cmd's filter passes only the command's output, in pieces as they come, and takes its status", () => {
  const sink = new Sink();
  const f = new CmdOutputFilter(sink);
  const console =
    "[    1.0] Linux version 6.12\r\nTYPEVISOR-BOOT-OK image=x\r\nTYPEVISOR-CMD-BEGIN\r\nline one\r\nprompt> partial\r\nTYPEVISOR-CMD-END rc=42\r\n[    9.9] reboot: Power down\r\n";
  // Byte by byte: markers split across writes must still be recognised and never leak.
  for (const ch of console) f.write(Buffer.from(ch, "latin1"));
  assert.equal(sink.out, "line one\r\nprompt> partial\r\n");
  assert.equal(f.status, 42);
  const g = new CmdOutputFilter(new Sink());
  g.write(Buffer.from("Kernel panic - not syncing: no init\r\n"));
  assert.equal(g.status, undefined);
  assert.match(g.bootLog(), /Kernel panic/, "what the guest said before failing is kept for the error report");
});
