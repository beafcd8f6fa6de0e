// The debian-riscv64-rootfs image as a user runs it (`typevisor start` as a child process): Debian's
// systemd boots to a login on the console, with the user's root disk grown by `--disk-size`; ssh
// through a hostfwd port logs in as root with the key Typevisor injects from ~/.ssh/*.pub; apt-get
// installs a package from a repository the test serves on the host's loopback (no internet needed:
// the guest reaches it through passt's gateway); `systemctl poweroff` ends the VM with status 0.
// A second start finds the file the first wrote (the root disk persists) and `--cmd` runs a
// command on the booted system with its exit status. Two boots in all, to keep the suite short. The image is pulled (assembled) first if
// needed: skipped, with the reason, when Debian's archive is not reachable.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createServer as createHttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AptUnavailableError, cacheRoot, ensureImage } from "../../src/images/index.js";
import { freePort, show, typevisor, type Child } from "../cli/typevisorProcess.js";

const IMAGE = "debian-riscv64-rootfs";

async function until(what: string, c: Child, ok: () => boolean, timeoutMs: number): Promise<void> {
  const t0 = Date.now();
  while (!ok()) {
    const r = await Promise.race([c.done, new Promise((r) => setTimeout(() => r("running"), 500))]);
    if (r !== "running") assert.fail(`the VM ended before ${what}\n${show(c, 4000)}`);
    if (Date.now() - t0 > timeoutMs) assert.fail(`no ${what} within ${timeoutMs / 1000} s\n${show(c, 4000)}`);
  }
}

/** A one-package flat apt repository (Packages + an unsigned Release, used with [trusted=yes]). */
function buildRepo(dir: string): void {
  const src = join(dir, "src");
  mkdirSync(join(src, "DEBIAN"), { recursive: true });
  mkdirSync(join(src, "usr/bin"), { recursive: true });
  writeFileSync(
    join(src, "DEBIAN/control"),
    "Package: tv-hello\nVersion: 1.0\nArchitecture: all\nMaintainer: Typevisor tests <t@example.org>\nDescription: says hello from the host's repository\n",
  );
  writeFileSync(join(src, "usr/bin/tv-hello"), "#!/bin/sh\necho hello from the host repository\n", { mode: 0o755 });
  const repo = join(dir, "repo");
  mkdirSync(repo);
  const deb = join(repo, "tv-hello_1.0_all.deb");
  const b = spawnSync("dpkg-deb", ["--root-owner-group", "-Zgzip", "--build", src, deb]);
  assert.equal(b.status, 0, b.stderr.toString());
  const bytes = readFileSync(deb);
  const hash = (alg: string, d: Buffer) => createHash(alg).update(d).digest("hex");
  const packages = Buffer.from(
    readFileSync(join(src, "DEBIAN/control"), "utf8").replace(/\n$/, "") +
      `\nFilename: ./tv-hello_1.0_all.deb\nSize: ${bytes.length}\nSHA256: ${hash("sha256", bytes)}\n\n`,
  );
  writeFileSync(join(repo, "Packages"), packages);
  writeFileSync(
    join(repo, "Release"),
    `Origin: typevisor-test\nLabel: typevisor-test\nSHA256:\n ${hash("sha256", packages)} ${packages.length} Packages\n`,
  );
}

