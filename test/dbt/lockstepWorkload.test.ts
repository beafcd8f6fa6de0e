// Lockstep (src/dbt/Lockstep.ts) on a real workload: bench/interp-mips/kernel.c (xorshift,
// table-driven CRC-32, insertion sort), compiled by the Debian cross compiler, runs ~30 million
// instructions on a translating and an interpreting hart with no divergence, mostly translated, and
// prints what qemu-riscv64 prints. And lockstep does find a divergence when there is one.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseElf } from "../../src/boot/Elf.js";
import { loadElf, loadSpan } from "../../src/boot/ElfLoader.js";
import { GuestMemory } from "../../src/memory/GuestMemory.js";
import { IoBus } from "../../src/memory/IoBus.js";
import { Hart, ExitReason, PRIV_M } from "../../src/riscv/Hart.js";
import { attachDbt, DBT_ENGINE_BYTES, type Dbt } from "../../src/dbt/Dbt.js";
import { lockstep, compareHarts, type LockstepOptions } from "../../src/dbt/Lockstep.js";
import { CC, haveTool } from "../riscv-conformance/toolchain.js";
import { gpa } from "../../src/memory/Address.js";

// ~28 million instructions (about 280,000 per round): long enough that the hot loops run translated
// for most of it, short enough for two harts in well under a minute on a loaded 2-core host.
const ROUNDS = 100;
const RAM = 16 << 20;
const ECALL_M = 11;
const SYS_WRITE = 64,
  SYS_EXIT = 93;

const haveCc = haveTool(CC);
const haveQemu = haveTool("qemu-riscv64", "--version");
const skipCc = haveCc ? undefined : `${CC} is not installed (apt-get install gcc-riscv64-linux-gnu)`;

let built: string | undefined;
/** kernel.c built once for all tests, with the flags of bench/interp-mips/run.ts. */
function kernelElf(): string {
  if (built !== undefined) return built;
  const src = fileURLToPath(new URL("../../../bench/interp-mips/kernel.c", import.meta.url));
  const out = join(mkdtempSync(join(tmpdir(), "tv-lockstep-")), "kernel");
  const cc = spawnSync(
    CC,
    [
      "-O2",
      "-static",
      "-nostdlib",
      "-fno-stack-protector",
      "-fno-builtin",
      "-march=rv64gc",
      "-mabi=lp64d",
      `-DROUNDS=${ROUNDS}`,
      "-o",
      out,
      src,
    ],
    { encoding: "utf8" },
  );
  if (cc.status !== 0) throw new Error(`building kernel.c failed:\n${cc.error ? String(cc.error) : cc.stderr}`);
  built = out;
  return out;
}

interface Machine {
  hart: Hart;
  memory: GuestMemory;
  out: string[];
  dbt: Dbt | undefined;
}

/** The ELF on one hart in M-mode, ecalls handed to the host (as bench/interp-mips/run.ts does). */
function machine(elfPath: string, translate: boolean): Machine {
  const elf = parseElf(readFileSync(elfPath), elfPath);
  const base = Math.floor(loadSpan(elf, true).low / 4096) * 4096;
  const memory = new GuestMemory({ base, size: RAM, shared: false, engineBytes: translate ? DBT_ENGINE_BYTES : 0 });
  loadElf(elf, memory, true);
  const hart = new Hart({ memory, bus: new IoBus() });
  hart.priv = PRIV_M;
  hart.writeCsr(0x300, 1n << 13n); // mstatus.FS = Initial: gcc may use FP registers for copies
  hart.exitMask = 0xffff_ffff;
  hart.setPc(elf.entry);
  hart.setX(2, BigInt(base + RAM - 64)); // sp at the top of RAM, as a Linux stack would be
  // Hot threshold 2: pages are translated almost at once, so the comparison covers translated code.
  const dbt = translate ? attachDbt(hart, { hotThreshold: 2 }) : undefined;
  return { hart, memory, out: [], dbt };
}

/**
 * Serves write/exit on one machine, as the Linux ABI would; false at exit. Both harts get exactly
 * this, so any difference it causes is a difference of the harts.
 */
function serveEcall(m: Machine): boolean {
  const h = m.hart;
  if (h.exitCause !== ECALL_M)
    throw new Error(`exception ${h.exitCause} at 0x${h.getPc().toString(16)} (only ecall is expected)`);
  const nr = Number(h.getX(17));
  if (nr === SYS_EXIT) return false;
  if (nr === SYS_WRITE) {
    m.out.push(Buffer.from(m.memory.read(gpa(Number(h.getX(11))), Number(h.getX(12)))).toString("latin1"));
    h.setX(10, h.getX(12));
  } else {
    h.setX(10, -38n); // ENOSYS
  }
  h.setPc(h.getPc() + 4n);
  return true;
}

