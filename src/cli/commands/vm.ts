// `typevisor vm ...`: the daemon's command-line client.
import WebSocket from "ws";
import type { Command } from "../Command.js";
import { UsageError, parseCommandArgs, parseSize } from "../Command.js";
import { parseNetFlags } from "../NetOption.js";
import { ClientError, callOk, endpointFrom, type Endpoint } from "../../control/Client.js";
import type { VmSpec } from "../../control/VmSpec.js";
import type { VmProcessStats } from "../../control/VmProtocol.js";
import { formatVmStats, stripTerminalEscapes } from "../VmText.js";
import { parseEngine } from "../EngineSetup.js";
import { readFileSync } from "node:fs";

const usage = `Usage: typevisor vm <action> [options]

Talks to the daemon ('typevisor serve').

Actions:
  create [--name N] (--image NAME | --kernel K [--initrd I]) [--append "ARGS"] [--bios FILE]
         [--memory 256M] [--cpus 1] [--disk FILE[,ro][,overlay]]... [--net SPEC]... [--switch NAME [--mac MAC]]
         [--cpu-quota 0.5] [--engine interp|dbt] [--share DIR[:TAG][,ro]]... [--start]
                                           define a VM (paths are on the daemon's host, in
                                           its state directory or a 'serve --allow-dir'); --engine:
                                           binary translator (default) or interpreter; --share:
                                           a host folder under a 'serve --allow-dir', mounted on
                                           /mnt/TAG in the guest (TAG default DIR's name); --net:
                                           user[,hostfwd=tcp::HOSTPORT-:GUESTPORT] or switch:NAME
                                           (as 'typevisor run --help'; no tap through the daemon)
  ls                                       list VMs
  start VM | pause VM | resume VM          change a VM's state (VM = id or name)
  stop VM [--timeout S] [--no-wait]        ask the guest to power off; stopped after S seconds
  kill VM                                  end the VM's process at once
  rm VM [--force]                          delete a VM (--force kills it first)
  console VM [--read-only]                 attach to the console (Ctrl-] detaches)
  stats VM                                 statistics (instructions, exits, traps, SBI calls, memory,
                                           per vCPU); --json for the API's JSON
  logs VM [--raw]                          recent console output as plain text (--raw keeps the
                                           terminal escape sequences)
  snapshot VM [--name SNAP] [--compress]   pause the VM, save it and freeze its disks, resume it
                                           (docs/SNAPSHOTS.md); --compress deflates its RAM
  snapshots                                list snapshots
  snapshot rm SNAP [--force]               delete a snapshot (--force: even if VMs restored from
                                           it still use its disks)
  migrate VM --to http://HOST:PORT --token-file F [--max-downtime 300ms] [--name N] [--copy-disks]
                                           live-migrate VM to another daemon (F: its token; the
                                           disks must be reachable by the same paths there, or
                                           with --copy-disks only their base files, the overlays
                                           being pre-copied with the RAM; 300ms bounds the final
                                           copy of RAM and overlay blocks; N: its name there,
                                           default the same)
  restore SNAP [--name NEWVM]              a new VM resumed from the snapshot, running at once; each
                                           restore is a clone (own disks, MAC, RNG reseeded)

Connection options:
  --socket PATH        the daemon's Unix socket (default: $TYPEVISOR_SOCKET or ~/.local/state/typevisor/typevisor.sock)
  --host HOST:PORT     a daemon on TCP, with --token-file FILE (or $TYPEVISOR_TOKEN_FILE)
  --json               machine-readable output`;

