// Debian guests on the network, as a user runs them (`typevisor start` / `run` as child processes):
// user-mode networking through passt in both directions, two VMs on a named switch, and busybox
// poweroff/reboot (without -f) handled by the image's init.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer as createHttpServer } from "node:http";
import { connect, type AddressInfo } from "node:net";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { debianImage } from "../vmm/bootHelper.js";
import { freePort, show, typevisor } from "../cli/typevisorProcess.js";

/**
 * Connects to 127.0.0.1:port, says hello and returns what the peer sent before closing ("" if
 * refused/reset). The client speaks first: passt 2023.03 (Debian bookworm) completes the guest's
 * handshake of a forwarded connection only with the first data from the host side.
 */
function fetchRaw(port: number): Promise<string> {
  return new Promise((resolve) => {
    let data = "";
    const s = connect(port, "127.0.0.1", () => s.write("hello-from-host-client\n"));
    s.setEncoding("latin1").on("data", (d: string) => (data += d));
    s.on("error", () => resolve(""));
    s.on("close", () => resolve(data));
    s.setTimeout(5000, () => s.destroy());
  });
}

test(
  "--net user: the guest reaches the host's loopback through the gateway, a host client reaches the guest through hostfwd, --cmd returns the command's status and prints only its output",
  { timeout: 600_000 },
  async (t) => {
    const img = await debianImage();
    if (typeof img === "string") return t.skip(img);
    const body = `hello-from-host-${process.pid}`;
    const http = createHttpServer((_req, res) => res.end(body));
    await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
    const httpPort = (http.address() as AddressInfo).port;
    const fwdPort = await freePort();
    const data = mkdtempSync(join(tmpdir(), "tv-net-"));
    try {
      const cmd = [
        "gw=$(ip route | awk '/default/{print $3}')",
        `wget -qO- http://$gw:${httpPort}/file`,
        "echo",
        "echo GUEST-READY",
        "echo hello-from-guest | nc -l -p 8080",
        "exit 3",
      ].join("; ");
      const vm = typevisor(
        [
          "start",
          "--quiet",
          "--ephemeral",
          "--memory",
          "256M",
          "--net",
          `user,hostfwd=tcp::${fwdPort}-:8080`,
          "--cmd",
          cmd,
        ],
        { TYPEVISOR_DATA: data },
        540_000,
      );
      // Host -> guest: once the guest listens, a connection to the forwarded port reaches its nc.
      let fromGuest = "";
      while (!fromGuest.includes("hello-from-guest")) {
        const status = await Promise.race([vm.done, new Promise((r) => setTimeout(() => r("running"), 500))]);
        if (status !== "running") break;
        if (vm.stdout.includes("GUEST-READY")) fromGuest = await fetchRaw(fwdPort);
      }
      const status = await vm.done;
      assert.match(fromGuest, /hello-from-guest/, show(vm));
      assert.match(vm.stdout, /hello-from-host-client/, `the guest received the host client's line\n${show(vm)}`);
      assert.match(
        vm.stdout,
        new RegExp(`^${body}\\r?\\n`),
        `the command's output comes first, without boot messages\n${show(vm)}`,
      );
      assert.doesNotMatch(vm.stdout, /TYPEVISOR-|Linux version|\[ +\d+\.\d+\]/, show(vm));
      assert.equal(status, 3, `the command's exit status\n${show(vm)}`);
    } finally {
      http.close();
      rmSync(data, { recursive: true, force: true });
    }
  },
);

test(
  "two VMs on --net switch:NAME exchange TCP; busybox poweroff and reboot without -f work",
  { timeout: 900_000 },
  async (t) => {
    const img = await debianImage();
    if (typeof img === "string") return t.skip(img);
    if (!img.disk) return t.skip("the image has no data disk");
    const dir = mkdtempSync(join(tmpdir(), "tv-switch-"));
    try {
      const disk = join(dir, "disk.img");
      copyFileSync(img.disk, disk);
      // A private runtime directory: the test's switch cannot meet a user's VMs.
      const env = { XDG_RUNTIME_DIR: dir };
      const base = ["run", "--kernel", img.kernel, "--initrd", img.initrd, "--memory", "192M", "--net", "switch:t"];
      const server = typevisor(
        [
          ...base,
          "--append",
          `console=ttyS0 quiet tv.nonet=1 tv.cmd="ip addr add 10.9.0.1/24 dev eth0; ip link set eth0 up; echo SERVER-UP; echo hello-over-switch | nc -l -p 7000; poweroff; sleep 120"`,
        ],
        env,
        840_000,
      );
      const client = typevisor(
        [
          ...base,
          "--disk",
          disk,
          "--stats",
          "--append",
          `console=ttyS0 quiet tv.nonet=1 tv.cmd="if [ -f /mnt/rebooted ]; then echo AFTER-REBOOT; else ip addr add 10.9.0.2/24 dev eth0; ip link set eth0 up; ` +
            `i=0; until nc 10.9.0.1 7000 </dev/null >/tmp/got 2>/dev/null; [ -s /tmp/got ] || [ $i -gt 300 ]; do sleep 1; i=$((i+1)); done; ` +
            `echo GOT:$(cat /tmp/got); touch /mnt/rebooted; sync; reboot; sleep 120; fi"`,
        ],
        env,
        840_000,
      );
      const [s, c] = await Promise.all([server.done, client.done]);
      assert.match(client.stdout, /GOT:hello-over-switch/, show(client));
      assert.match(client.stdout, /AFTER-REBOOT/, `reboot restarted the VM\n${show(client)}`);
      assert.match(client.stderr, /reboots: 1/, show(client));
      assert.equal(c, 0, show(client));
      assert.match(server.stdout, /SERVER-UP/, show(server));
      // poweroff ended the VM at once: the command (sleep 120) never reached its end marker.
      assert.doesNotMatch(server.stdout, /TYPEVISOR-CMD-END/, show(server));
      assert.equal(s, 0, `poweroff ends the VM with status 0\n${show(server)}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
