// A real pull of the default image from Debian's archive into a temporary cache (skipped, with the
// reason, when apt or the archive is not available), checked with independent tools: sha256 of
// every artifact, GNU cpio's listing of the initramfs, qemu-riscv64 running the guest's busybox,
// the host's depmod on the same kernel package, and QEMU booting the image to the init's markers.
// Set TYPEVISOR_TEST_CACHE=DIR to keep (and reuse) the cache between runs.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { AptUnavailableError, ImageCache, pullImage, type Manifest } from "../../src/images/index.js";
import { verifyImage } from "../../src/images/Manifest.js";
import { ModulesDep } from "../../src/images/ModulesDep.js";

const bin = fileURLToPath(new URL("../../../bin/typevisor.js", import.meta.url));
const keep = process.env["TYPEVISOR_TEST_CACHE"];
const cache = new ImageCache(keep ?? mkdtempSync(join(tmpdir(), "tv-pull-")));
let skipReason: string | undefined;
let manifest: Manifest;
let dir: string;

const have = (tool: string, args = ["--version"]) => spawnSync(tool, args).status === 0;
const sha = (p: string) => createHash("sha256").update(readFileSync(p)).digest("hex");

before(async () => {
  try {
    const r = await pullImage("debian-riscv64", { cache });
    manifest = r.manifest;
    dir = r.dir;
  } catch (e) {
    if (e instanceof AptUnavailableError)
      skipReason = `cannot pull from Debian's archive here: ${e.message.split("\n").slice(0, 3).join(" / ")}`;
    else throw e;
  }
});

after(() => {
  if (!keep) rmSync(cache.root, { recursive: true, force: true });
});

function cpioOut(archive: string, member: string): Buffer {
  const r = spawnSync("cpio", ["-i", "--quiet", "--to-stdout", member], {
    input: readFileSync(archive),
    maxBuffer: 1 << 28,
  });
  assert.equal(r.status, 0, r.stderr.toString());
  return r.stdout;
}

test("the manifest names the packages and versions and the sha256 of every artifact", (t) => {
  if (skipReason) return t.skip(skipReason);
  const names = manifest.packages.map((p) => p.name);
  assert.equal(names[0], "linux-image-riscv64");
  assert.match(names[1]!, /^linux-image-6\.\d+\.\d+.*-riscv64$/);
  assert.equal(names[2], "busybox-static");
  for (const p of manifest.packages) {
    assert.match(p.version, /\d/);
    assert.match(p.sha256, /^[0-9a-f]{64}$/);
  }
  for (const role of ["kernel", "initrd", "disk"] as const) {
    const a = manifest.artifacts[role]!;
    assert.equal(sha(join(dir, a.file)), a.sha256, `${role} sha256`);
    assert.equal(statSync(join(dir, a.file)).size, a.size);
  }
  // The downloaded .debs match the sha256 of the signed archive index recorded in the manifest.
  const debs = join(cache.aptRootDir("riscv64", "trixie"), "debs");
  for (const p of manifest.packages.slice(1)) {
    const f = readdirSync(debs).find((n) => n.startsWith(`${p.name}_`));
    assert.ok(f, `${p.name} .deb in ${debs}`);
    assert.equal(sha(join(debs, f)), p.sha256);
  }
  const k = readFileSync(join(dir, "kernel"));
  assert.equal(k.toString("latin1", 56, 60), "RSC\x05", "a RISC-V Linux Image");
  assert.match(manifest.kernelRelease!, /^6\.\d+\.\d+.*-riscv64$/);
});

