// The guest writes a file on its virtio-blk ext4 disk and reboots; Typevisor restarts the VM (same
// process) and the second boot finds the file, then powers off. The second boot also checks the
// RTC's date, writes to hvc0 (virtio-console) and reads /dev/hwrng (virtio-rng).
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { debianImage, tail, typevisorRun } from "./bootHelper.js";

test("a write to the virtio disk survives a guest reboot, and reboot restarts the VM", { timeout: 2_500_000 }, async (t) => {
  const img = await debianImage();
  if (typeof img === "string") return t.skip(img);
  if (!img.disk) return t.skip("the image has no data disk");
  const dir = mkdtempSync(join(tmpdir(), "tv-boot-disk-"));
  try {
    const disk = join(dir, "disk.img");
    copyFileSync(img.disk, disk);
    const stamp = `stamp-${process.pid}`;
    const cmd =
      `if [ -f /mnt/tv-stamp ]; then echo FOUND:$(cat /mnt/tv-stamp); date +YEAR:%Y; ` +
      `echo HVC:ok > /dev/hvc0; echo RNG:$(head -c 16 /dev/hwrng | wc -c); ` +
      `else echo ${stamp} > /mnt/tv-stamp; sync; umount /mnt; echo WROTE; reboot -f; fi`;
    const r = await typevisorRun(
      ["--kernel", img.kernel, "--initrd", img.initrd, "--disk", disk, "--append", `console=ttyS0 quiet tv.cmd="${cmd}"`, "--memory", "256M", "--stats"],
      2_400_000,
    );
    assert.match(r.stdout, /WROTE/, tail(r));
    assert.match(r.stdout, new RegExp(`FOUND:${stamp}`), tail(r));
    assert.match(r.stdout, new RegExp(`YEAR:${new Date().getUTCFullYear()}`), tail(r));
    assert.match(r.stdout, /HVC:ok/, tail(r));
    assert.match(r.stdout, /RNG:16/, tail(r));
    assert.match(r.stderr, /reboots: 1/, tail(r));
    assert.equal(r.status, 0, tail(r));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
