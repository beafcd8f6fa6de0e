// Two Debian guests created through the API on the same virtual switch reach each other: the
// daemon (Domain 0) owns the switch and carries their Ethernet frames between the VM processes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { call } from "../../src/control/Client.js";
import { ensureImage } from "../../src/images/index.js";
import { startDaemon, waitFor } from "./harness.js";
import { Daemon } from "../../src/control/Daemon.js";
import { join } from "node:path";

test("two VMs on one virtual switch ping each other through the daemon", { timeout: 1_200_000 }, async (t) => {
  try {
    await ensureImage("debian-riscv64", { quiet: true });
  } catch (e) {
    return t.skip(`the Debian image can't be assembled here: ${(e as Error).message.split("\n")[0]}`);
  }
  const env = await startDaemon();
  await env.daemon.stop();
  // A daemon that resolves images for real (the harness's refuses every image).
  const daemon = new Daemon({
    stateDir: env.dir,
    socket: join(env.dir, "n.sock"),
    resolveImage: (n) => ensureImage(n, { quiet: true }),
  });
  await daemon.start();
  const ep = { socket: join(env.dir, "n.sock") };
  try {
    const base = "console=ttyS0 quiet";
    const a = await call(ep, "POST", "/v1/vms?start=true", {
      name: "server",
      image: "debian-riscv64",
      memoryMiB: 128,
      network: { switch: "lan" },
      append: `${base} tv.cmd="ip addr add 169.254.7.1/24 dev eth0; ip link set eth0 up; echo SERVER-UP; sleep 3600"`,
    });
    assert.equal(a.status, 201, a.text);
    // Start the client once the server's address is up: two guests booting at once on two host cores
    // finish in either order, and a client that pings first sees only losses.
    await waitFor(
      "the server to bring eth0 up",
      async () => (/^SERVER-UP\r?$/m.test((await call(ep, "GET", "/v1/vms/server/console")).text) ? true : undefined),
      1_100_000,
    );
    const b = await call(ep, "POST", "/v1/vms?start=true", {
      name: "client",
      image: "debian-riscv64",
      memoryMiB: 128,
      network: { switch: "lan", mac: "52:54:76:00:00:02" },
      append: `${base} tv.cmd="ip addr add 169.254.7.2/24 dev eth0; ip link set eth0 up; sleep 1; ping -c 3 -W 10 169.254.7.1"`,
    });
    assert.equal(b.status, 201, b.text);
    const client = await waitFor(
      "the client to finish",
      async () => {
        const v = (await call(ep, "GET", "/v1/vms/client")).body as {
          status: string;
          lastExit: { reason: string } | null;
        };
        return v.status === "stopped" ? v : undefined;
      },
      1_100_000,
    );
    const out = (await call(ep, "GET", "/v1/vms/client/console")).text;
    assert.equal(client.lastExit?.reason, "poweroff", out.slice(-3000));
    assert.match(out, /bytes from 169\.254\.7\.1/, out.slice(-3000));
    assert.match(out, /TYPEVISOR-CMD-END rc=0/);
    const server = (await call(ep, "GET", "/v1/vms/server")).body as {
      status: string;
      stats: { net?: { rxFrames: number; txFrames: number } } | null;
    };
    assert.equal(server.status, "running");
    assert.ok(
      (server.stats?.net?.rxFrames ?? 0) > 0 && (server.stats?.net?.txFrames ?? 0) > 0,
      "the server's NIC saw traffic",
    );
  } finally {
    await daemon.stop();
  }
});
