// --root confinement: guest paths, "..", and hostile symlinks (absolute, relative, chained, looping)
// all resolve inside the root, component by component, as Linux's path walk does.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GuestFs } from "../../src/abi/GuestFs.js";
import { Errno, SyscallError } from "../../src/abi/Errno.js";

const made: string[] = [];
process.on("exit", () => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

function makeRoot(): string {
  const root = realpathSync(mkdtempSync(join(tmpdir(), "tv-root-")));
  made.push(root);
  mkdirSync(join(root, "etc"));
  mkdirSync(join(root, "dir/sub"), { recursive: true });
  writeFileSync(join(root, "etc/passwd"), "guest\n");
  symlinkSync("/etc/passwd", join(root, "abs"));
  symlinkSync("../../../../../../etc/passwd", join(root, "dir/rel"));
  symlinkSync("/", join(root, "dir/toroot"));
  symlinkSync("..", join(root, "dir/sub/up"));
  symlinkSync("loop2", join(root, "loop1"));
  symlinkSync("loop1", join(root, "loop2"));
  symlinkSync("/dir/sub", join(root, "chain1"));
  symlinkSync("/chain1/up/../../../etc", join(root, "chain2"));
  return root;
}

const errnoOf = (fn: () => unknown): number => {
  try {
    fn();
  } catch (e) {
    if (e instanceof SyscallError) return e.errno;
    throw e;
  }
  return 0;
};

test("an absolute symlink inside the root resolves inside the root, not on the host", () => {
  const root = makeRoot();
  const g = new GuestFs(root);
  assert.deepEqual(g.resolve("/", "/abs"), { host: join(root, "etc/passwd"), guest: "/etc/passwd" });
});

test("relative symlinks and '..' cannot climb above the root", () => {
  const root = makeRoot();
  const g = new GuestFs(root);
  assert.equal(g.resolve("/", "/dir/rel").host, join(root, "etc/passwd"));
  assert.equal(g.resolve("/", "/../../../etc/passwd").host, join(root, "etc/passwd"));
  assert.equal(g.resolve("/dir/sub", "../../../..").guest, "/");
  assert.equal(g.resolve("/", "dir/toroot/../../etc").host, join(root, "etc"));
  assert.equal(g.resolve("/", "dir/sub/up/../../../../etc/passwd").host, join(root, "etc/passwd"));
  assert.equal(g.resolve("/", "/chain2/passwd").host, join(root, "etc/passwd"));
});

test("a missing or non-directory component ends the walk: ENOENT / ENOTDIR, never a lexical guess", () => {
  const root = makeRoot();
  const g = new GuestFs(root);
  symlinkSync("/nonexistent-outside-dir", join(root, "out"));
  assert.equal(
    errnoOf(() => g.resolve("/", "/nope/../../../../etc/x")),
    Errno.ENOENT,
  );
  assert.equal(
    errnoOf(() => g.resolve("/", "nope/a/b")),
    Errno.ENOENT,
  );
  assert.equal(
    errnoOf(() => g.resolve("/", "/etc/passwd/../passwd")),
    Errno.ENOTDIR,
  );
  assert.equal(
    errnoOf(() => g.resolve("/", "/etc/passwd/")),
    Errno.ENOTDIR,
  );
  assert.equal(
    errnoOf(() => g.resolve("/", "/out/x")),
    Errno.ENOENT,
  );
  // A missing last component is a name to create: it resolves.
  assert.equal(g.resolve("/", "/etc/newfile").host, join(root, "etc/newfile"));
  assert.equal(g.resolve("/", "/etc/newdir/", false).host, join(root, "etc/newdir") + "/");
});

test("a relative path walks its base again: a base directory replaced by a symlink is followed inside the root", () => {
  const root = makeRoot();
  const g = new GuestFs(root);
  rmSync(join(root, "dir"), { recursive: true });
  symlinkSync("/etc", join(root, "dir"));
  assert.equal(g.resolve("/dir", "passwd").host, join(root, "etc/passwd"));
  assert.equal(
    errnoOf(() => g.resolve("/dir/sub", "x")),
    Errno.ENOENT,
  );
});

test("symlink loops give ELOOP and empty or overlong paths give ENOENT / ENAMETOOLONG", () => {
  const g = new GuestFs(makeRoot());
  assert.equal(
    errnoOf(() => g.resolve("/", "/loop1")),
    Errno.ELOOP,
  );
  assert.equal(
    errnoOf(() => g.resolve("/", "")),
    Errno.ENOENT,
  );
  assert.equal(
    errnoOf(() => g.resolve("/", "/" + "a".repeat(5000))),
    Errno.ENAMETOOLONG,
  );
  assert.equal(
    errnoOf(() => g.resolve("/", "/" + "a".repeat(300))),
    Errno.ENAMETOOLONG,
  );
});

test("nofollow leaves the final symlink itself (lstat, readlink, unlink) but follows earlier ones", () => {
  const root = makeRoot();
  const g = new GuestFs(root);
  assert.equal(g.resolve("/", "/abs", false).host, join(root, "abs"));
  assert.equal(g.resolve("/", "/chain1/up", false).host, join(root, "dir/sub/up"));
  // A trailing slash means the directory the link names, so it is followed.
  assert.equal(g.resolve("/", "/dir/toroot/", false).guest, "/");
});

test("without --root the guest sees host paths, relative to its working directory", () => {
  const g = new GuestFs();
  assert.equal(g.root, undefined);
  assert.equal(g.resolve("/usr", "bin/../lib").host, "/usr/lib");
  assert.equal(g.resolve("/", "/etc/passwd").host, "/etc/passwd");
});

test("a --root that does not exist is a clear error", () => {
  assert.throws(() => new GuestFs("/nonexistent/root/dir"), /--root \/nonexistent\/root\/dir: no such directory/);
});
