// Manifest verification and cache logic: complete images are used as they are (no network),
// partial, interrupted and corrupt ones are detected and never handed out, locks exclude each
// other and stale ones are taken over.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { cacheRoot, ImageCache, LockFile } from "../../src/images/ImageCache.js";
import { MANIFEST_FORMAT, sha256, treeListing, verifyImage, type Manifest } from "../../src/images/Manifest.js";
import { findImage, imagePaths, listImages, pullImage } from "../../src/images/index.js";
import { INITRAMFS_RECIPE_VERSION } from "../../src/images/LinuxImage.js";
import { sparseCopy } from "../../src/cli/commands/start.js";

const bin = fileURLToPath(new URL("../../../bin/typevisor.js", import.meta.url));

/** A fake but internally consistent debian-riscv64 image (artifacts + manifest). */
function fakeImage(cache: ImageCache, name = "debian-riscv64"): string {
  const dir = cache.dirOf(name);
  mkdirSync(dir, { recursive: true });
  const files = { kernel: "kernel", initrd: "initrd.cpio", disk: "disk.ext4" } as const;
  const artifacts: Record<string, { file: string; sha256: string; size: number }> = {};
  for (const [role, file] of Object.entries(files)) {
    const data = Buffer.from(`${role} bytes of the fake image\n`.repeat(100));
    writeFileSync(join(dir, file), data);
    artifacts[role] = { file, sha256: sha256(data), size: data.length };
  }
  const m: Manifest = {
    format: MANIFEST_FORMAT,
    name,
    recipe: "linux-initramfs",
    arch: "riscv64",
    suite: "trixie",
    mirror: "http://deb.debian.org/debian",
    createdAt: new Date(0).toISOString(),
    recipeVersion: INITRAMFS_RECIPE_VERSION,
    packages: [{ name: "busybox-static", version: "1:1.37.0-6", arch: "riscv64", sha256: "00".repeat(32), size: 1 }],
    artifacts,
    cmdline: "console=ttyS0",
  };
  writeFileSync(join(dir, "manifest.json"), JSON.stringify(m));
  return dir;
}

function tempCache(): ImageCache {
  return new ImageCache(mkdtempSync(join(tmpdir(), "tv-cache-")));
}

test("the cache root follows TYPEVISOR_CACHE, then XDG_CACHE_HOME, then ~/.cache", () => {
  assert.equal(cacheRoot({ TYPEVISOR_CACHE: "/x/y" }), "/x/y");
  assert.equal(cacheRoot({ XDG_CACHE_HOME: "/c" }), "/c/typevisor");
  assert.match(cacheRoot({ XDG_CACHE_HOME: "relative/ignored" }), /\.cache\/typevisor$/);
});

test("an intact image verifies and a second pull is a no-op that touches no network", async () => {
  const cache = tempCache();
  try {
    fakeImage(cache);
    assert.equal((await verifyImage(cache.dirOf("debian-riscv64"))).ok, true);
    // No apt root exists and the mirror would be unreachable: only the no-op path can succeed.
    process.env["TYPEVISOR_APT_MIRROR"] = "http://127.0.0.1:9/debian";
    const r = await pullImage("debian-riscv64", { cache });
    assert.equal(r.built, false);
    assert.equal(r.kernel, join(cache.dirOf("debian-riscv64"), "kernel"));
    assert.equal(existsSync(cache.aptRootDir("riscv64", "trixie")), false);
  } finally {
    delete process.env["TYPEVISOR_APT_MIRROR"];
    rmSync(cache.root, { recursive: true, force: true });
  }
});

test("a flipped byte in an artifact is reported as corruption and the image is not handed out", async () => {
  const cache = tempCache();
  try {
    const dir = fakeImage(cache);
    const p = join(dir, "initrd.cpio");
    const b = readFileSync(p);
    b[10] = b[10]! ^ 1;
    writeFileSync(p, b);
    const v = await verifyImage(dir);
    assert.equal(v.ok, false);
    assert.match(v.problems[0]!, /initrd .* has sha256 [0-9a-f]{64}, the manifest says .*corrupted/);
    await assert.rejects(
      imagePaths("debian-riscv64", cache),
      /image debian-riscv64 is damaged .* run 'typevisor image pull debian-riscv64'/,
    );
    const listed = (await listImages(cache)).find((i) => i.name === "debian-riscv64");
    assert.equal(listed?.state, "damaged");
  } finally {
    rmSync(cache.root, { recursive: true, force: true });
  }
});