const options = {
  socket: { type: "string" },
  host: { type: "string" },
  "token-file": { type: "string" },
  json: { type: "boolean" },
  name: { type: "string" },
  image: { type: "string" },
  kernel: { type: "string" },
  initrd: { type: "string" },
  append: { type: "string" },
  bios: { type: "string" },
  memory: { type: "string" },
  cpus: { type: "string" },
  engine: { type: "string" },
  disk: { type: "string", multiple: true },
  share: { type: "string", multiple: true },
  net: { type: "string", multiple: true },
  switch: { type: "string" },
  mac: { type: "string" },
  "cpu-quota": { type: "string" },
  start: { type: "boolean" },
  timeout: { type: "string" },
  "no-wait": { type: "boolean" },
  force: { type: "boolean" },
  "read-only": { type: "boolean" },
  compress: { type: "boolean" },
  to: { type: "string" },
  "max-downtime": { type: "string" },
  "copy-disks": { type: "boolean" },
  raw: { type: "boolean" },
} as const;

interface SnapshotJson {
  name: string;
  vmName: string;
  createdAt: string;
  bytes: number;
  pages: number;
  storedPages: number;
  pausedMs: number;
}

interface VmJson {
  id: string;
  name: string;
  status: string;
  spec: VmSpec;
  lastExit: { reason: string; status: number | null; message?: string } | null;
  stats: { instructions: number; mips: number; rssBytes: number } | null;
}

function table(rows: string[][]): string {
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return (
    rows
      .map((r) =>
        r
          .map((c, i) => c.padEnd(w[i]!))
          .join("  ")
          .trimEnd(),
      )
      .join("\n") + "\n"
  );
}

function abs(p: string | undefined): string | undefined {
  return p === undefined ? undefined : p.startsWith("/") ? p : `${process.cwd()}/${p}`;
}

function specFrom(v: Record<string, unknown>): Record<string, unknown> {
  const s: Record<string, unknown> = {};
  if (v["name"]) s["name"] = v["name"];
  if (v["image"]) s["image"] = v["image"];
  if (v["kernel"]) s["kernel"] = abs(v["kernel"] as string);
  if (v["initrd"]) s["initrd"] = abs(v["initrd"] as string);
  if (v["append"] !== undefined) s["append"] = v["append"];
  if (v["bios"]) s["bios"] = abs(v["bios"] as string);
  if (v["memory"]) s["memoryMiB"] = Math.floor(parseSize(v["memory"] as string, "--memory") / 2 ** 20);
  if (v["cpus"]) s["cpus"] = Number(v["cpus"]);
  // Checked here too so the CLI's message names the flag; the daemon's schema checks the API field.
  if (v["engine"] !== undefined) s["engine"] = parseEngine("vm create", v["engine"] as string);
  if (v["cpu-quota"]) s["cpuQuota"] = Number(v["cpu-quota"]);
  if (v["switch"]) s["network"] = { switch: v["switch"], ...(v["mac"] ? { mac: v["mac"] } : {}) };
  const nets = v["net"] as string[] | undefined;
  if (nets) {
    s["nics"] = parseNetFlags("vm create", nets, [], undefined).map((n) => {
      const mac = n.mac ? { mac: n.mac } : {};
      if (n.kind === "user") return { mode: "user", ...mac, ...(n.hostfwd.length > 0 ? { hostfwd: n.hostfwd } : {}) };
      if (n.kind === "switch") return { mode: "switch", switch: n.name, ...mac };
      throw new UsageError(
        "vm create: --net tap is not available through the daemon (it attaches a host interface); use 'typevisor run --net tap:IFNAME'",
      );
    });
  }
  const disks = (v["disk"] as string[] | undefined) ?? [];
  s["disks"] = disks.map((d) => {
    const [path, ...opts] = d.split(",");
    const o: Record<string, unknown> = { path: abs(path) };
    for (const x of opts) {
      if (x === "ro") o["readOnly"] = true;
      else if (x === "overlay") o["overlay"] = true;
      else throw new UsageError(`vm create: --disk option '${x}' is unknown (use ro or overlay)`);
    }
    return o;
  });
  const shares = (v["share"] as string[] | undefined) ?? [];
  // DIR[:TAG][,ro], as on `run`; the daemon checks the directory (on its host) and the tag.
  if (shares.length > 0)
    s["shares"] = shares.map((d) => {
      const [head = "", ...opts] = d.split(",");
      const colon = head.lastIndexOf(":");
      const o: Record<string, unknown> = { path: abs(colon > 0 ? head.slice(0, colon) : head) };
      if (colon > 0) o["tag"] = head.slice(colon + 1);
      for (const x of opts) {
        if (x === "ro") o["readOnly"] = true;
        else throw new UsageError(`vm create: --share option '${x}' is unknown (form: --share DIR[:TAG][,ro])`);
      }
      return o;
    });
  return s;
}

