// Shared setup for the control-plane tests: a daemon in a temporary state directory and helpers
// to wait for conditions.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Daemon } from "../../src/control/Daemon.js";
import type { ImageResolver } from "../../src/control/VmManager.js";
import { call, type Endpoint } from "../../src/control/Client.js";

export async function startDaemon(
  opts: {
    token?: string;
    shutdownTimeoutMs?: number;
    allowDirs?: string[];
    imageDir?: string;
    resolveImage?: ImageResolver;
    consoleStallMs?: number;
    uiDir?: string;
  } = {},
) {
  const dir = mkdtempSync(join(tmpdir(), "tv-control-"));
  const socket = join(dir, "d.sock");
  /** The daemon's log lines (one per failed request). */
  const logs: string[] = [];
  const daemon = new Daemon({
    log: (l) => logs.push(l),
    // A test process that dies (a timeout) must not leave VM processes behind.
    vmsOutliveDaemon: false,
    stateDir: dir,
    socket,
    ...(opts.token ? { listen: { host: "127.0.0.1", port: 0, token: opts.token } } : {}),
    resolveImage:
      opts.resolveImage ??
      (async (name) => {
        throw new Error(`no image '${name}' in this test`);
      }),
    ...(opts.shutdownTimeoutMs ? { shutdownTimeoutMs: opts.shutdownTimeoutMs } : {}),
    ...(opts.allowDirs ? { allowDirs: opts.allowDirs } : {}),
    ...(opts.imageDir ? { imageDir: opts.imageDir } : {}),
    ...(opts.consoleStallMs ? { consoleStallMs: opts.consoleStallMs } : {}),
    ...(opts.uiDir ? { uiDir: opts.uiDir } : {}),
  });
  await daemon.start();
  const ep: Endpoint = { socket };
  return { daemon, dir, socket, ep, logs };
}

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 60_000,
): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function get(ep: Endpoint, path: string): Promise<Record<string, unknown>> {
  const r = await call(ep, "GET", path);
  return r.body as Record<string, unknown>;
}