test(
  `${IMAGE}: systemd boots to a login, ssh over hostfwd with the injected key, apt-get install from a host repository, --disk-size, the root disk persists, --cmd`,
  { timeout: 3_600_000 },
  async (t) => {
    for (const tool of ["ssh", "ssh-keygen", "dpkg-deb"])
      if (spawnSync(tool, ["-V"]).error) return t.skip(`${tool} is not installed (openssh-client, dpkg)`);
    const pullStart = Date.now();
    try {
      const img = await ensureImage(IMAGE, { quiet: true });
      t.diagnostic(
        `image ready in ${Math.round((Date.now() - pullStart) / 1000)} s (configure stage ${img.manifest.configureSeconds ?? "?"} s when built)`,
      );
    } catch (e) {
      if (e instanceof AptUnavailableError) return t.skip(e.message.split("\n")[0]!);
      throw e;
    }
    const dir = mkdtempSync(join(tmpdir(), "tv-rootdisk-"));
    const requests: string[] = [];
    const http = createHttpServer((req, res) => {
      requests.push(req.url ?? "");
      try {
        const p = join(dir, "repo", (req.url ?? "/").replace(/^\/+/, "").replace(/\.\./g, ""));
        res.end(readFileSync(p));
      } catch {
        res.statusCode = 404;
        res.end();
      }
    });
    const children: Child[] = [];
    try {
      buildRepo(dir);
      await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
      const httpPort = (http.address() as AddressInfo).port;
      const home = join(dir, "home");
      mkdirSync(join(home, ".ssh"), { recursive: true, mode: 0o700 });
      const key = join(home, ".ssh/id_ed25519");
      assert.equal(spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key]).status, 0);
      const sshPort = await freePort();
      const env = { HOME: home, TYPEVISOR_CACHE: cacheRoot(), TYPEVISOR_DATA: join(dir, "data") };
      const t0 = Date.now();
      const vm = typevisor(
        ["start", IMAGE, "--quiet", "--disk-size", "3G", "--net", `user,hostfwd=tcp::${sshPort}-:22`],
        env,
        1_800_000,
      );
      children.push(vm);
      await until("login prompt", vm, () => /login:/.test(vm.stdout), 1_200_000);
      const boot = (Date.now() - t0) / 1000;
      // Asynchronous: the test's HTTP server and the VM's console pipe need the event loop meanwhile.
      const ssh = (cmd: string, timeout = 600_000) =>
        new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
          const c = spawn(
            "ssh",
            [
              ...["-p", String(sshPort), "-i", key, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no"],
              ...["-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=60", "-o", "LogLevel=ERROR"],
              "root@127.0.0.1",
              cmd,
            ],
            { stdio: ["ignore", "pipe", "pipe"] },
          );
          let stdout = "";
          let stderr = "";
          c.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
          c.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
          const timer = setTimeout(() => c.kill("SIGKILL"), timeout);
          c.on("close", (status) => {
            clearTimeout(timer);
            resolve({ status, stdout, stderr });
          });
        });
      let r = await ssh("true");
      for (let i = 0; r.status !== 0 && i < 60; i++) {
        await new Promise((res) => setTimeout(res, 5000));
        r = await ssh("true");
      }
      const sshReady = (Date.now() - t0) / 1000;
      assert.equal(r.status, 0, `ssh with the injected key\n${r.stderr}\n${show(vm, 4000)}`);
      const s0 = Date.now();
      r = await ssh(
        "uname -m; cat /etc/debian_version; ps -o comm= -p 1; ip -4 -o addr show dev eth0; df -BM --output=size / | tail -1; echo kept > /root/marker",
      );
      const sshCmd = (Date.now() - s0) / 1000;
      assert.equal(r.status, 0, r.stderr);
      const [arch, version, init, addr, size] = r.stdout.split("\n");
      assert.equal(arch, "riscv64");
      assert.match(version ?? "", /^13\./, "Debian 13 (trixie)");
      assert.equal(init, "systemd");
      assert.match(addr ?? "", /inet \d+\.\d+\.\d+\.\d+\/\d+/, "eth0 has an address by DHCP");
      const mib = Number(/(\d+)M/.exec(size ?? "")?.[1]);
      assert.ok(mib > 2900 && mib <= 3072, `systemd-growfs grew / to the 3 GiB disk: ${size}`);
      assert.equal(statSync(join(dir, "data/disks", `${IMAGE}.ext4`)).size, 3 * 2 ** 30);

      const a0 = Date.now();
      r = await ssh(
        "set -e; gw=$(ip -4 route show default | awk '{print $3; exit}'); " +
          "mv /etc/apt/sources.list.d/debian.sources /root/; " +
          `echo "deb [trusted=yes] http://$gw:${httpPort}/ ./" > /etc/apt/sources.list.d/host.list; ` +
          "apt-get update -q -o Acquire::Retries=3 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q tv-hello && tv-hello",
      );
      const apt = (Date.now() - a0) / 1000;
      assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
      assert.match(r.stdout, /Setting up tv-hello \(1\.0\)/);
      assert.match(r.stdout, /hello from the host repository\n$/);
      assert.ok(
        requests.some((u) => u.endsWith("/tv-hello_1.0_all.deb")),
        `apt fetched the package from the host: ${requests.join(" ")}`,
      );

      await ssh("systemctl poweroff", 60_000);
      const status = await vm.done;
      assert.equal(status, 0, `systemctl poweroff ends the VM with status 0\n${show(vm, 4000)}`);
      const first = (Date.now() - t0) / 1000;

      // The second start: the same root disk, a command instead of the console.
      const second = typevisor(
        ["start", IMAGE, "--quiet", "--net", "none", "--cmd", "cat /root/marker; exit 7"],
        env,
        1_500_000,
      );
      children.push(second);
      assert.equal(await second.done, 7, `--cmd returns the command's status\n${show(second, 4000)}`);
      assert.equal(second.stdout.trim(), "kept", `the root disk kept the first boot's file\n${show(second, 4000)}`);
      t.diagnostic(
        `boot to login ${boot.toFixed(0)} s, ssh ready ${sshReady.toFixed(0)} s, ssh command ${sshCmd.toFixed(1)} s, apt-get update+install ${apt.toFixed(0)} s, first start ${first.toFixed(0)} s, second start (--cmd) ${((Date.now() - t0) / 1000 - first).toFixed(0)} s`,
      );
    } finally {
      // A failed assertion must not leave a VM running: the test file would wait for it (and
      // the suite with it) until the VM's own timeout.
      for (const c of children) c.kill();
      await Promise.all(children.map((c) => c.done));
      http.closeAllConnections();
      http.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
