// The hypervisor extension end to end (issue 19): Debian's kernel in a Typevisor guest with
// --hypervisor on loads its own kvm.ko, creates /dev/kvm, and a small KVM user program
// (test/riscv/kvm/kvmguest.c, cross-compiled here, static) runs a guest of its own through the KVM
// API: the nested guest sums 1..100, reports 5050 through an MMIO exit and powers off with the SBI
// SRST call. The same initramfs runs first on qemu-system-riscv64 -cpu rv64,h=true (the reference),
// and both must print the same lines.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { debianImage, tail, typevisorRun } from "./bootHelper.js";
import { have, kvmInitrd, qemuRun } from "./kvmInitrd.js";

const CMD = "insmod /kvm/irqbypass.ko; insmod /kvm/kvm.ko; ls -l /dev/kvm; /kvm/kvmguest; echo KVMGUEST-RC=$?";
const APPEND = `console=ttyS0 tv.nodisk=1 tv.nonet=1 tv.cmd="${CMD}"`;

/** The lines both machines must print. */
function kvmLines(out: string): string[] {
  return out
    .split(/\r?\n/)
    .filter((l) => /^(KVM-MMIO|KVM-SHUTDOWN|KVMGUEST-RC|KVM-FAIL)/.test(l) || /^crw.* \/dev\/kvm$/.test(l))
    .map((l) => (l.startsWith("crw") ? "crw /dev/kvm" : l));
}

test("KVM inside a Typevisor guest runs a nested guest (MMIO exit, SBI shutdown), as on QEMU with h=true", async (t) => {
  const img = await debianImage();
  if (typeof img === "string") return t.skip(img);
  const work = mkdtempSync(join(tmpdir(), "tv-kvm-"));
  try {
    const built = kvmInitrd(img.kernel, img.initrd, work);
    if (typeof built === "string") return t.skip(built);
    const initrd = built.path;
    const want = ["crw /dev/kvm", "KVM-MMIO addr=0x10000000 len=8 value=5050", "KVM-SHUTDOWN type=1", "KVMGUEST-RC=0"];
    if (have("qemu-system-riscv64")) {
      const q = await qemuRun(img.kernel, initrd, APPEND, 240_000);
      assert.deepEqual(
        kvmLines(q),
        want,
        `QEMU (the reference) disagrees with the expected output:\n${q.slice(-3000)}`,
      );
    }
    const r = await typevisorRun(
      [
        "--kernel",
        img.kernel,
        "--initrd",
        initrd,
        "--memory",
        "512M",
        "--hypervisor",
        "on",
        "--stats",
        "--append",
        APPEND,
      ],
      300_000,
    );
    assert.equal(r.status, 0, tail(r));
    assert.deepEqual(kvmLines(r.stdout), want, tail(r));
    // --stats shows the nested guest's world switches and its G-stage faults (the MMIO exit is one).
    const s = /world switches (\d+) entries \/ (\d+) exits, G-stage \(guest-page\) faults (\d+)/.exec(
      r.stdout + r.stderr,
    );
    assert.ok(s, tail(r));
    assert.ok(Number(s[1]) >= 2 && Number(s[2]) >= 2 && Number(s[3]) >= 1, s[0]);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