async function console_(ep: Endpoint, ref: string, readOnly: boolean): Promise<number> {
  const path = `/v1/vms/${encodeURIComponent(ref)}/console?mode=${readOnly ? "read" : "write"}`;
  const url = ep.url ? ep.url.replace(/^http/, "ws") + path : `ws+unix://${ep.socket}:${path}`;
  const ws = new WebSocket(url, { headers: ep.token ? { authorization: `Bearer ${ep.token}` } : {} });
  return new Promise<number>((resolve) => {
    const stdin = process.stdin;
    // The writer's terminal size goes to the guest's hvc0 (POST .../resize), now and on SIGWINCH.
    const out = process.stdout;
    const sendSize = () => {
      if (readOnly || !out.isTTY) return;
      callOk(ep, "POST", `/v1/vms/${encodeURIComponent(ref)}/resize`, { cols: out.columns, rows: out.rows }).catch(
        () => {},
      );
    };
    const restore = () => {
      if (stdin.isTTY) stdin.setRawMode(false);
      stdin.pause();
      out.off("resize", sendSize);
    };
    ws.on("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => {
        let msg = body;
        try {
          msg = (JSON.parse(body) as { error: string }).error;
        } catch {
          /* raw */
        }
        process.stderr.write(`typevisor: vm console: ${msg || `HTTP ${res.statusCode}`}\n`);
        resolve(1);
      });
    });
    ws.on("error", (e) => {
      process.stderr.write(`typevisor: vm console: ${e.message}\n`);
      resolve(1);
    });
    ws.on("open", () => {
      process.stderr.write(`[attached to ${ref}${readOnly ? " read-only" : ""}; Ctrl-] detaches]\n`);
      if (stdin.isTTY) stdin.setRawMode(true);
      stdin.resume();
      sendSize();
      out.on("resize", sendSize);
      stdin.on("data", (d: Buffer) => {
        const i = d.indexOf(0x1d);
        if (i >= 0) {
          if (!readOnly && i > 0) ws.send(d.subarray(0, i));
          ws.close();
          return;
        }
        if (!readOnly) ws.send(d);
      });
    });
    ws.on("message", (d: Buffer) => process.stdout.write(d));
    ws.on("close", () => {
      restore();
      process.stderr.write("\n[detached]\n");
      resolve(0);
    });
  });
}

