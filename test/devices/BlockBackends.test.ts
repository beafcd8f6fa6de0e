// Disk backends: clear errors for bad input (missing file, corrupt overlay, changed base), and
// read-only opening that cannot write.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openDisk } from "../../src/devices/block/openDisk.js";
import { tempDir } from "./helpers.js";

test("openDisk: a missing image names the file and how to create one", async (t) => {
  const dir = tempDir(t);
  await assert.rejects(openDisk({ path: join(dir, "nope.img") }), /cannot open disk image .*nope\.img.*truncate -s/);
});

test("openDisk: an image smaller than one sector is refused", async (t) => {
  const dir = tempDir(t);
  const p = join(dir, "tiny.img");
  writeFileSync(p, Buffer.alloc(100));
  await assert.rejects(openDisk({ path: p }), /smaller than one 512-byte sector/);
});

test("overlay: a file that is not an overlay, or a base that changed size, is refused with the reason", async (t) => {
  const dir = tempDir(t);
  const base = join(dir, "base.img");
  writeFileSync(base, Buffer.alloc(1 << 16));
  const bogus = join(dir, "bogus.ovl");
  writeFileSync(bogus, Buffer.alloc(8192, 7));
  await assert.rejects(openDisk({ path: base, overlay: bogus }), /not a Typevisor overlay file/);
  const ovl = join(dir, "vm.ovl");
  const d = await openDisk({ path: base, overlay: ovl });
  await d.write([new Uint8Array(512).fill(9)], 0);
  await d.flush();
  await d.close();
  writeFileSync(base, Buffer.alloc(1 << 17));
  await assert.rejects(openDisk({ path: base, overlay: ovl }), /base changed/);
});

test("read-only raw disk: the backend refuses writes and the file is untouched", async (t) => {
  const dir = tempDir(t);
  const p = join(dir, "ro.img");
  writeFileSync(p, Buffer.alloc(4096, 1));
  const d = await openDisk({ path: p, readOnly: true });
  t.after(() => d.close());
  assert.equal(d.readOnly, true);
  await assert.rejects(d.write([new Uint8Array(512)], 0), /read-only/);
  await assert.rejects(d.writeZeroes(0, 512), /read-only/);
  assert.ok(readFileSync(p).every((b) => b === 1));
});