test("a truncated artifact, a missing manifest and a garbled manifest are each detected", async () => {
  const cache = tempCache();
  try {
    const dir = fakeImage(cache);
    writeFileSync(join(dir, "disk.ext4"), "short");
    assert.match((await verifyImage(dir)).problems[0]!, /disk .* has 5 bytes, the manifest says \d+/);
    rmSync(join(dir, "manifest.json"));
    assert.match((await verifyImage(dir)).problems[0]!, /manifest.json is missing \(interrupted pull\?\)/);
    writeFileSync(join(dir, "manifest.json"), "{ not json");
    assert.match((await verifyImage(dir)).problems[0]!, /not valid JSON/);
    writeFileSync(
      join(dir, "manifest.json"),
      JSON.stringify({
        format: MANIFEST_FORMAT,
        name: "x",
        recipe: "r",
        arch: "a",
        suite: "s",
        createdAt: "t",
        packages: [],
        artifacts: { kernel: { file: "../../etc/passwd", sha256: "", size: 1 } },
      }),
    );
    assert.match((await verifyImage(dir)).problems[0]!, /artifact 'kernel' is malformed/);
  } finally {
    rmSync(cache.root, { recursive: true, force: true });
  }
});

test("leftovers of an interrupted pull (dead process) are cleaned; a live one's are kept", () => {
  const cache = tempCache();
  try {
    mkdirSync(cache.images, { recursive: true });
    const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
    const deadPid = Number(dead.stdout);
    mkdirSync(join(cache.images, `.debian-riscv64.tmp-${deadPid}-0`));
    mkdirSync(join(cache.images, `.debian-riscv64.tmp-${process.pid}-0`));
    cache.cleanStale("debian-riscv64");
    assert.equal(existsSync(join(cache.images, `.debian-riscv64.tmp-${deadPid}-0`)), false);
    assert.equal(existsSync(join(cache.images, `.debian-riscv64.tmp-${process.pid}-0`)), true);
    assert.deepEqual(cache.names(), [], "temp dirs are not listed as images");
  } finally {
    rmSync(cache.root, { recursive: true, force: true });
  }
});

test("install replaces an image atomically and rm removes it", () => {
  const cache = tempCache();
  try {
    const old = fakeImage(cache);
    const tmp = cache.tempDir("debian-riscv64");
    writeFileSync(join(tmp, "marker"), "new");
    cache.install("debian-riscv64", tmp);
    assert.equal(readFileSync(join(old, "marker"), "utf8"), "new");
    assert.equal(existsSync(join(old, "kernel")), false);
    assert.deepEqual(cache.names(), ["debian-riscv64"]);
    assert.equal(cache.remove("debian-riscv64"), true);
    assert.equal(cache.remove("debian-riscv64"), false);
    assert.deepEqual(cache.names(), []);
  } finally {
    rmSync(cache.root, { recursive: true, force: true });
  }
});

