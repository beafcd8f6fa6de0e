// The A extension (Unprivileged ISA ch. 8) and FENCE on guest RAM that harts on other host threads
// access at the same time (src/vmm/vcpu: one worker thread per vCPU over one shared
// WebAssembly.Memory). The interpreter uses these only when Hart.smp is set; a single-threaded
// machine keeps its plain loads and stores.
//
// - AMOs are host atomic read-modify-writes (JavaScript Atomics on the SharedArrayBuffer, the
//   same memory the translator's wasm atomics reach), so every hart's increments count exactly.
//   MIN/MAX[U] have no host instruction: a compare-and-swap loop.
// - SC is a compare-and-swap against the value the LR read: it fails if memory no longer holds that
//   value (another hart stored a different one), which is what the reservation set protects. A store
//   of the same value in between (ABA) does not break it; the ISA permits an SC to succeed only when
//   no other hart wrote the reserved bytes, so this is an approximation QEMU makes too (TCG's
//   cmpxchg-based SC), harmless for the lock and counter idioms the ISA's LR/SC forward-progress
//   rules (8.3) are about.
// - FENCE: Atomics operations are sequentially consistent (a locked instruction, a full barrier, on
//   x86-64), which gives RVWMO's fence rw,rw and everything weaker.
//
// 64-bit values are int32 pairs like the hart's registers; results are left in A_LO/A_HI so the
// hot path allocates nothing for word-sized operations (doubleword ones go through BigInt).

/** Result of load64()/amo(): the old value, low and high words (sign-extended for words). */
export let A_LO = 0;
export let A_HI = 0;

let view64: BigInt64Array | undefined;
/** A BigInt64Array over the same buffer as `ram32` (one per buffer, cached). */
function wide(ram32: Int32Array): BigInt64Array {
  if (view64 === undefined || view64.buffer !== ram32.buffer) {
    view64 = new BigInt64Array(ram32.buffer, 0, ram32.length >>> 1);
  }
  return view64;
}

function split(v: bigint): void {
  A_LO = Number(BigInt.asIntN(32, v));
  A_HI = Number(BigInt.asIntN(32, v >> 32n));
}

function join(lo: number, hi: number): bigint {
  return (BigInt(hi | 0) << 32n) | BigInt(lo >>> 0);
}

/** Single-copy atomic 64-bit load of the aligned doubleword at byte offset `off` into A_LO/A_HI. */
export function load64(ram32: Int32Array, off: number): void {
  split(Atomics.load(wide(ram32), off >>> 3));
}

/** The full barrier of FENCE rw,rw (any Atomics operation is one; this one touches nothing). */
const barrier = new Int32Array(new SharedArrayBuffer(4));
export function fullFence(): void {
  Atomics.add(barrier, 0, 0);
}

/**
 * Stores (nlo:nhi) at the aligned `size`-byte word at byte offset `off` if it still holds
 * (elo:ehi) (only the low words for size 4). True when it stored.
 */
export function cas(
  ram32: Int32Array,
  off: number,
  size: number,
  elo: number,
  ehi: number,
  nlo: number,
  nhi: number,
): boolean {
  if (size === 4) return Atomics.compareExchange(ram32, off >>> 2, elo, nlo) === elo;
  const e = join(elo, ehi);
  return Atomics.compareExchange(wide(ram32), off >>> 3, e, join(nlo, nhi)) === e;
}

/**
 * AMO with funct5 `f5` (0 ADD, 1 SWAP, 4 XOR, 8 OR, 12 AND, 16 MIN, 20 MAX, 24 MINU, 28 MAXU) of
 * operand (blo:bhi) on the aligned `size`-byte word at byte offset `off`; the old value (sign-extended
 * for words) is left in A_LO/A_HI.
 */
export function amo(ram32: Int32Array, off: number, size: number, f5: number, blo: number, bhi: number): void {
  if (size === 4) {
    const w = off >>> 2;
    let o: number;
    switch (f5) {
      case 0:
        o = Atomics.add(ram32, w, blo);
        break;
      case 1:
        o = Atomics.exchange(ram32, w, blo);
        break;
      case 4:
        o = Atomics.xor(ram32, w, blo);
        break;
      case 8:
        o = Atomics.or(ram32, w, blo);
        break;
      case 12:
        o = Atomics.and(ram32, w, blo);
        break;
      default:
        for (;;) {
          o = Atomics.load(ram32, w);
          const keep =
            f5 === 16 ? o < blo : f5 === 20 ? o > blo : f5 === 24 ? o >>> 0 < blo >>> 0 : o >>> 0 > blo >>> 0;
          if (keep || Atomics.compareExchange(ram32, w, o, blo) === o) break;
        }
    }
    A_LO = o;
    A_HI = o >> 31;
    return;
  }
  const m = wide(ram32);
  const i = off >>> 3;
  const b = join(blo, bhi);
  let o: bigint;
  switch (f5) {
    case 0:
      o = Atomics.add(m, i, b);
      break;
    case 1:
      o = Atomics.exchange(m, i, b);
      break;
    case 4:
      o = Atomics.xor(m, i, b);
      break;
    case 8:
      o = Atomics.or(m, i, b);
      break;
    case 12:
      o = Atomics.and(m, i, b);
      break;
    default:
      for (;;) {
        o = Atomics.load(m, i);
        const keep =
          f5 === 16
            ? o < b
            : f5 === 20
              ? o > b
              : f5 === 24
                ? BigInt.asUintN(64, o) < BigInt.asUintN(64, b)
                : BigInt.asUintN(64, o) > BigInt.asUintN(64, b);
        if (keep || Atomics.compareExchange(m, i, o, b) === o) break;
      }
  }
  split(o);
}