export const command: Command = {
  name: "vm",
  summary: "manage VMs through the daemon (create, ls, start, stop, console, ...)",
  usage,
  async run(argv) {
    const { values, positionals } = parseCommandArgs("vm", argv, options, true);
    // `vm snapshot rm SNAP`: the one three-word action.
    if (positionals[0] === "snapshot" && positionals[1] === "rm") positionals.splice(0, 2, "snapshot-rm");
    const [action, ref, ...extra] = positionals;
    if (!action)
      throw new UsageError(
        "vm: give an action: create, ls, start, pause, resume, stop, kill, rm, console, stats, logs, snapshot, snapshots, restore (see 'typevisor vm --help')",
      );
    if (extra.length) throw new UsageError(`vm ${action}: unexpected argument '${extra[0]}'`);
    const ep = endpointFrom({ socket: values.socket, host: values.host, tokenFile: values["token-file"] });
    const json = !!values.json;
    const out = (o: unknown, human: () => string) =>
      process.stdout.write(json ? JSON.stringify(o, null, 2) + "\n" : human());
    const needRef = () => {
      if (!ref) throw new UsageError(`vm ${action}: name the VM (its id or name)`);
      return encodeURIComponent(ref);
    };
    try {
      switch (action) {
        case "create": {
          if (ref) throw new UsageError(`vm create: unexpected argument '${ref}' (give the name with --name)`);
          const vm = (await callOk(
            ep,
            "POST",
            `/v1/vms${values.start ? "?start=true" : ""}`,
            specFrom(values),
          )) as VmJson;
          out(vm, () => `${vm.id} ${vm.name} ${vm.status}\n`);
          return 0;
        }
        case "ls": {
          const vms = (await callOk(ep, "GET", "/v1/vms")) as VmJson[];
          out(vms, () =>
            table([
              ["ID", "NAME", "STATUS", "MEMORY", "CPUS", "INSTRUCTIONS", "LAST EXIT"],
              ...vms.map((v) => [
                v.id,
                v.name,
                v.status,
                `${v.spec.memoryMiB}M`,
                String(v.spec.cpus),
                v.stats ? String(v.stats.instructions) : "-",
                v.lastExit ? `${v.lastExit.reason}${v.lastExit.status !== null ? ` (${v.lastExit.status})` : ""}` : "-",
              ]),
            ]),
          );
          return 0;
        }
        case "start":
        case "pause":
        case "resume":
        case "kill": {
          const vm = (await callOk(ep, "POST", `/v1/vms/${needRef()}/${action}`)) as VmJson;
          out(
            vm,
            () => `${vm.name}: ${vm.status}${action === "kill" && vm.lastExit ? ` (${vm.lastExit.reason})` : ""}\n`,
          );
          return 0;
        }
        case "stop": {
          const r = needRef();
          const t = values.timeout ? `?timeoutSeconds=${encodeURIComponent(values.timeout)}` : "";
          let vm = (await callOk(ep, "POST", `/v1/vms/${r}/shutdown${t}`)) as VmJson;
          if (!values["no-wait"]) {
            while (vm.status !== "stopped") {
              await new Promise((res) => setTimeout(res, 300));
              vm = (await callOk(ep, "GET", `/v1/vms/${r}`)) as VmJson;
            }
          }
          out(
            vm,
            () =>
              `${vm.name}: ${vm.status}${vm.lastExit && vm.status === "stopped" ? ` (${vm.lastExit.reason})` : ""}\n`,
          );
          return 0;
        }
        case "rm": {
          await callOk(ep, "DELETE", `/v1/vms/${needRef()}${values.force ? "?force=true" : ""}`);
          out({ deleted: ref }, () => `${ref}: deleted\n`);
          return 0;
        }
        case "stats": {
          const s = await callOk(ep, "GET", `/v1/vms/${needRef()}/stats`);
          if (s === null) throw new ClientError(409, `VM '${ref}' has not run yet: no statistics`);
          out(s, () => formatVmStats(s as VmProcessStats));
          return 0;
        }
        case "logs": {
          const text = String(await callOk(ep, "GET", `/v1/vms/${needRef()}/console`));
          process.stdout.write(values.raw ? text : stripTerminalEscapes(text));
          return 0;
        }
        case "snapshot": {
          const body: Record<string, unknown> = {};
          if (values.name !== undefined) body["name"] = values.name;
          if (values.compress) body["compress"] = true;
          const snap = (await callOk(ep, "POST", `/v1/vms/${needRef()}/snapshot`, body)) as SnapshotJson;
          out(
            snap,
            () =>
              `${snap.name}: snapshot of ${snap.vmName}, ${(snap.bytes / 2 ** 20).toFixed(1)} MiB (${snap.storedPages} of ${snap.pages} RAM pages), guest paused ${snap.pausedMs.toFixed(0)} ms\n`,
          );
          return 0;
        }
        case "snapshots": {
          if (ref) throw new UsageError(`vm snapshots: unexpected argument '${ref}'`);
          const list = (await callOk(ep, "GET", "/v1/snapshots")) as SnapshotJson[];
          out(list, () =>
            table([
              ["NAME", "VM", "CREATED", "SIZE", "RAM PAGES"],
              ...list.map((x) => [
                x.name,
                x.vmName,
                x.createdAt,
                `${(x.bytes / 2 ** 20).toFixed(1)}M`,
                `${x.storedPages}/${x.pages}`,
              ]),
            ]),
          );
          return 0;
        }
        case "snapshot-rm": {
          if (!ref) throw new UsageError("vm snapshot rm: name the snapshot");
          await callOk(ep, "DELETE", `/v1/snapshots/${encodeURIComponent(ref)}${values.force ? "?force=true" : ""}`);
          out({ deleted: ref }, () => `${ref}: deleted\n`);
          return 0;
        }
        case "migrate": {
          if (!values.to) throw new UsageError("vm migrate: give the destination daemon with --to http://HOST:PORT");
          const tf = values["token-file"];
          if (!tf) throw new UsageError("vm migrate: give the destination's token with --token-file FILE");
          let token: string;
          try {
            token = readFileSync(tf, "utf8").trim();
          } catch (e) {
            throw new UsageError(`vm migrate: cannot read the token file '${tf}': ${(e as Error).message}`);
          }
          const md = values["max-downtime"] ?? "300ms";
          const mm = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(md);
          if (!mm) throw new UsageError(`vm migrate: --max-downtime ${md}: give a duration such as 300ms or 1s`);
          const maxDowntimeMs = Number(mm[1]) * (mm[2] === "s" ? 1000 : 1);
          // --token-file names the destination's token here: the source is reached by --socket.
          const src = endpointFrom({ socket: values.socket });
          const r = (await callOk(src, "POST", `/v1/vms/${needRef()}/migrate`, {
            to: values.to,
            token,
            maxDowntimeMs,
            ...(values.name !== undefined ? { name: values.name } : {}),
            ...(values["copy-disks"] ? { copyDisks: true } : {}),
          })) as {
            destination: string;
            result: { rounds: number; bytesSent: number; diskBytesSent?: number; totalMs: number; downtimeMs: number };
          };
          out(
            r,
            () =>
              `${ref}: migrated to ${values.to} (VM ${r.destination}): ${r.result.rounds} rounds, ${(r.result.bytesSent / 2 ** 20).toFixed(1)} MiB${r.result.diskBytesSent ? ` (${(r.result.diskBytesSent / 2 ** 20).toFixed(1)} MiB of it overlays)` : ""}, ${r.result.totalMs.toFixed(0)} ms total, ${r.result.downtimeMs.toFixed(0)} ms downtime\n`,
          );
          return 0;
        }
        case "restore": {
          if (!ref) throw new UsageError("vm restore: name the snapshot (see 'typevisor vm snapshots')");
          const body: Record<string, unknown> = {};
          if (values.name !== undefined) body["name"] = values.name;
          const vm = (await callOk(ep, "POST", `/v1/snapshots/${encodeURIComponent(ref)}/restore`, body)) as VmJson;
          out(vm, () => `${vm.id} ${vm.name} ${vm.status}\n`);
          return 0;
        }
        case "console":
          needRef();
          return await console_(ep, ref!, !!values["read-only"]);
        default:
          throw new UsageError(
            `vm: unknown action '${action}' (create, ls, start, pause, resume, stop, kill, rm, console, stats, logs, snapshot, snapshots, restore)`,
          );
      }
    } catch (e) {
      if (e instanceof ClientError) throw new UsageError(`vm ${action}: ${e.message}`, 1);
      throw e;
    }
  },
};
