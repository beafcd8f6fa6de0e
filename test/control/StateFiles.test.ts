// The daemon's files are private and it deletes nothing it did not create (issue 12, item 6): the
// state directory is 0700, the database and overlays 0600 (wider modes left by an older daemon are
// tightened at start), and '--socket PATH' refuses anything but a stale socket.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { spawnSync } from "node:child_process";
import { Daemon } from "../../src/control/Daemon.js";
import { call } from "../../src/control/Client.js";
import { buildGuest, hasCrossGcc } from "./guest.js";
import { waitFor } from "./harness.js";

const noImages = async (name: string) => {
  throw new Error(`no image '${name}' in this test`);
};
const mode = (p: string) => statSync(p).mode & 0o777;

test(
  "state directory 0700, database and overlays 0600; an older daemon's wider modes are tightened",
  { skip: hasCrossGcc ? false : "no riscv64-linux-gnu-gcc" },
  async () => {
    const guest = buildGuest();
    const dir = join(mkdtempSync(join(tmpdir(), "tv-perm-")), "state");
    // What an older daemon left: everything readable by others.
    mkdirSync(join(dir, "vms"), { recursive: true, mode: 0o755 });
    chmodSync(dir, 0o755);
    chmodSync(join(dir, "vms"), 0o755);
    writeFileSync(join(dir, "typevisor.db"), "", { mode: 0o644 });
    writeFileSync(join(dir, "notes.txt"), "x", { mode: 0o644 });
    const d = new Daemon({
      stateDir: dir,
      socket: join(dir, "d.sock"),
      resolveImage: noImages,
      allowDirs: [dirname(guest)],
      log: () => {},
    });
    await d.start();
    try {
      assert.equal(mode(dir), 0o700);
      assert.equal(mode(join(dir, "vms")), 0o700);
      assert.equal(mode(join(dir, "notes.txt")), 0o600);
      for (const f of ["typevisor.db", "typevisor.db-wal", "typevisor.db-shm"])
        assert.equal(mode(join(dir, f)), 0o600, f);
      writeFileSync(join(dirname(guest), "base.img"), Buffer.alloc(64 * 1024));
      const ep = { socket: join(dir, "d.sock") };
      const r = await call(ep, "POST", "/v1/vms?start=true", {
        name: "ov",
        kernel: guest,
        memoryMiB: 64,
        disks: [{ path: join(dirname(guest), "base.img"), overlay: true }],
      });
      assert.equal(r.status, 201, r.text);
      const id = (r.body as { id: string }).id;
      assert.equal(mode(join(dir, "vms", id)), 0o700);
      const overlay = join(dir, "vms", id, "disk0.overlay");
      await waitFor(
        "overlay",
        () => {
          try {
            return statSync(overlay).isFile();
          } catch {
            return false;
          }
        },
        20_000,
      );
      assert.equal(mode(overlay), 0o600);
      assert.equal((await call(ep, "DELETE", `/v1/vms/${id}?force=true`)).status, 204);
    } finally {
      await d.stop();
    }
  },
);

test("--socket refuses a regular file, a directory and a live socket, and replaces a stale socket", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tv-sock-"));
  const daemon = (socket: string) =>
    new Daemon({ stateDir: join(dir, "state"), socket, resolveImage: noImages, log: () => {} });
  const file = join(dir, "precious.txt");
  writeFileSync(file, "do not delete\n");
  await assert.rejects(daemon(file).start(), /precious\.txt exists and is not a socket \(a regular file\): refusing/);
  assert.equal(readFileSync(file, "utf8"), "do not delete\n");
  mkdirSync(join(dir, "adir"));
  await assert.rejects(daemon(join(dir, "adir")).start(), /is not a socket \(a directory\)/);
  // A live socket: another daemon answering.
  const live = join(dir, "live.sock");
  const first = daemon(live);
  await first.start();
  await assert.rejects(daemon(live).start(), /another daemon is listening on .*live\.sock/);
  assert.equal((await call({ socket: live }, "GET", "/v1/vms")).status, 200, "the first daemon still answers");
  await first.stop();
  // A stale socket (its server gone without removing it) is replaced.
  const stale = join(dir, "stale.sock");
  // (a process that exits while listening leaves its socket file behind)
  spawnSync(process.execPath, [
    "-e",
    `require("net").createServer().listen(${JSON.stringify(stale)}, () => process.exit(0))`,
  ]);
  assert.ok(statSync(stale).isSocket());
  const d = daemon(stale);
  await d.start();
  assert.equal((await call({ socket: stale }, "GET", "/v1/vms")).status, 200);
  await d.stop();
});
