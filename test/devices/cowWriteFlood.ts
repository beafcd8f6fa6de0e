// Reproduction for issue 12 item 5 (not part of `npm test`: it writes 2 GiB to a sparse temp file).
// An 80 MiB guest submits 32 concurrent 64 MiB virtio-blk writes of one guest buffer to a
// copy-on-write overlay and the script prints the process's peak RSS. Run after a build:
//   node dist/test/devices/cowWriteFlood.js
// Before the in-flight bound and the copy-free overlay write path this reached ~2.1 GB.
import { mkdtempSync, rmSync, writeFileSync, truncateSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDisk } from "../../src/devices/block/openDisk.js";
import { VirtioBlk, VIRTIO_BLK_T_OUT } from "../../src/devices/virtio/VirtioBlk.js";
import { makeGuest, rig } from "./helpers.js";
import { gpa } from "../../src/memory/Address.js";

const REQUESTS = 32;
const LEN = 64 << 20;

const dir = mkdtempSync(join(tmpdir(), "typevisor-cowflood-"));
try {
  const base = join(dir, "base.img");
  writeFileSync(base, "");
  truncateSync(base, REQUESTS * LEN);
  const backend = await openDisk({ path: base, overlay: join(dir, "overlay.cow") });
  const mem = makeGuest(80 << 20);
  const r = rig(mem, (m) => new VirtioBlk(m, backend));
  r.drv.init(0n, 1);
  const q = r.drv.queues[0]!;
  const buf = r.drv.alloc.alloc(LEN, 4096);
  mem.bytes.fill(0x5a, buf - mem.base, buf - mem.base + LEN);
  let peak = 0;
  const sample = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  const t0 = Date.now();
  for (let i = 0; i < REQUESTS; i++) {
    const hdr = r.drv.alloc.alloc(16);
    mem.writeU32(gpa(hdr), VIRTIO_BLK_T_OUT);
    mem.writeU64(gpa(hdr + 8), BigInt((i * LEN) / 512));
    const status = r.drv.alloc.alloc(1, 1);
    q.add(
      [
        { addr: hdr, len: 16 },
        { addr: buf, len: LEN },
      ],
      [{ addr: status, len: 1 }],
    );
  }
  q.kick();
  const used = await r.drv.waitUsed(q, REQUESTS);
  clearInterval(sample);
  peak = Math.max(peak, process.memoryUsage().rss);
  await backend.close();
  const maxRss = process.resourceUsage().maxRSS * 1024;
  console.log(
    `${used.length}/${REQUESTS} writes of ${LEN >> 20} MiB completed in ${Date.now() - t0} ms; guest RAM 80 MiB; peak RSS ${(Math.max(peak, maxRss) / 2 ** 20).toFixed(0)} MiB`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
