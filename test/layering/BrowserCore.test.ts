// The core builds for the browser (issue 20): the machine (memory, harts, translator, boot loaders,
// devices, board, SBI, FDT writer, machine builder) and the browser front end (src/web) use no Node
// built-in, neither an import of `node:*` (or a bare Node module name) nor the `Buffer` / `process`
// globals. Host-specific parts (files, TAP, passt, sockets, terminals, V8 flags) live in the named
// host files below, behind the backend interfaces (BlockBackend, CharBackend, NetBackend,
// MachineBackends), and no core file imports one of them, so esbuild's browser bundle of src/web
// reaches none. A new host file must be added here with its reason.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, normalize, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { importsOf } from "./Imports.js";
import { BROWSER_SUBSTITUTES } from "../../src/cli/WebBundle.js";

const SRC = fileURLToPath(new URL("../../../src", import.meta.url));

/** Folders whose files run in the page as well as under Node. */
const CORE_FOLDERS = ["memory", "riscv", "dbt", "boot", "devices", "vmm", "web"];

/** Host-specific files inside the core folders, and why they need Node. */
export const HOST_FILES: Record<string, string> = {
  "devices/block/FileIo.ts": "disk images are host files (fs/promises)",
  "devices/block/RawImage.ts": "disk images are host files",
  "devices/block/CowOverlay.ts": "copy-on-write overlays are host files",
  "devices/block/openDisk.ts": "opens the file-backed disks",
  "devices/chardev/FileBackend.ts": "console log files",
  "devices/chardev/TerminalBackend.ts": "the host terminal (stdin/stdout)",
  "devices/chardev/UnixSocketBackend.ts": "console on a Unix socket",
  "devices/net/FrameStream.ts": "frames over host sockets",
  "devices/net/PasstBackend.ts": "runs passt",
  "devices/net/SocketSwitch.ts": "a switch shared between processes over a Unix socket",
  "devices/net/TapBackend.ts": "Linux TAP through a helper process",
  "devices/net/StableMac.ts": "sha256 of a name (node:crypto; the CLI and daemon only)",
  "devices/fs/P9Server.ts": "the 9P server exports a host directory",
  "devices/virtio/Virtio9p.ts": "the 9P transport shares P9Server's Buffer codec",
  "dbt/WasmTiering.ts": "process-wide V8 flags, set by entry points only",
  "dbt/CompileWorker.ts": "the translator's compile worker thread (worker_threads), chosen by entry points",
  "dbt/CompileWorkerThread.ts": "the compile worker's thread",
  "dbt/Lockstep.ts": "run-elf --lockstep debugging",
  "vmm/NodeBackends.ts": "the host backends of the CLI and the daemon: files, passt, TAP, 9p",
  "vmm/BootFile.ts": "kernel, initramfs and firmware files read again at a reboot (the CLI, the daemon, snapshots)",
  "vmm/vcpu/spawnVcpu.ts": "starts vCPU threads (worker_threads); the page's build substitutes Web Workers",
  "vmm/vcpu/VcpuWorker.ts": "a vCPU thread's entry (worker_threads)",
  "vmm/vcpu/ThreadClock.ts": "the process-wide clock of the vCPU threads (process.hrtime); substituted in the page",
  "vmm/snapshot/Snapshot.ts": "snapshot files on the host",
  "vmm/snapshot/SnapshotFile.ts": "the snapshot file format (node:zlib, Buffer)",
  "vmm/snapshot/MachineState.ts": "part of the snapshot files (SnapshotFile's errors)",
  "vmm/snapshot/FreezeDisk.ts": "freezes a disk file for a snapshot (fs/promises)",
};

const NODE_BUILTINS = new Set(
  "assert buffer child_process cluster crypto dgram dns events fs http http2 https module net os path perf_hooks process readline stream string_decoder timers tls tty url util v8 vm worker_threads zlib".split(
    " ",
  ),
);

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? tsFiles(p) : n.endsWith(".ts") ? [p] : [];
  });
}

