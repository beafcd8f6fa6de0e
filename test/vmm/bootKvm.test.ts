// The hypervisor extension end to end (issue 19): Debian's kernel in a Typevisor guest with
// --hypervisor on loads its own kvm.ko, creates /dev/kvm, and a small KVM user program
// (test/riscv/kvm/kvmguest.c, cross-compiled here, static) runs a guest of its own through the KVM
// API: the nested guest sums 1..100, reports 5050 through an MMIO exit and powers off with the SBI
// SRST call. The same initramfs runs first on qemu-system-riscv64 -cpu rv64,h=true (the reference),
// and both must print the same lines.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { debianImage, tail, typevisorRun } from "./bootHelper.js";
import { CpioWriter } from "../../src/images/Cpio.js";
import { decompressModule } from "../../src/images/KernelModule.js";
import { ImageCache } from "../../src/images/ImageCache.js";

const CMD = "insmod /kvm/irqbypass.ko; insmod /kvm/kvm.ko; ls -l /dev/kvm; /kvm/kvmguest; echo KVMGUEST-RC=$?";
const APPEND = `console=ttyS0 tv.nodisk=1 tv.nonet=1 tv.cmd="${CMD}"`;

function have(tool: string): boolean {
  try {
    execFileSync(tool, ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** kvm.ko and irqbypass.ko of the image's kernel, from the linux-image package in the apt cache. */
function kvmModules(kernel: string, work: string): { kvm: Buffer; irqbypass: Buffer } | string {
  const manifestPath = join(dirname(kernel), "manifest.json");
  if (!existsSync(manifestPath))
    return "the image has no manifest (TYPEVISOR_TEST_KERNEL?): cannot find its kernel package";
  const m = JSON.parse(readFileSync(manifestPath, "utf8")) as { kernelRelease?: string; arch: string; suite: string };
  const debs = join(new ImageCache().aptRootDir(m.arch, m.suite), "debs");
  const deb = existsSync(debs)
    ? readdirSync(debs).find((f) => f.startsWith(`linux-image-${m.kernelRelease}_`) && f.endsWith(".deb"))
    : undefined;
  if (!deb) return `linux-image-${m.kernelRelease} is not in the apt cache ${debs}`;
  execFileSync("dpkg-deb", ["-x", join(debs, deb), join(work, "k")]);
  const find = (name: string): Buffer => {
    const path = execFileSync("find", [join(work, "k"), "-name", `${name}.ko*`], { encoding: "utf8" }).split("\n")[0]!;
    assert.ok(path, `${name}.ko is not in ${deb}`);
    return decompressModule(path, readFileSync(path));
  };
  return { kvm: find("kvm"), irqbypass: find("irqbypass") };
}

function runQemu(kernel: string, initrd: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn(
      "qemu-system-riscv64",
      [
        "-M",
        "virt",
        "-cpu",
        "rv64,h=true",
        "-m",
        "512M",
        "-nographic",
        "-kernel",
        kernel,
        "-initrd",
        initrd,
        "-append",
        APPEND,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    child.stdout.setEncoding("latin1").on("data", (d: string) => (out += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}

/** The lines both machines must print. */
function kvmLines(out: string): string[] {
  return out
    .split(/\r?\n/)
    .filter((l) => /^(KVM-MMIO|KVM-SHUTDOWN|KVMGUEST-RC|KVM-FAIL)/.test(l) || /^crw.* \/dev\/kvm$/.test(l))
    .map((l) => (l.startsWith("crw") ? "crw /dev/kvm" : l));
}

test("KVM inside a Typevisor guest runs a nested guest (MMIO exit, SBI shutdown), as on QEMU with h=true", async (t) => {
  const img = await debianImage();
  if (typeof img === "string") return t.skip(img);
  if (!have("riscv64-linux-gnu-gcc"))
    return t.skip("riscv64-linux-gnu-gcc not installed (apt-get install gcc-riscv64-linux-gnu)");
  const work = mkdtempSync(join(tmpdir(), "tv-kvm-"));
  try {
    const mods = kvmModules(img.kernel, work);
    if (typeof mods === "string") return t.skip(mods);
    const bin = join(work, "kvmguest");
    execFileSync("riscv64-linux-gnu-gcc", ["-O2", "-static", "-o", bin, "test/riscv/kvm/kvmguest.c"]);
    // A second cpio appended to the image's initramfs: the kernel unpacks both (Documentation/
    // driver-api/early-userspace/buffer-format.rst), so /kvm joins the image's files.
    const cpio = new CpioWriter();
    cpio.file("kvm/kvm.ko", mods.kvm);
    cpio.file("kvm/irqbypass.ko", mods.irqbypass);
    cpio.file("kvm/kvmguest", readFileSync(bin), 0o755);
    const initrd = join(work, "initrd.cpio");
    writeFileSync(initrd, Buffer.concat([readFileSync(img.initrd), cpio.finish()]));

    const want = ["crw /dev/kvm", "KVM-MMIO addr=0x10000000 len=8 value=5050", "KVM-SHUTDOWN type=1", "KVMGUEST-RC=0"];
    if (have("qemu-system-riscv64")) {
      const q = await runQemu(img.kernel, initrd, 240_000);
      assert.deepEqual(
        kvmLines(q),
        want,
        `QEMU (the reference) disagrees with the expected output:\n${q.slice(-3000)}`,
      );
    }
    const r = await typevisorRun(
      [
        "--kernel",
        img.kernel,
        "--initrd",
        initrd,
        "--memory",
        "512M",
        "--hypervisor",
        "on",
        "--stats",
        "--append",
        APPEND,
      ],
      300_000,
    );
    assert.equal(r.status, 0, tail(r));
    assert.deepEqual(kvmLines(r.stdout), want, tail(r));
    // --stats shows the nested guest's world switches and its G-stage faults (the MMIO exit is one).
    const s = /world switches (\d+) entries \/ (\d+) exits, G-stage \(guest-page\) faults (\d+)/.exec(
      r.stdout + r.stderr,
    );
    assert.ok(s, tail(r));
    assert.ok(Number(s[1]) >= 2 && Number(s[2]) >= 2 && Number(s[3]) >= 1, s[0]);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
