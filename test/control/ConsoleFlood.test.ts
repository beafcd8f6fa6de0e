// Console floods stay bounded (issue 12, item 5): a guest looping on SBI DBCN console_write of 1 MiB
// does not grow its VM process (the channel to the daemon drops the oldest output and counts it),
// and a console WebSocket client that stops reading does not grow the daemon.
// CI runs a few seconds; the 60 s measurement of docs/TESTING.md is
//   TV_FLOOD_SECONDS=60 node --test dist/test/control/ConsoleFlood.test.js
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { dirname } from "node:path";
import { call } from "../../src/control/Client.js";
import { buildGuest, hasCrossGcc } from "./guest.js";
import { startDaemon, waitFor } from "./harness.js";

const skip = hasCrossGcc ? false : "riscv64-linux-gnu-gcc is not installed (apt-get install gcc-riscv64-linux-gnu)";
const SECONDS = Number(process.env["TV_FLOOD_SECONDS"] ?? 4);
const MiB = 2 ** 20;
let env: Awaited<ReturnType<typeof startDaemon>>;
let guest = "";

before(async () => {
  if (skip) return;
  guest = buildGuest("flood.S");
  // Stalled console clients are disconnected after 1 s here (10 s by default), so CI sees it happen.
  env = await startDaemon({ allowDirs: [dirname(guest)], consoleStallMs: 1000 });
});
after(async () => {
  if (!skip) await env.daemon.stop();
});

function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1] ?? 0) * 1024;
}

/** Samples RSS of the daemon (this process) and the VM process every 100 ms for `seconds`. */
async function measure(vmPid: number, seconds: number, tick: () => void = () => {}) {
  const start = { daemon: process.memoryUsage.rss(), vm: rssOf(vmPid) };
  const peak = { ...start };
  const t0 = Date.now();
  while (Date.now() - t0 < seconds * 1000) {
    await new Promise((r) => setTimeout(r, 100));
    tick();
    peak.daemon = Math.max(peak.daemon, process.memoryUsage.rss());
    peak.vm = Math.max(peak.vm, rssOf(vmPid));
  }
  const mb = (n: number) => (n / MiB).toFixed(0);
  process.stderr.write(
    `# ${seconds} s: daemon RSS ${mb(start.daemon)} -> peak ${mb(peak.daemon)} MiB, VM process RSS ${mb(start.vm)} -> peak ${mb(peak.vm)} MiB\n`,
  );
  return { start, peak };
}

async function startFlood(name: string): Promise<{ id: string; pid: number }> {
  const r = await call(env.ep, "POST", "/v1/vms?start=true", { name, kernel: guest, memoryMiB: 64 });
  assert.equal(r.status, 201, r.text);
  const id = (r.body as { id: string }).id;
  const pid = await waitFor("VM process", () => env.daemon.vms.pid(id));
  await waitFor("flood running", () => (env.daemon.vms.stats(id)?.console.txBytes ?? 0) > 16 * MiB);
  return { id, pid };
}

const metric = async (name: string, id: string) => {
  const m = new RegExp(`^${name}\\{vm="${id}"[^}]*\\} (\\d+)`, "m").exec((await call(env.ep, "GET", "/metrics")).text);
  return Number(m?.[1] ?? -1);
};

test(
  "a DBCN console_write flood keeps the VM process and the daemon bounded, and counts what it drops",
  { skip, timeout: (SECONDS + 60) * 1000 },
  async () => {
    const { id, pid } = await startFlood("dbcn");
    const { start, peak } = await measure(pid, SECONDS);
    assert.ok(peak.vm - start.vm < 64 * MiB, `VM process grew by ${(peak.vm - start.vm) / MiB} MiB`);
    assert.ok(peak.daemon - start.daemon < 64 * MiB, `daemon grew by ${(peak.daemon - start.daemon) / MiB} MiB`);
    await waitFor(
      "dropped output counted",
      async () => (await metric("typevisor_vm_console_dropped_bytes_total", id)) > 0,
      5000,
    );
    assert.equal((await call(env.ep, "DELETE", `/v1/vms/${id}?force=true`)).status, 204);
  },
);

/** A console WebSocket client that completes the upgrade and then never reads. */
function stalledReader(id: string): Socket {
  const s = connect(env.socket);
  s.on("error", () => {});
  s.pause();
  s.write(
    `GET /v1/vms/${id}/console HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
  );
  return s;
}

test(
  "a console reader that stops reading does not grow the daemon; its dropped output is counted",
  { skip, timeout: (SECONDS + 60) * 1000 },
  async () => {
    const { id, pid } = await startFlood("stalled");
    // A hostile client reconnects every 2 s (it is disconnected after 1 s of stalling).
    let reader = stalledReader(id);
    let opened = Date.now();
    const { start, peak } = await measure(pid, SECONDS, () => {
      if (Date.now() - opened > 2000) {
        reader.destroy();
        reader = stalledReader(id);
        opened = Date.now();
      }
    });
    reader.destroy();
    assert.ok(peak.daemon - start.daemon < 64 * MiB, `daemon grew by ${(peak.daemon - start.daemon) / MiB} MiB`);
    assert.ok(peak.vm - start.vm < 64 * MiB, `VM process grew by ${(peak.vm - start.vm) / MiB} MiB`);
    assert.ok((await metric("typevisor_console_client_dropped_bytes_total", id)) > 0, "dropped output is counted");
    assert.ok(
      env.logs.some((l) =>
        /console client of VM 'stalled' stalled for 1 s \(\d+ bytes dropped\): disconnected/.test(l),
      ),
      "the stalled client was disconnected",
    );
    assert.equal((await call(env.ep, "DELETE", `/v1/vms/${id}?force=true`)).status, 204);
  },
);
