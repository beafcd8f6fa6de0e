// The guest writes a file on its virtio-blk ext4 disk and reboots; Typevisor restarts the VM (same
// process) and the second boot finds the file, then powers off. The second boot also checks the
// RTC's date, writes to hvc0 (virtio-console) and reads /dev/hwrng (virtio-rng).
// (The same check with the binary translator is in bootDbt.test.ts.)
import { test } from "node:test";
import { checkDiskSurvivesReboot } from "./bootHelper.js";

test(
  "a write to the virtio disk survives a guest reboot, and reboot restarts the VM",
  { timeout: 2_500_000 },
  async (t) => {
    await checkDiskSurvivesReboot(t, [], 2_400_000);
  },
);
