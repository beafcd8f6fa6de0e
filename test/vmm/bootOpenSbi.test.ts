// The fully virtualized path: Debian's OpenSBI (fw_dynamic.bin) runs in emulated M-mode and boots
// the same Debian kernel, which reaches the initramfs marker and powers off through the firmware.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { debianImage, tail, typevisorRun } from "./bootHelper.js";

const FW = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin";

test(
  "Debian kernel boots under Debian's OpenSBI (--bios fw_dynamic.bin) and powers off with status 0",
  { timeout: 1_500_000 },
  async (t) => {
    if (!existsSync(FW)) return t.skip(`${FW} is missing: install Debian's opensbi package`);
    const img = await debianImage();
    if (typeof img === "string") return t.skip(img);
    const r = await typevisorRun(
      [
        "--kernel",
        img.kernel,
        "--initrd",
        img.initrd,
        "--bios",
        FW,
        "--append",
        "console=ttyS0 quiet tv.poweroff=1",
        "--memory",
        "256M",
      ],
      1_400_000,
    );
    assert.match(r.stdout, /OpenSBI v\d/, tail(r));
    assert.match(r.stdout, /Domain0 Next Address\s*: 0x0*80200000/, tail(r));
    assert.match(r.stdout, /TYPEVISOR-BOOT-OK/, tail(r));
    assert.equal(r.status, 0, tail(r));
  },
);