function runLockstep(a: Machine, b: Machine, opts: LockstepOptions) {
  return lockstep(a.hart, b.hart, {
    maxInsns: 100_000_000,
    onExit: (reason) => {
      if (reason !== ExitReason.Trap) return false;
      const goA = serveEcall(a),
        goB = serveEcall(b);
      return goA && goB;
    },
    ...opts,
  });
}

test(
  "kernel.c (xorshift, CRC-32, insertion sort) runs in lockstep without divergence, mostly translated, printing what qemu prints",
  { skip: skipCc },
  (t) => {
    const elf = kernelElf();
    const a = machine(elf, true),
      b = machine(elf, false);
    const t0 = performance.now();
    const r = runLockstep(a, b, { chunk: 20_000 });
    const seconds = (performance.now() - t0) / 1000;
    assert.equal(r.divergence, undefined);
    assert.equal(
      r.reason,
      ExitReason.Trap,
      `stopped after ${r.insns} instructions (${b.hart.instret} retired) at pc 0x${b.hart.getPc().toString(16)} without reaching exit`,
    );
    assert.equal(Number(b.hart.getX(17)), SYS_EXIT, "the program did not reach exit");
    assert.equal(compareHarts(a.hart, b.hart, true), undefined, "state differs at exit");
    const instret = b.hart.instret;
    assert.ok(
      instret > 20e6 && instret < 40e6,
      `the workload ran ${instret} instructions, not 20-40 million: adjust ROUNDS`,
    );
    const stats = a.dbt!.stats;
    assert.ok(
      stats.translatedInsns > 0.5 * instret,
      `only ${stats.translatedInsns} of ${instret} instructions ran translated`,
    );
    assert.deepEqual(a.out, b.out);
    assert.match(b.out.join(""), /^checksum [0-9a-f]{16}\n$/);
    t.diagnostic(
      `${instret} instructions in ${seconds.toFixed(1)} s, ${((100 * stats.translatedInsns) / instret).toFixed(1)}% translated`,
    );
    if (!haveQemu) {
      t.diagnostic("qemu-riscv64 is not installed (apt-get install qemu-user): output not compared with QEMU");
      return;
    }
    const q = spawnSync("qemu-riscv64", [elf], { encoding: "latin1", timeout: 30_000 });
    assert.equal(q.status, 0, `qemu-riscv64 failed: ${q.stderr}`);
    assert.equal(b.out.join(""), q.stdout);
  },
);

// A short run of the same program (a few rounds) for the tests that break one machine on purpose.
const SHORT = 400_000;

test(
  "lockstep reports a register corrupted on the translating hart, naming it, with pc and instret",
  { skip: skipCc },
  () => {
    const elf = kernelElf();
    const a = machine(elf, true),
      b = machine(elf, false);
    let chunks = 0;
    // sp (x2) is only ever moved relative to itself, so a wrong sp stays wrong until the next check.
    const r = runLockstep(a, b, {
      chunk: 1000,
      maxInsns: SHORT,
      onChunk: () => {
        if (++chunks === 50) a.hart.setX(2, a.hart.getX(2) ^ 0x100n);
        return "continue";
      },
    });
    assert.ok(a.dbt!.stats.translatedInsns > 0, "nothing ran translated before the corruption");
    assert.match(r.divergence ?? "", /\bx2 dbt 0x[0-9a-f]+ interp 0x[0-9a-f]+/);
    assert.match(r.divergence ?? "", /in instructions 50000\.\.51000 \(interp pc 0x[0-9a-f]+, instret 51000\)/);
    assert.equal(r.insns, 50_000);
  },
);

test("lockstep with compareRam reports the first RAM byte that differs", { skip: skipCc }, () => {
  const elf = kernelElf();
  const a = machine(elf, true),
    b = machine(elf, false);
  // A byte the program never touches (between its data and its stack): only the RAM comparison sees it.
  const addr = a.memory.base + RAM / 2 + 5;
  let chunks = 0;
  const r = runLockstep(a, b, {
    chunk: 1000,
    maxInsns: SHORT,
    compareRam: true,
    onChunk: () => {
      if (++chunks === 20) a.memory.write(gpa(addr), Uint8Array.of(0x5a));
      return "continue";
    },
  });
  assert.match(r.divergence ?? "", new RegExp(`RAM differs first at 0x${addr.toString(16)}: dbt 0x5a interp 0x0`));
  assert.doesNotMatch(r.divergence ?? "", /\bx\d+ dbt/, "only RAM was changed");
});