test("cpio -t lists init, busybox with its applet links, /dev/console and the virtio modules", (t) => {
  if (skipReason) return t.skip(skipReason);
  if (!have("cpio")) return t.skip("GNU cpio is not installed (apt-get install cpio)");
  const r = spawnSync("cpio", ["-t", "--quiet"], {
    input: readFileSync(join(dir, "initrd.cpio")),
    encoding: "utf8",
    maxBuffer: 1 << 26,
  });
  assert.equal(r.status, 0, r.stderr);
  const list = new Set(r.stdout.trim().split("\n"));
  const rel = manifest.kernelRelease!;
  for (const p of [
    "init",
    "bin/busybox",
    "bin/sh",
    "bin/ls",
    "bin/mount",
    "bin/insmod",
    "bin/setsid",
    "bin/cttyhack",
    "sbin",
    "usr/bin",
    "dev/console",
    "etc/typevisor/modules",
    `lib/modules/${rel}/modules.dep`,
  ]) {
    assert.ok(list.has(p), `${p} in the initramfs`);
  }
  for (const m of [
    "drivers/virtio/virtio_mmio",
    "drivers/block/virtio_blk",
    "drivers/net/virtio_net",
    "drivers/net/net_failover",
    "net/core/failover",
    "drivers/char/hw_random/virtio-rng",
    "fs/ext4/ext4",
    "fs/jbd2/jbd2",
  ]) {
    assert.ok(list.has(`lib/modules/${rel}/kernel/${m}.ko`), `${m}.ko (decompressed) in the initramfs`);
  }
  const links = [...list].filter((p) => /^bin\/[^/]+$/.test(p) && p !== "bin/busybox");
  assert.equal(links.length, manifest.applets! - 1);
  // The init loads what modules.dep says, in an order that satisfies it.
  const boot = cpioOut(join(dir, "initrd.cpio"), "etc/typevisor/modules").toString().trim().split("\n");
  const disk = cpioOut(join(dir, "initrd.cpio"), "etc/typevisor/modules.disk").toString().trim().split("\n");
  assert.ok(
    disk.some((m) => m.endsWith("/ext4.ko")) && !boot.some((m) => m.endsWith("/ext4.ko")),
    "ext4 is a disk-only module",
  );
  const order = [...boot, ...disk];
  const dep = ModulesDep.parse(cpioOut(join(dir, "initrd.cpio"), `lib/modules/${rel}/modules.dep`).toString());
  order.forEach((m, i) => {
    for (const d of dep.deps.get(m) ?? [])
      assert.ok(order.indexOf(d) >= 0 && order.indexOf(d) < i, `${d} loads before ${m}`);
  });
});