/** Code without comments and string literals' contents (so a word in a message is not a use). */
function codeOf(text: string): string {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/(^|[^:"'`])\/\/.*$/gm, "$1")
    .replace(/`(?:\\.|[^`\\])*`/g, "``")
    .replace(/"(?:\\.|[^"\\\n])*"/g, '""');
}

/** What in `text` needs Node: built-in module imports and the Buffer / process globals. */
export function nodeUses(text: string): string[] {
  const out: string[] = [];
  const noComments = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  for (const re of [
    /\bfrom\s*["']([^"']+)["']/g,
    /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g,
    /^\s*import\s*["']([^"']+)["']/gm,
  ]) {
    for (const m of noComments.matchAll(re)) {
      const spec = m[1]!;
      if (spec.startsWith("node:") || NODE_BUILTINS.has(spec.split("/")[0]!)) out.push(`imports ${spec}`);
    }
  }
  const code = codeOf(text);
  if (/(?<![.\w])Buffer\b/.test(code)) out.push("uses the Buffer global");
  if (/(?<![.\w])process\s*\./.test(code)) out.push("uses the process global");
  if (/(?<![.\w])setImmediate\b/.test(code))
    out.push("uses setImmediate (Node only; queueMicrotask or vmm/EventLoop.ts)");
  if (/(?<![.\w])NodeJS\./.test(code)) out.push("uses the NodeJS type namespace");
  if (/(?<![.\w])(__dirname|__filename|require)\b/.test(code)) out.push("uses CommonJS globals");
  return out;
}

test("nodeUses sees node: imports, bare built-ins and the Buffer/process globals, not comments or strings", () => {
  const text = [
    'import { a } from "node:fs";',
    'import type { B } from "zlib";',
    'import "../x.js";',
    "const x = Buffer.from([1]);",
    "// process.exit(1)",
    'const s = "process.env";',
    "const ab = new ArrayBuffer(1); const sab = new SharedArrayBuffer(1); obj.process.x = 1;",
    "setImmediate(f); let t: NodeJS.Timeout;",
  ].join("\n");
  assert.deepEqual(nodeUses(text), [
    "imports node:fs",
    "imports zlib",
    "uses the Buffer global",
    "uses setImmediate (Node only; queueMicrotask or vmm/EventLoop.ts)",
    "uses the NodeJS type namespace",
  ]);
});

test("the core (memory, riscv, dbt, boot, devices, vmm, web) uses no Node built-in outside its host files", () => {
  const problems: string[] = [];
  let checked = 0;
  for (const folder of CORE_FOLDERS) {
    for (const f of tsFiles(join(SRC, folder))) {
      const rel = relative(SRC, f).split(sep).join("/");
      if (rel in HOST_FILES) continue;
      checked++;
      const text = readFileSync(f, "utf8");
      for (const u of nodeUses(text)) problems.push(`src/${rel} ${u}`);
      // Type-only imports vanish from the bundle: only imports of values must stay in the core.
      for (const spec of importsOf(text.replace(/^\s*import type [^;]*;/gm, ""))) {
        const target = relative(SRC, normalize(join(dirname(f), spec)))
          .split(sep)
          .join("/")
          .replace(/\.js$/, ".ts");
        if (target in HOST_FILES && !(target in BROWSER_SUBSTITUTES))
          problems.push(
            `src/${rel} imports the host file src/${target} (${HOST_FILES[target]}): take it through a backend interface`,
          );
        else if (!CORE_FOLDERS.includes(target.split("/")[0]!))
          problems.push(`src/${rel} imports src/${target}, outside the core folders`);
      }
    }
  }
  for (const f of Object.keys(HOST_FILES)) assert.ok(statSync(join(SRC, f)).isFile(), `host file src/${f} exists`);
  for (const [host, page] of Object.entries(BROWSER_SUBSTITUTES)) {
    assert.ok(host in HOST_FILES, `substituted src/${host} is a listed host file`);
    assert.ok(statSync(join(SRC, page)).isFile(), `the page's src/${page} exists`);
  }
  assert.ok(checked > 50, `read the core (${checked} files)`);
  assert.deepEqual(problems, []);
});
