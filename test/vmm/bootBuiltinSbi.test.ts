// Debian's stock kernel boots on the virt board with Typevisor's built-in SBI (para-virtualized
// firmware: the kernel's ecalls are hypercalls) to the initramfs marker and powers off cleanly.
// The only heavy test in this file: about 1.2e9 guest instructions.
import { test } from "node:test";
import assert from "node:assert/strict";
import { debianImage, tail, typevisorRun } from "./bootHelper.js";

test(
  "Debian kernel boots with the built-in SBI to TYPEVISOR-BOOT-OK and poweroff exits with status 0",
  { timeout: 1_500_000 },
  async (t) => {
    const img = await debianImage();
    if (typeof img === "string") return t.skip(img);
    const r = await typevisorRun(
      [
        "--arch",
        "riscv64",
        "--kernel",
        img.kernel,
        "--initrd",
        img.initrd,
        "--append",
        "console=ttyS0 quiet tv.poweroff=1",
        "--memory",
        "256M",
        "--stats",
      ],
      1_400_000,
    );
    assert.match(r.stderr, /base\.get_impl_id: 1/, tail(r)); // the kernel asked Typevisor's SBI who it is
    assert.match(r.stdout, /TYPEVISOR-BOOT-OK/, tail(r));
    assert.match(r.stdout, /reboot: Power down/, tail(r));
    assert.equal(r.status, 0, tail(r));
    // --stats: instructions and SBI calls by extension.function, and the emulated-operation classes.
    assert.match(r.stderr, /instructions retired: \d{9,}/);
    assert.match(r.stderr, /base\.probe_extension: \d+/);
    assert.match(r.stderr, /control-sensitive: .*sret \d+/);
    assert.match(r.stderr, /interrupts by cause: .*supervisor-timer \d+/);
  },
);
