// One virtio-blk request built the way Linux's virtio_blk does it: header, data, status.
import assert from "node:assert/strict";
import type { Rig } from "./helpers.js";
import type { DriverQueue } from "./VirtioDriver.js";
import { gpa } from "../../src/memory/Address.js";

/** One block request the way Linux's virtio_blk builds it: header, data, status. */
export async function blkRequest(
  r: Rig,
  q: DriverQueue,
  type: number,
  sector: number,
  data: Uint8Array | number,
  indirect = false,
): Promise<{ status: number; len: number; data: Uint8Array }> {
  const { mem, drv } = r;
  const hdr = drv.alloc.alloc(16);
  mem.writeU32(gpa(hdr), type);
  mem.writeU32(gpa(hdr + 4), 0);
  mem.writeU64(gpa(hdr + 8), BigInt(sector));
  const status = drv.alloc.alloc(1, 1);
  mem.writeU8(gpa(status), 0xff);
  const len = typeof data === "number" ? data : data.length;
  const buf = len > 0 ? drv.alloc.alloc(len, 512) : 0;
  if (typeof data !== "number") mem.write(gpa(buf), data);
  const out = [{ addr: hdr, len: 16 }];
  const inb = [{ addr: status, len: 1 }];
  if (len > 0) (typeof data === "number" ? inb : out).splice(typeof data === "number" ? 0 : 1, 0, { addr: buf, len });
  q.add(out, inb, indirect);
  q.kick();
  const used = await drv.waitUsed(q);
  assert.equal(used.length, 1, "request completed");
  return {
    status: mem.readU8(gpa(status)),
    len: used[0]!.len,
    data: len > 0 ? mem.read(gpa(buf), len) : new Uint8Array(0),
  };
}
