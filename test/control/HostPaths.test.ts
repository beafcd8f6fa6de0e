// API callers do not get the daemon user's file access (issue 12, item 2): a VM spec may name host
// files only in the daemon's state directory, the image cache (read-only) and the directories the
// operator allows with 'serve --allow-dir'; symlinks are followed before the check, at create and
// again at start.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { call } from "../../src/control/Client.js";
import { startDaemon } from "./harness.js";
import { HostPaths } from "../../src/control/HostPaths.js";
import type { ApiError } from "../../src/control/ApiError.js";

let env: Awaited<ReturnType<typeof startDaemon>>;
const allowed = mkdtempSync(join(tmpdir(), "tv-allowed-"));
const images = mkdtempSync(join(tmpdir(), "tv-images-"));
const outside = mkdtempSync(join(tmpdir(), "tv-outside-"));

before(async () => {
  for (const d of [allowed, images, outside]) writeFileSync(join(d, "file.img"), Buffer.alloc(4096));
  env = await startDaemon({ allowDirs: [allowed], imageDir: images });
});
after(async () => {
  await env.daemon.stop();
});

const create = (name: string, extra: Record<string, unknown>) =>
  call(env.ep, "POST", "/v1/vms", { name, memoryMiB: 64, kernel: join(allowed, "file.img"), ...extra });

test("host paths outside the allowed directories get 403 naming the path and --allow-dir", async () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ disks: [{ path: "/etc/shadow", readOnly: true }] }, "disks/0/path: '/etc/shadow'"],
    [{ disks: [{ path: join(outside, "file.img") }] }, `disks/0/path: '${join(outside, "file.img")}'`],
    [{ kernel: "/etc/passwd" }, "kernel: '/etc/passwd'"],
    [{ initrd: "/etc/hostname" }, "initrd: '/etc/hostname'"],
    [{ bios: "/bin/sh" }, "bios: '/bin/sh'"],
    // Lexically inside, really outside.
    [{ kernel: `${allowed}/../${outside.split("/").pop()}/file.img` }, "kernel:"],
    // Nothing is revealed about the existence of files outside.
    [{ kernel: "/nonexistent/kernel" }, "kernel: '/nonexistent/kernel'"],
  ];
  for (const [extra, what] of cases) {
    const r = await create("x", extra);
    assert.equal(r.status, 403, JSON.stringify(extra));
    const msg = (r.body as { error: string }).error;
    assert.ok(msg.startsWith(what), msg);
    assert.match(msg, /typevisor serve --allow-dir DIR/);
  }
  assert.equal((await call(env.ep, "GET", "/v1/vms")).text.trim(), "[]", "nothing was created");
});

test("a symlink inside an allowed directory that leads outside gets 403", async () => {
  symlinkSync("/etc/shadow", join(allowed, "shadow.img"));
  symlinkSync(outside, join(allowed, "outdir"));
  for (const p of [join(allowed, "shadow.img"), join(allowed, "outdir", "file.img")]) {
    const r = await create("x", { disks: [{ path: p, readOnly: true }] });
    assert.equal(r.status, 403, p);
    assert.match((r.body as { error: string }).error, /resolves \(through a symlink\) to/);
  }
});

test("the image cache is read-only for specs; the state directory and --allow-dir are usable", async () => {
  const ro = await create("ro", { disks: [{ path: join(images, "file.img") }] });
  assert.equal(ro.status, 403);
  assert.match((ro.body as { error: string }).error, /read-only directory of the daemon \(set readOnly or overlay\)/);
  for (const [name, d] of [
    ["img-ro", { path: join(images, "file.img"), readOnly: true }],
    ["img-ov", { path: join(images, "file.img"), overlay: true }],
    ["allowed-rw", { path: join(allowed, "file.img") }],
  ] as const) {
    const r = await create(name, { disks: [d] });
    assert.equal(r.status, 201, r.text);
  }
  writeFileSync(join(env.dir, "vol.img"), Buffer.alloc(4096));
  assert.equal((await create("state-rw", { disks: [{ path: join(env.dir, "vol.img") }] })).status, 201);
  for (const n of ["img-ro", "img-ov", "allowed-rw", "state-rw"])
    assert.equal((await call(env.ep, "DELETE", `/v1/vms/${n}`)).status, 204);
});

