// A scripted 9P client's message builder, shared by the server tests (test/fs) and the virtio-9p
// device tests (test/devices). (Not a test file itself: it only exports helpers.)

/** Builds a T-message: size[4] type[1] tag[2] then the fields (numbers as u32 unless [n, width]). */
export function msg(type: number, ...fields: (number | string | [number | bigint, 1 | 2 | 4 | 8] | Buffer)[]): Buffer {
  const parts: Buffer[] = [];
  for (const f of fields) {
    if (typeof f === "string") {
      const s = Buffer.from(f);
      const b = Buffer.alloc(2);
      b.writeUInt16LE(s.length);
      parts.push(b, s);
    } else if (Buffer.isBuffer(f)) parts.push(f);
    else {
      const [v, w] = typeof f === "number" ? [f, 4 as const] : f;
      const b = Buffer.alloc(w);
      if (w === 1) b.writeUInt8(Number(v));
      else if (w === 2) b.writeUInt16LE(Number(v));
      else if (w === 4) b.writeUInt32LE(Number(v));
      else b.writeBigUInt64LE(BigInt(v));
      parts.push(b);
    }
  }
  const body = Buffer.concat(parts);
  const h = Buffer.alloc(7);
  h.writeUInt32LE(7 + body.length);
  h.writeUInt8(type, 4);
  h.writeUInt16LE(1, 5);
  return Buffer.concat([h, body]);
}
