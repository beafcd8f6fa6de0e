// Builds an initramfs for KVM-in-a-guest runs (test/vmm/bootKvm.test.ts, bench/kvm-nested.ts): the
// debian-riscv64 image's initramfs with a second cpio appended (the kernel unpacks both,
// Documentation/driver-api/early-userspace/buffer-format.rst) holding /kvm/kvm.ko and its
// dependency irqbypass.ko from the image kernel's package (in the apt cache), and /kvm/kvmguest, the
// KVM user program test/riscv/kvm/kvmguest.c cross-compiled static.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { CpioWriter } from "../../src/images/Cpio.js";
import { decompressModule } from "../../src/images/KernelModule.js";
import { ImageCache } from "../../src/images/ImageCache.js";

export function have(tool: string): boolean {
  try {
    execFileSync(tool, ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** kvm.ko and irqbypass.ko of the image's kernel, unpacked into `work`; or why they are not available. */
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
  const find = (name: string): Buffer | undefined => {
    const path = execFileSync("find", [join(work, "k"), "-name", `${name}.ko*`], { encoding: "utf8" }).split("\n")[0];
    return path ? decompressModule(path, readFileSync(path)) : undefined;
  };
  const kvm = find("kvm"),
    irqbypass = find("irqbypass");
  if (!kvm || !irqbypass) return `${deb} has no kvm.ko/irqbypass.ko (a kernel without CONFIG_KVM=m)`;
  return { kvm, irqbypass };
}

/** Writes `work`/initrd.cpio (image initramfs + /kvm) and returns its path, or why it cannot be built. */
export function kvmInitrd(kernel: string, initrd: string, work: string): string | { path: string } {
  if (!have("riscv64-linux-gnu-gcc"))
    return "riscv64-linux-gnu-gcc not installed (apt-get install gcc-riscv64-linux-gnu)";
  const mods = kvmModules(kernel, work);
  if (typeof mods === "string") return mods;
  const bin = join(work, "kvmguest");
  execFileSync("riscv64-linux-gnu-gcc", ["-O2", "-static", "-o", bin, "test/riscv/kvm/kvmguest.c"]);
  const cpio = new CpioWriter();
  cpio.file("kvm/kvm.ko", mods.kvm);
  cpio.file("kvm/irqbypass.ko", mods.irqbypass);
  cpio.file("kvm/kvmguest", readFileSync(bin), 0o755);
  const path = join(work, "initrd.cpio");
  writeFileSync(path, Buffer.concat([readFileSync(initrd), cpio.finish()]));
  return { path };
}

/** `-cpu rv64,h=true` QEMU with the same kernel, initramfs and command line; resolves with its console output. */
export function qemuRun(kernel: string, initrd: string, append: string, timeoutMs: number): Promise<string> {
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
        append,
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