test("a file swapped for a symlink between create and start is refused at start, and no VM process starts", async () => {
  const dir = join(allowed, "swap");
  mkdirSync(dir);
  writeFileSync(join(dir, "disk.img"), Buffer.alloc(4096));
  const r = await create("swap", { disks: [{ path: join(dir, "disk.img") }] });
  assert.equal(r.status, 201, r.text);
  rmSync(join(dir, "disk.img"));
  symlinkSync(join(outside, "file.img"), join(dir, "disk.img"));
  const s = await call(env.ep, "POST", "/v1/vms/swap/start");
  assert.equal(s.status, 403);
  assert.match((s.body as { error: string }).error, /resolves \(through a symlink\) to/);
  const v = (await call(env.ep, "GET", "/v1/vms/swap")).body as { id: string; status: string };
  assert.equal(v.status, "created");
  assert.equal(env.daemon.vms.pid(v.id), undefined);
  assert.equal((await call(env.ep, "DELETE", "/v1/vms/swap")).status, 204);
});

test("shares: only directories under --allow-dir, never the daemon's own; tags checked; a swap at start is refused", async () => {
  mkdirSync(join(allowed, "proj"));
  mkdirSync(join(images, "cache"));
  const share = (name: string, shares: unknown) => create(name, { shares });
  const cases: [unknown, number, RegExp][] = [
    [[{ path: outside }], 403, /shares\/0\/path: .* is outside the directories/],
    [[{ path: env.dir }], 403, /not under a directory the operator allowed with --allow-dir/],
    [[{ path: join(images, "cache"), readOnly: true }], 403, /not under a directory the operator allowed/],
    [[{ path: join(allowed, "file.img") }], 400, /is not a directory/],
    [[{ path: join(allowed, "outdir") }], 403, /resolves \(through a symlink\) to/],
    [[{ path: join(allowed, "proj"), tag: ".." }], 400, /tag/],
    [[{ path: join(allowed, "proj") }, { path: allowed, tag: "proj" }], 422, /'proj' is used by another share/],
  ];
  for (const [shares, status, re] of cases) {
    const r = await share("sh", shares);
    assert.equal(r.status, status, `${JSON.stringify(shares)}: ${r.text}`);
    assert.match((r.body as { error: string }).error, re);
  }
  const ok = await share("sh", [{ path: join(allowed, "proj") }, { path: allowed, tag: "all", readOnly: true }]);
  assert.equal(ok.status, 201, ok.text);
  assert.deepEqual((ok.body as { spec: { shares: unknown } }).spec.shares, [
    { path: join(allowed, "proj"), readOnly: false },
    { path: allowed, tag: "all", readOnly: true },
  ]);
  // The directory becomes a symlink to elsewhere before start: refused, no VM process.
  rmSync(join(allowed, "proj"), { recursive: true });
  symlinkSync(outside, join(allowed, "proj"));
  const s = await call(env.ep, "POST", "/v1/vms/sh/start");
  assert.equal(s.status, 403, s.text);
  assert.equal((await call(env.ep, "DELETE", "/v1/vms/sh")).status, 204);
});

test("shares: a directory holding the daemon's state directory is refused", () => {
  const parent = mkdtempSync(join(tmpdir(), "tv-parent-"));
  try {
    mkdirSync(join(parent, "state"));
    const paths = new HostPaths([
      { dir: join(parent, "state"), writable: true },
      { dir: parent, writable: true, shareable: true },
    ]);
    assert.throws(
      () => paths.resolveDir("shares/0/path", parent, true),
      (e: ApiError) => e.status === 403 && /contains the daemon's own directory/.test(e.message),
    );
    assert.throws(
      () => paths.resolveDir("shares/0/path", join(parent, "state"), true),
      (e: ApiError) => e.status === 403,
    );
    mkdirSync(join(parent, "work"));
    assert.equal(paths.resolveDir("shares/0/path", join(parent, "work"), true), join(realpathSync(parent), "work"));
  } finally {
    rmSync(parent, { recursive: true, force: true });
  }
});