test("the applet links are exactly what the guest's busybox --list prints (run under qemu-riscv64)", (t) => {
  if (skipReason) return t.skip(skipReason);
  const qemu = ["qemu-riscv64-static", "qemu-riscv64"].find((q) => have(q));
  if (!qemu) return t.skip("qemu-riscv64 is not installed (apt-get install qemu-user)");
  if (!have("cpio")) return t.skip("GNU cpio is not installed (apt-get install cpio)");
  const tmp = mkdtempSync(join(tmpdir(), "tv-bb-"));
  try {
    writeFileSync(join(tmp, "busybox"), cpioOut(join(dir, "initrd.cpio"), "bin/busybox"), { mode: 0o755 });
    const r = spawnSync(qemu, [join(tmp, "busybox"), "--list"], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const listed = r.stdout.trim().split("\n");
    assert.equal(listed.length, manifest.applets);
    const inCpio = spawnSync("cpio", ["-t", "--quiet"], {
      input: readFileSync(join(dir, "initrd.cpio")),
      encoding: "utf8",
      maxBuffer: 1 << 26,
    }).stdout;
    for (const a of listed) if (a !== "busybox") assert.ok(inCpio.includes(`\nbin/${a}\n`), `link bin/${a}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test("our modules.dep agrees with depmod's on the same kernel package", (t) => {
  if (skipReason) return t.skip(skipReason);
  const depmod = ["/usr/sbin/depmod", "/sbin/depmod"].find((p) => existsSync(p));
  if (!depmod) return t.skip("depmod is not installed (apt-get install kmod)");
  if (!have("cpio")) return t.skip("GNU cpio is not installed (apt-get install cpio)");
  const debs = join(cache.aptRootDir("riscv64", "trixie"), "debs");
  const deb = readdirSync(debs).find((n) => n.startsWith(`${manifest.packages[1]!.name}_`))!;
  const tmp = mkdtempSync(join(tmpdir(), "tv-depmod-"));
  try {
    assert.equal(spawnSync("dpkg-deb", ["-x", join(debs, deb), tmp]).status, 0);
    const rel = manifest.kernelRelease!;
    const base = existsSync(join(tmp, "usr/lib/modules", rel)) ? join(tmp, "usr") : tmp;
    const r = spawnSync(depmod, ["-b", base, rel], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const theirs = ModulesDep.parse(readFileSync(join(base, "lib/modules", rel, "modules.dep"), "utf8"));
    const ours = ModulesDep.parse(cpioOut(join(dir, "initrd.cpio"), `lib/modules/${rel}/modules.dep`).toString());
    assert.ok(ours.deps.size >= 10);
    for (const [path, deps] of ours.deps) {
      const real = theirs.deps.get(`${path}.xz`) ?? theirs.deps.get(path);
      assert.ok(real, `depmod knows ${path}`);
      assert.deepEqual(
        [...deps].sort(),
        real.map((d) => d.replace(/\.(xz|zst|gz)$/, "")).sort(),
        `dependencies of ${path}`,
      );
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test("QEMU boots the image: modules load, the data disk mounts on /mnt, tv.cmd runs and powers off", (t) => {
  if (skipReason) return t.skip(skipReason);
  if (!have("qemu-system-riscv64"))
    return t.skip("qemu-system-riscv64 is not installed (apt-get install qemu-system-misc opensbi)");
  const r = spawnSync(
    "qemu-system-riscv64",
    [
      "-M",
      "virt",
      "-m",
      "512M",
      "-nographic",
      "-bios",
      "default",
      "-nic",
      "none",
      "-kernel",
      join(dir, "kernel"),
      "-initrd",
      join(dir, "initrd.cpio"),
      "-append",
      `${manifest.cmdline} quiet tv.cmd="uname -r; cat /mnt/README; cut -d' ' -f1 /proc/modules | sort | tr '\\n' ,; echo"`,
      "-drive",
      `file=${join(dir, "disk.ext4")},format=raw,if=none,id=d0,snapshot=on`,
      "-device",
      "virtio-blk-device,drive=d0",
    ],
    { encoding: "utf8", timeout: 180_000, stdio: ["ignore", "pipe", "pipe"] },
  );
  const out = r.stdout.replace(/\r/g, "");
  assert.equal(r.status, 0, `qemu exited ${r.status} ${r.signal ?? ""}\n${out.slice(-3000)}`);
  assert.match(out, /typevisor-init: data disk \/dev\/vda mounted on \/mnt/);
  assert.match(out, /TYPEVISOR-BOOT-OK image=debian-riscv64/);
  const body = /TYPEVISOR-CMD-BEGIN\n([\s\S]*?)TYPEVISOR-CMD-END rc=(\d+)/.exec(out);
  assert.ok(body, out.slice(-3000));
  assert.equal(body[2], "0");
  const lines = body[1]!.trim().split("\n");
  assert.equal(lines[0], manifest.kernelRelease);
  assert.match(body[1]!, /Typevisor data disk of image debian-riscv64/);
  for (const m of ["ext4", "virtio_blk", "virtio_mmio", "virtio_net", "virtio_rng", "failover", "net_failover"])
    assert.match(body[1]!, new RegExp(`(^|,)${m},`, "m"));
  assert.doesNotMatch(out, /insmod .* failed/);
});

test("without a disk the image boots without ext4, and tv.poweroff=1 stops right after TYPEVISOR-BOOT-OK", (t) => {
  if (skipReason) return t.skip(skipReason);
  if (!have("qemu-system-riscv64"))
    return t.skip("qemu-system-riscv64 is not installed (apt-get install qemu-system-misc opensbi)");
  const r = spawnSync(
    "qemu-system-riscv64",
    [
      "-M",
      "virt",
      "-m",
      "512M",
      "-nographic",
      "-bios",
      "default",
      "-nic",
      "none",
      "-kernel",
      join(dir, "kernel"),
      "-initrd",
      join(dir, "initrd.cpio"),
      "-append",
      `${manifest.cmdline} tv.poweroff=1`,
    ],
    { encoding: "utf8", timeout: 180_000, stdio: ["ignore", "pipe", "pipe"] },
  );
  const out = r.stdout.replace(/\r/g, "");
  assert.equal(r.status, 0, out.slice(-3000));
  assert.match(out, /TYPEVISOR-BOOT-OK image=debian-riscv64/);
  assert.match(out, /virtio_mmio|Run \/init/);
  assert.doesNotMatch(out, /EXT4-fs|\/mnt/, "no disk: ext4 is neither loaded nor mounted");
  assert.doesNotMatch(out, /TYPEVISOR-CMD-BEGIN|Typevisor guest: Debian busybox shell/, "powered off before any shell");
});

test("a second pull is a no-op (CLI, --json)", (t) => {
  if (skipReason) return t.skip(skipReason);
  const before = statSync(join(dir, "initrd.cpio")).mtimeMs;
  const r = spawnSync(process.execPath, [bin, "image", "pull", "--json"], {
    encoding: "utf8",
    env: { ...process.env, TYPEVISOR_CACHE: cache.root },
  });
  assert.equal(r.status, 0, r.stderr);
  const res = JSON.parse(r.stdout) as { built: boolean; initrd: string };
  assert.equal(res.built, false);
  assert.equal(res.initrd, join(dir, "initrd.cpio"));
  assert.equal(statSync(join(dir, "initrd.cpio")).mtimeMs, before);
});

test("a corrupted artifact is detected and rebuilt, reproducing the same initramfs", async (t) => {
  if (skipReason) return t.skip(skipReason);
  const p = join(dir, "initrd.cpio");
  const good = manifest.artifacts.initrd!.sha256;
  const b = readFileSync(p);
  b[b.length >> 1] = b[b.length >> 1]! ^ 0xff;
  writeFileSync(p, b);
  assert.equal((await verifyImage(dir)).ok, false);
  const r = await pullImage("debian-riscv64", { cache });
  assert.equal(r.built, true);
  assert.equal((await verifyImage(dir)).ok, true);
  assert.equal(r.manifest.artifacts.initrd!.sha256, good, "the cpio writer is deterministic");
  assert.equal(r.manifest.artifacts.kernel!.sha256, manifest.artifacts.kernel!.sha256);
});
