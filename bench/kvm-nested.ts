// The cost of the second level of virtualization (issue 19): KVM inside a Typevisor guest.
// One boot of Debian's kernel runs, inside the guest:
//   kvmguest native N   the summing loop (4 instructions per iteration) in the outer guest's user mode
//   kvmguest N 1        the same loop in a KVM guest (VS-mode, two-stage translation), 2 exits
//   kvmguest 0 W        W MMIO writes from the KVM guest: W world switches guest -> KVM -> user space
// and the same initramfs boots on qemu-system-riscv64 -cpu rv64,h=true (TCG) as the reference, in
// the same run. Prints the loop times, the nested/outer ratio and the time per MMIO exit.
// Usage: npx tsc -p . && node dist/bench/kvm-nested.js [N] [W]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { debianImage, typevisorRun } from "../test/vmm/bootHelper.js";
import { have, kvmInitrd, qemuRun } from "../test/vmm/kvmInitrd.js";

const n = Number(process.argv[2] ?? 20_000_000);
const w = Number(process.argv[3] ?? 2000);
const cmd =
  `insmod /kvm/irqbypass.ko; insmod /kvm/kvm.ko; /kvm/kvmguest native ${n}; /kvm/kvmguest ${n} 1; ` +
  `/kvm/kvmguest 0 ${w}`;
const append = `console=ttyS0 tv.nodisk=1 tv.nonet=1 tv.cmd="${cmd}"`;

interface Result {
  nativeMs: number;
  nestedMs: number;
  exitUs: number;
}

function parse(name: string, out: string): Result {
  const native = /NATIVE-TIME run_ns=(\d+) value=(\d+)/.exec(out);
  const times = [...out.matchAll(/KVM-TIME run_ns=(\d+) exits=(\d+) value=(\d+)/g)];
  if (!native || times.length !== 2)
    throw new Error(`${name}: the guest did not print the timings:\n${out.slice(-3000)}`);
  const want = String((BigInt(n) * BigInt(n + 1)) / 2n);
  if (native[2] !== want || times[0]![3] !== want) throw new Error(`${name}: wrong sum (want ${want})`);
  return {
    nativeMs: Number(native[1]) / 1e6,
    nestedMs: Number(times[0]![1]) / 1e6,
    exitUs: Number(times[1]![1]) / 1e3 / Number(times[1]![2]),
  };
}

function line(name: string, r: Result): string {
  return (
    `${name.padEnd(28)} outer loop ${r.nativeMs.toFixed(1).padStart(8)} ms   nested loop ${r.nestedMs.toFixed(1).padStart(8)} ms` +
    `   nested/outer ${(r.nestedMs / r.nativeMs).toFixed(2)}x   MMIO exit ${r.exitUs.toFixed(1)} us`
  );
}

const img = await debianImage();
if (typeof img === "string") throw new Error(img);
const work = mkdtempSync(join(tmpdir(), "tv-kvm-bench-"));
try {
  const built = kvmInitrd(img.kernel, img.initrd, work);
  if (typeof built === "string") throw new Error(built);
  console.log(`kvm-nested: loop of ${n} iterations (${4 * n} instructions), ${w} MMIO exits`);
  const tv = await typevisorRun(
    ["--kernel", img.kernel, "--initrd", built.path, "--hypervisor", "on", "--stats", "--append", append],
    900_000,
  );
  console.log(line("typevisor (KVM in guest)", parse("typevisor", tv.stdout)));
  const ws = /hypervisor extension: .*/.exec(tv.stdout + tv.stderr);
  if (ws) console.log(`  typevisor --stats: ${ws[0]}`);
  if (have("qemu-system-riscv64")) {
    const q = await qemuRun(img.kernel, built.path, append, 900_000);
    console.log(line("qemu-system (h=true, TCG)", parse("qemu", q)));
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
