// `typevisor serve`: runs the control-plane daemon in the foreground.
import { existsSync, readFileSync, statSync } from "node:fs";
import type { Command } from "../Command.js";
import { UsageError, parseCommandArgs } from "../Command.js";
import { Daemon } from "../../control/Daemon.js";
import { defaultSocket, stateDir } from "../../control/Paths.js";
import { bootImageProblem, ensureImage } from "../../images/index.js";
import { ImageCache } from "../../images/ImageCache.js";
import { join, resolve } from "node:path";
import { WEB_DIR } from "../WebBundle.js";

const usage = `Usage: typevisor serve [--socket PATH] [--state-dir DIR] [--allow-dir DIR]... [--listen HOST:PORT --token-file FILE] [--no-warm-spare]

Runs the control-plane daemon (the Domain 0 role): an HTTP API that creates, starts, pauses,
resumes, shuts down, kills and deletes VMs, each in its own process. VM definitions and their last
states are kept in SQLite in the state directory. VMs keep running if the daemon dies (even kill -9)
and are re-adopted when it starts again; SIGINT/SIGTERM stops them (disks flushed).

Options:
  --socket PATH       Unix socket to listen on (owner-only, mode 0600); only a stale socket at
                      PATH is replaced: a file, a directory or a live daemon's socket is refused
                      (default: $TYPEVISOR_SOCKET or <state-dir>/typevisor.sock)
  --state-dir DIR     database, per-VM overlays and control sockets, owner-only (0700/0600)
                      (default: $TYPEVISOR_STATE, $XDG_STATE_HOME/typevisor or
                      ~/.local/state/typevisor)
  --allow-dir DIR     a host directory whose files VM specs may name as kernel, initrd, bios or
                      disk (repeatable). Without it, specs may name only files in the state
                      directory and (read-only) in the image cache: any other path is refused
                      with 403, so an API caller cannot reach the daemon user's files
  --listen HOST:PORT  also listen on TCP; every request must then carry
                      'Authorization: Bearer <token>' with the token from --token-file
  --token-file FILE   file holding the bearer token (at least 16 characters; keep it mode 0600)
                      With --listen, a web dashboard is at http://HOST:PORT/ui/ (VM list, create,
                      start/pause/stop/delete, consoles, live statistics); it asks for the token
                      once per browser session
  --shutdown-timeout S  seconds a guest gets to power off on 'vm stop' before it is stopped (default 30)
  --no-warm-spare     do not keep a warm spare VM process for 'vm restore' (by default, once there
                      is a snapshot, one process waits with Node started and its code compiled, so
                      that a clone answers sooner; it costs that process's memory, ~60 MiB)

The API is described at GET /openapi.json. Clients: 'typevisor vm ...', or curl:
  curl --unix-socket ~/.local/state/typevisor/typevisor.sock http://x/v1/vms`;

export const command: Command = {
  name: "serve",
  summary: "run the control-plane daemon (HTTP API for many VMs)",
  usage,
  async run(argv) {
    const { values } = parseCommandArgs(
      "serve",
      argv,
      {
        socket: { type: "string" },
        "state-dir": { type: "string" },
        listen: { type: "string" },
        "token-file": { type: "string" },
        "shutdown-timeout": { type: "string" },
        "allow-dir": { type: "string", multiple: true },
        "no-warm-spare": { type: "boolean" },
      },
      false,
    );
    const allowDirs = (values["allow-dir"] ?? []).map((d) => {
      const abs = resolve(d);
      let ok = false;
      try {
        ok = statSync(abs).isDirectory();
      } catch {
        // reported below
      }
      if (!ok) throw new UsageError(`serve: --allow-dir '${d}' is not an existing directory`);
      return abs;
    });
    if (values["state-dir"]) process.env["TYPEVISOR_STATE"] = values["state-dir"];
    let listen: { host: string; port: number; token: string } | undefined;
    if (values.listen) {
      const m = /^(.*):(\d+)$/.exec(values.listen);
      if (!m || Number(m[2]) > 65535)
        throw new UsageError(`serve: --listen '${values.listen}' is not HOST:PORT (e.g. 127.0.0.1:8080)`);
      if (!values["token-file"])
        throw new UsageError("serve: --listen needs --token-file FILE: TCP clients must present a bearer token");
      let token: string;
      try {
        token = readFileSync(values["token-file"], "utf8").trim();
      } catch (e) {
        throw new UsageError(`serve: cannot read --token-file '${values["token-file"]}': ${(e as Error).message}`);
      }
      if (token.length < 16)
        throw new UsageError(
          `serve: the token in '${values["token-file"]}' is shorter than 16 characters; use e.g. 'openssl rand -hex 32 > ${values["token-file"]}'`,
        );
      if ((statSync(values["token-file"]).mode & 0o077) !== 0)
        process.stderr.write(
          `typevisor serve: warning: ${values["token-file"]} is readable by other users (chmod 600 it)\n`,
        );
      listen = { host: m[1]!.replace(/^\[|\]$/g, ""), port: Number(m[2]), token };
    }
    let timeoutMs: number | undefined;
    if (values["shutdown-timeout"] !== undefined) {
      const n = Number(values["shutdown-timeout"]);
      if (!Number.isFinite(n) || n <= 0)
        throw new UsageError(
          `serve: --shutdown-timeout '${values["shutdown-timeout"]}' is not a positive number of seconds`,
        );
      timeoutMs = n * 1000;
    }
    const daemon = new Daemon({
      stateDir: stateDir(),
      socket: values.socket ?? defaultSocket(),
      ...(listen ? { listen } : {}),
      resolveImage: Object.assign((name: string) => ensureImage(name, { quiet: true }), { check: bootImageProblem }),
      allowDirs,
      imageDir: new ImageCache().images,
      ...(timeoutMs ? { shutdownTimeoutMs: timeoutMs } : {}),
      warmSpare: values["no-warm-spare"] !== true,
      ...(existsSync(join(WEB_DIR, "ui", "index.html")) ? { uiDir: join(WEB_DIR, "ui") } : {}),
      log: (l) => process.stderr.write(l + "\n"),
    });
    try {
      await daemon.start();
    } catch (e) {
      throw new UsageError(`serve: ${(e as Error).message}`, 1);
    }
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
    process.stderr.write("typevisor serve: stopping the VMs (disks flushed) and exiting\n");
    await daemon.stop();
    return 0;
  },
};
