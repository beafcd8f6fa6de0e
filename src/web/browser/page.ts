// The page that boots an image in the browser (served by `typevisor web`, or any static host with
// the image files and boot.json beside it: docs/WEB.md). It reads boot.json, downloads the kernel,
// initramfs and disk with a progress bar, boots them in the VM worker with the console in xterm.js,
// and shows live statistics (MIPS, exits by class, translated pages) once a second.
import { Terminal } from "@xterm/xterm";
import { FitAddon } from "@xterm/addon-fit";
import { boot, isolationProblem, type BrowserVm } from "./TypevisorBrowser.js";
import { forgetOpfsChanges } from "./OpfsChunkStore.js";
import type { VmStats } from "../../vmm/Vm.js";
import type { DownloadProgress } from "../Typevisor.js";

/** What to boot: written by `typevisor web`, or by hand for a static host. */
interface BootConfig {
  name?: string;
  kernel: string;
  initrd?: string;
  disks?: string[];
  append?: string;
  memory?: string;
  cpus?: number;
  engine?: "dbt" | "interp";
  /** Keep the disks' changes in the browser's storage across reloads (default true). */
  persist?: boolean;
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

function showProblem(text: string): void {
  const p = $("problem");
  p.textContent = text;
  p.hidden = false;
  $("state").textContent = "cannot boot";
}

const files = new Map<string, DownloadProgress>();
function progress(p: DownloadProgress): void {
  files.set(p.file, p);
  let loaded = 0;
  let total = 0;
  for (const f of files.values()) {
    loaded += f.loaded;
    total += f.total ?? f.loaded;
  }
  $("progress").hidden = false;
  const bar = $<HTMLProgressElement>("bar");
  bar.max = Math.max(1, total);
  bar.value = loaded;
  $("progress-text").textContent = `${p.file}: ${(loaded / 1048576).toFixed(1)} of ${(total / 1048576).toFixed(1)} MiB`;
}

const fmt = (n: number) => n.toLocaleString("en-US");

let last: { at: number; instructions: number } | undefined;
function renderStats(s: VmStats): void {
  const now = performance.now();
  const mipsNow = last ? (s.instructions - last.instructions) / ((now - last.at) * 1000) : s.mips;
  last = { at: now, instructions: s.instructions };
  const rows: [string, string][] = [
    ["MIPS (last second)", mipsNow.toFixed(1)],
    ["MIPS (average)", s.mips.toFixed(1)],
    ["instructions", fmt(s.instructions)],
    ["engine", s.engine],
  ];
  const group = (title: string, entries: Record<string, number>) => {
    rows.push([`#${title}`, ""]);
    for (const [k, v] of Object.entries(entries)) rows.push([k, fmt(v)]);
  };
  group("exits to the VMM", s.exits);
  // With several vCPUs: each one's Web Worker, its instructions and share of time running guest code.
  if (s.vcpus && s.vcpus.length > 1)
    group(
      "vCPU workers: instructions (% running)",
      Object.fromEntries(
        s.vcpus.map((v) => {
          const t = v.runningSeconds + v.waitingSeconds;
          return [`vCPU ${v.hart} (${t > 0 ? Math.round((100 * v.runningSeconds) / t) : 0}%)`, v.instructions];
        }),
      ),
    );
  if (s.dbt) {
    const d = s.dbt;
    const all = d.translatedInsns + d.interpInsns;
    group("translator", {
      "translated pages": d.pagesTranslated,
      "translated blocks": d.blocksTranslated,
      "wasm KiB": Math.round(d.wasmBytes / 1024),
      "% instructions translated": all > 0 ? Math.round((100 * d.translatedInsns) / all) : 0,
      invalidations: d.invalidations,
    });
  }
  group("emulated privileged ops", s.emulated.privileged);
  group("exceptions", s.exceptions);
  group("interrupts", s.interrupts);
  group("SBI calls", s.sbiCalls);
  const body = $("stats-body");
  body.replaceChildren(
    ...rows.map(([k, v]) => {
      const tr = document.createElement("tr");
      if (k.startsWith("#")) {
        tr.className = "group";
        const td = document.createElement("td");
        td.colSpan = 2;
        td.textContent = k.slice(1);
        tr.append(td);
      } else {
        const a = document.createElement("td");
        a.textContent = k;
        const b = document.createElement("td");
        b.className = "n";
        b.textContent = v;
        tr.append(a, b);
      }
      return tr;
    }),
  );
}

async function main(): Promise<void> {
  const problem = isolationProblem();
  if (problem) return showProblem(`Typevisor cannot run here: ${problem}`);
  let cfg: BootConfig;
  try {
    const r = await fetch("boot.json");
    if (!r.ok) throw new Error(`boot.json: ${r.status} ${r.statusText}`);
    cfg = (await r.json()) as BootConfig;
  } catch (e) {
    return showProblem(
      `Nothing to boot: ${(e as Error).message}. Put boot.json ({"kernel": "...", "initrd": "...", "disks": ["..."]}) beside this page (docs/WEB.md).`,
    );
  }
  $("image").textContent = cfg.name ?? "";
  $("state").textContent = "downloading";
  // The terminal is fitted first: the guest learns its size at boot from hvc0 (virtio-console
  // SIZE) and from the kernel command line (tv.rows and tv.cols, for images without the hvc0
  // follower); after a window resize the fitted size reaches hvc0 (TypevisorBrowser's onResize),
  // and the image's init copies it to the serial console the shell runs on.
  const term = new Terminal({ scrollback: 10000, fontSize: 14 });
  const fit = new FitAddon();
  term.loadAddon(fit);
  term.open($("console"));
  fit.fit();
  addEventListener("resize", () => fit.fit());
  const append = [cfg.append ?? "console=ttyS0", `tv.rows=${term.rows} tv.cols=${term.cols}`].join(" ");
  let vm: BrowserVm;
  try {
    vm = await boot({
      kernel: cfg.kernel,
      initrd: cfg.initrd,
      disks: cfg.disks,
      memory: cfg.memory,
      cpus: cfg.cpus,
      engine: cfg.engine,
      append,
      console: term,
      onProgress: progress,
      onNote: (m) => ($("note").textContent = m),
      ...(cfg.persist !== false ? { persist: cfg.name ?? "disk" } : {}),
    });
  } catch (e) {
    return showProblem(`The VM did not start: ${(e as Error).message}`);
  }
  $("progress").hidden = true;
  $("state").textContent = "running";
  vm.terminal?.focus();
  (window as unknown as { typevisor: BrowserVm }).typevisor = vm;
  const pause = $<HTMLButtonElement>("pause");
  const stop = $<HTMLButtonElement>("stop");
  const download = $<HTMLButtonElement>("download");
  const reset = $<HTMLButtonElement>("reset");
  reset.disabled = !cfg.disks?.length || cfg.persist === false;
  reset.onclick = async () => {
    if (!confirm("Forget this disk's changes kept in this browser and boot the image again?")) return;
    reset.disabled = true;
    vm.stop();
    await vm.exited; // the worker ends, closing its storage handles
    await forgetOpfsChanges();
    location.reload();
  };
  pause.disabled = stop.disabled = false;
  download.disabled = !cfg.disks?.length;
  vm.on("state", (s) => {
    $("state").textContent = s;
    pause.textContent = s === "paused" ? "Resume" : "Pause";
  });
  pause.onclick = () => (pause.textContent === "Pause" ? vm.pause() : vm.resume());
  stop.onclick = () => vm.stop();
  download.onclick = async () => {
    download.disabled = true;
    try {
      const changed = await vm.diskChanges(0);
      const blob = await vm.diskBlob(0);
      const a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = `${cfg.name ?? "disk"}.ext4`;
      a.title = `${(changed / 1048576).toFixed(1)} MiB changed`;
      a.click();
      setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
    } finally {
      download.disabled = false;
    }
  };
  const timer = setInterval(() => {
    vm.stats().then(renderStats, () => clearInterval(timer));
  }, 1000);
  const exit = await vm.exited;
  clearInterval(timer);
  pause.disabled = stop.disabled = true;
  $("state").textContent = `stopped (${exit.reason}${exit.reason === "poweroff" ? ` ${exit.status}` : ""})`;
  if (exit.message) vm.terminal?.write(`\r\n[typevisor: ${exit.message}]\r\n`);
}

void main();