test("a lock excludes a second holder, and a dead holder's lock is taken over", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tv-lock-"));
  try {
    const path = join(dir, "x.lock");
    // A live other process holds it.
    const child = spawn(process.execPath, ["-e", "setTimeout(() => {}, 20000)"], { stdio: "ignore" });
    writeFileSync(path, `${child.pid}\n`);
    const a = new LockFile(path);
    assert.equal(a.tryAcquire(), false);
    assert.equal(a.owner(), child.pid);
    child.kill();
    await new Promise((r) => child.once("exit", r));
    assert.equal(a.tryAcquire(), true, "the holder died: the lock is stale");
    assert.equal(a.owner(), process.pid);
    a.release();
    assert.equal(existsSync(path), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("CLI: image ls --json and image path on a cached image; clear errors otherwise", () => {
  const cache = tempCache();
  try {
    fakeImage(cache);
    const env = { ...process.env, TYPEVISOR_CACHE: cache.root };
    const ls = spawnSync(process.execPath, [bin, "image", "ls", "--json"], { encoding: "utf8", env });
    assert.equal(ls.status, 0, ls.stderr);
    const images = JSON.parse(ls.stdout) as Array<{ name: string; state: string }>;
    assert.equal(images.find((i) => i.name === "debian-riscv64")?.state, "ready");
    assert.equal(images.find((i) => i.name === "debian-amd64")?.state, "absent");
    const p = spawnSync(process.execPath, [bin, "image", "path", "debian-riscv64"], { encoding: "utf8", env });
    assert.equal(p.status, 0, p.stderr);
    assert.match(p.stdout, new RegExp(`^kernel=${cache.dirOf("debian-riscv64")}/kernel$`, "m"));
    assert.match(p.stdout, /^initrd=.*initrd\.cpio$/m);
    assert.match(p.stdout, /^disk=.*disk\.ext4$/m);
    const absent = spawnSync(process.execPath, [bin, "image", "path", "debian-amd64"], { encoding: "utf8", env });
    assert.equal(absent.status, 1);
    assert.match(absent.stderr, /not pulled yet: run 'typevisor image pull debian-amd64'/);
    const unknown = spawnSync(process.execPath, [bin, "image", "path", "nope"], { encoding: "utf8", env });
    assert.match(unknown.stderr, /unknown image 'nope'. Known images: debian-riscv64/);
    const badSub = spawnSync(process.execPath, [bin, "image", "frob"], { encoding: "utf8", env });
    assert.equal(badSub.status, 2, badSub.stderr);
    assert.match(badSub.stderr, /unknown subcommand 'frob'/);
    const rm = spawnSync(process.execPath, [bin, "image", "rm", "debian-riscv64"], { encoding: "utf8", env });
    assert.equal(rm.status, 0, rm.stderr);
    assert.equal(existsSync(cache.dirOf("debian-riscv64")), false);
  } finally {
    rmSync(cache.root, { recursive: true, force: true });
  }
});

test("CLI: an unreachable archive gives a clear message and how to boot without images", (t) => {
  if (spawnSync("apt-get", ["--version"]).status !== 0) return t.skip("no apt-get on this host");
  const cache = tempCache();
  try {
    // Port 9 (discard) on loopback: nothing listens, apt fails at once.
    const env = { ...process.env, TYPEVISOR_CACHE: cache.root, TYPEVISOR_APT_MIRROR: "http://127.0.0.1:9/debian" };
    const r = spawnSync(process.execPath, [bin, "image", "pull", "--quiet"], {
      encoding: "utf8",
      env,
      timeout: 120_000,
    });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /could not fetch the trixie\/riscv64 package lists from http:\/\/127\.0\.0\.1:9\/debian/);
    assert.match(r.stderr, /typevisor run --arch riscv64 --kernel Image --initrd/);
    assert.deepEqual(new ImageCache(cache.root).names(), [], "nothing half-built is left as an image");
  } finally {
    rmSync(cache.root, { recursive: true, force: true });
  }
});

/** A rootfs image's manifest over a root tree listing, as the rootfs recipe writes it. */
function writeRootfsManifest(dir: string, name: string, listing: string): void {
  const m: Manifest = {
    format: MANIFEST_FORMAT,
    name,
    recipe: "rootfs",
    arch: "riscv64",
    suite: "trixie",
    mirror: "m",
    createdAt: "t",
    packages: [],
    artifacts: { root: { file: "root.sha256sums", sha256: sha256(Buffer.from(listing)), size: listing.length } },
  };
  writeFileSync(join(dir, "manifest.json"), JSON.stringify(m));
}

for (const asked of ["debian-rootfs-riscv64", "debian-riscv64-userland"])
  test(`a userland image cached under the former name debian-rootfs-riscv64 moves when asked as ${asked}`, async () => {
    const cache = tempCache();
    try {
      const former = cache.dirOf("debian-rootfs-riscv64");
      mkdirSync(join(former, "root/usr/bin"), { recursive: true });
      writeFileSync(join(former, "root/usr/bin/true"), "\x7fELF true");
      const listing = treeListing(join(former, "root"));
      writeFileSync(join(former, "root.sha256sums"), listing);
      writeRootfsManifest(former, "debian-rootfs-riscv64", listing);
      assert.equal(findImage("debian-rootfs-riscv64")?.name, "debian-riscv64-userland");
      const p = await imagePaths(asked, cache);
      assert.equal(p.name, "debian-riscv64-userland");
      assert.equal(p.root, join(cache.dirOf("debian-riscv64-userland"), "root"));
      assert.deepEqual(
        cache.names(),
        ["debian-riscv64-userland"],
        "the cached tree moved, nothing is downloaded again",
      );
    } finally {
      rmSync(cache.root, { recursive: true, force: true });
    }
  });

test("a rootfs image's tree is checked against its listing: a modified file is detected", async () => {
  const cache = tempCache();
  try {
    const dir = cache.dirOf("debian-riscv64-userland");
    mkdirSync(join(dir, "root/usr/bin"), { recursive: true });
    writeFileSync(join(dir, "root/usr/bin/true"), "\x7fELF true");
    symlinkSync("usr/bin", join(dir, "root/bin"));
    const listing = treeListing(join(dir, "root"));
    assert.match(listing, /^[0-9a-f]{64} {2}l 777 bin$/m);
    assert.match(listing, /^[0-9a-f]{64} {2}f 644 usr\/bin\/true$/m);
    writeFileSync(join(dir, "root.sha256sums"), listing);
    writeRootfsManifest(dir, "debian-riscv64-userland", listing);
    assert.equal((await verifyImage(dir)).ok, true);
    assert.equal((await imagePaths("debian-riscv64-userland", cache)).root, join(dir, "root"));
    writeFileSync(join(dir, "root/usr/bin/true"), "\x7fELF evil");
    const v = await verifyImage(dir);
    assert.equal(v.ok, false);
    assert.match(v.problems[0]!, /root tree .* no longer matches/);
  } finally {
    rmSync(cache.root, { recursive: true, force: true });
  }
});

test("CLI: without apt-get, start and image pull say so and how to boot with --kernel/--initrd", () => {
  const cache = tempCache();
  try {
    const env = {
      ...process.env,
      TYPEVISOR_CACHE: cache.root,
      TYPEVISOR_DATA: join(cache.root, "data"),
      PATH: join(cache.root, "no-such-dir"),
    };
    for (const args of [["image", "pull"], ["start"]]) {
      const r = spawnSync(process.execPath, [bin, ...args, "--quiet"], { encoding: "utf8", env });
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /'apt-get' is not installed: .* needs a Debian or Ubuntu host/);
      assert.match(r.stderr, /typevisor run --arch riscv64 --kernel Image --initrd initrd\.cpio/);
    }
  } finally {
    rmSync(cache.root, { recursive: true, force: true });
  }
});

test("a second puller waits for the lock and gets it when the first releases it", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tv-lock-"));
  try {
    const path = join(dir, "x.lock");
    const holder = spawn(
      process.execPath,
      [
        "-e",
        `const fs=require("fs");fs.writeFileSync(${JSON.stringify(path)}, process.pid+"\\n",{flag:"wx"});setTimeout(()=>{fs.unlinkSync(${JSON.stringify(path)});},800);setTimeout(()=>{},1500)`,
      ],
      { stdio: "ignore" },
    );
    while (!existsSync(path)) await new Promise((r) => setTimeout(r, 20));
    const waiter = new LockFile(path);
    let waitedFor: number | undefined;
    await waiter.acquire((owner) => (waitedFor = owner));
    assert.equal(waitedFor, holder.pid, "it reported whom it waited for");
    assert.equal(waiter.owner(), process.pid);
    waiter.release();
    holder.kill();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("CLI: start refuses a non-riscv64 image and a --cmd with double quotes, before booting", () => {
  const cache = tempCache();
  try {
    const env = { ...process.env, TYPEVISOR_CACHE: cache.root, TYPEVISOR_DATA: join(cache.root, "data") };
    const q = spawnSync(process.execPath, [bin, "start", "--cmd", 'echo "hi"'], { encoding: "utf8", env });
    assert.equal(q.status, 2, q.stderr);
    assert.match(q.stderr, /--cmd cannot contain double quotes/);
    const dir = fakeImage(cache, "debian-amd64");
    const m = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as Record<string, unknown>;
    writeFileSync(join(dir, "manifest.json"), JSON.stringify({ ...m, arch: "amd64" }));
    const a = spawnSync(process.execPath, [bin, "start", "debian-amd64", "--quiet"], { encoding: "utf8", env });
    assert.equal(a.status, 1, a.stderr);
    assert.match(a.stderr, /image debian-amd64 is for amd64; Typevisor's engine boots riscv64 guests only/);
  } finally {
    rmSync(cache.root, { recursive: true, force: true });
  }
});

test("the per-user data disk copy is byte-identical and sparse", () => {
  const dir = mkdtempSync(join(tmpdir(), "tv-sparse-"));
  try {
    const src = join(dir, "src.img");
    const b = Buffer.alloc(4 << 20);
    b.write("superblock", 1024);
    b.write("tail data", b.length - 100);
    writeFileSync(src, b);
    sparseCopy(src, join(dir, "dst.img"));
    assert.deepEqual(readFileSync(join(dir, "dst.img")), b);
    const du = spawnSync("du", ["-k", join(dir, "dst.img")], { encoding: "utf8" });
    if (du.status === 0)
      assert.ok(Number(du.stdout.split(/\s/)[0]) < 1024, `allocated ${du.stdout.trim()} KiB of a 4 MiB file`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
