// The core's own gzip decompressor (src/boot/Gunzip.ts) against Node's zlib: stored, fixed and
// dynamic Huffman blocks, multi-member files, and the errors of truncated or corrupt input.
import { test } from "node:test";
import assert from "node:assert/strict";
import { gzipSync, constants } from "node:zlib";
import { gunzip, GzipError } from "../../src/boot/Gunzip.js";

/** Deterministic bytes: text-like runs (compressible) mixed with noise. */
function sample(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = (x >>> 0) % 7 === 0 ? x & 0xff : 97 + ((i >> 3) % 26);
  }
  return b;
}

test("gunzip matches zlib for stored, fixed and dynamic blocks", () => {
  for (const [n, level, strategy] of [
    [0, 6, constants.Z_DEFAULT_STRATEGY],
    [1, 6, constants.Z_DEFAULT_STRATEGY],
    [100_000, 0, constants.Z_DEFAULT_STRATEGY], // stored blocks
    [5_000, 9, constants.Z_FIXED], // fixed Huffman codes
    [300_000, 9, constants.Z_DEFAULT_STRATEGY], // dynamic codes, long matches
    [70_000, 1, constants.Z_HUFFMAN_ONLY],
    [70_000, 6, constants.Z_RLE],
  ] as const) {
    const data = sample(n, n + level);
    const gz = gzipSync(data, { level, strategy });
    assert.deepEqual(gunzip(new Uint8Array(gz)), data, `n=${n} level=${level} strategy=${strategy}`);
  }
});

test("gunzip concatenates members and rejects bad input by name", () => {
  const a = sample(1000, 1);
  const b = sample(2000, 2);
  const two = Buffer.concat([gzipSync(a), gzipSync(b)]);
  assert.deepEqual(gunzip(new Uint8Array(two)), new Uint8Array([...a, ...b]));
  const gz = new Uint8Array(gzipSync(sample(50_000, 3)));
  assert.throws(
    () => gunzip(gz.subarray(0, gz.length - 100)),
    (e) => e instanceof GzipError,
  );
  const corrupt = gz.slice();
  corrupt[corrupt.length - 6]! ^= 1; // CRC-32 of the trailer
  assert.throws(() => gunzip(corrupt), /CRC-32 mismatch/);
  assert.throws(() => gunzip(new Uint8Array(40)), /not gzip data/);
});
