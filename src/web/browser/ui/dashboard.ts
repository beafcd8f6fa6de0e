// The control plane's dashboard at /ui/ (served by `typevisor serve --listen`, docs/WEB.md): the
// VM list with states, create / start / pause / resume / stop / kill / delete, each VM's console in
// xterm.js over the API's console WebSocket, its live statistics as small charts and the daemon's
// events for it. The token is asked once and kept in sessionStorage (this tab only); requests carry
// it in the Authorization header, the WebSocket in its subprotocol list, never in a URL.
import { Terminal } from "@xterm/xterm";
import { FitAddon } from "@xterm/addon-fit";

const TOKEN_KEY = "typevisor.token";
const CONSOLE_PROTOCOL = "typevisor.console";
const BEARER_PROTOCOL_PREFIX = "typevisor.bearer.";

interface VmStatsJson {
  instructions: number;
  mips: number;
  rssBytes: number;
  exits: Record<string, number>;
}
interface VmJson {
  id: string;
  name: string;
  status: string;
  spec: { memoryMiB: number; cpus: number; image?: string };
  lastExit?: { reason: string; status: number; message?: string };
  stats: VmStatsJson | null;
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

class Unauthorized extends Error {}

function token(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { authorization: `Bearer ${token() ?? ""}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (r.status === 401) throw new Unauthorized("the token was not accepted");
  if (r.status === 204) return undefined as T;
  const json = (await r.json()) as T & { error?: string };
  if (!r.ok) throw new Error(json.error ?? `${r.status} ${r.statusText}`);
  return json;
}

function showLogin(message = ""): void {
  stopStreams();
  $("app").hidden = true;
  $("logout").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message;
  $("token").focus();
}

// --- live statistics ------------------------------------------------------------------------------

interface Sample {
  at: number;
  instructions: number;
  exits: number;
  rssMiB: number;
}
const history = new Map<string, { samples: Sample[]; mips: number[]; exits: number[]; rss: number[] }>();

function record(vm: VmJson): void {
  if (!vm.stats) return;
  let h = history.get(vm.id);
  if (!h) history.set(vm.id, (h = { samples: [], mips: [], exits: [], rss: [] }));
  const s: Sample = {
    at: performance.now(),
    instructions: vm.stats.instructions,
    exits: Object.values(vm.stats.exits).reduce((a, b) => a + b, 0),
    rssMiB: vm.stats.rssBytes / 1048576,
  };
  const prev = h.samples[h.samples.length - 1];
  h.samples = [s];
  if (prev && s.at > prev.at && s.instructions >= prev.instructions) {
    const dt = (s.at - prev.at) / 1000;
    h.mips.push((s.instructions - prev.instructions) / dt / 1e6);
    h.exits.push((s.exits - prev.exits) / dt);
  }
  h.rss.push(s.rssMiB);
  for (const a of [h.mips, h.exits, h.rss]) if (a.length > 60) a.shift();
}

function chart(id: string, values: number[], label: string): void {
  const c = $<HTMLCanvasElement>(id);
  const g = c.getContext("2d");
  if (!g) return;
  g.clearRect(0, 0, c.width, c.height);
  const max = Math.max(1e-9, ...values);
  g.strokeStyle = "#6cf";
  g.beginPath();
  values.forEach((v, i) => {
    const x = (i / 59) * (c.width - 2) + 1;
    const y = c.height - 2 - (v / max) * (c.height - 4);
    if (i === 0) g.moveTo(x, y);
    else g.lineTo(x, y);
  });
  g.stroke();
  $(label).textContent = values.length ? values[values.length - 1]!.toFixed(1) : "";
}

// --- the VM list ----------------------------------------------------------------------------------

let selected: string | undefined;
let vms: VmJson[] = [];

const ACTIONS: [label: string, action: string, enabled: (s: string) => boolean][] = [
  ["Start", "start", (s) => s === "created" || s === "stopped"],
  ["Pause", "pause", (s) => s === "running"],
  ["Resume", "resume", (s) => s === "paused"],
  ["Stop", "shutdown", (s) => s === "running"],
  ["Kill", "kill", (s) => s === "running" || s === "paused" || s === "stopping" || s === "starting"],
  ["Delete", "delete", (s) => s === "created" || s === "stopped"],
];

async function act(vm: VmJson, action: string): Promise<void> {
  try {
    if (action === "delete") {
      if (!confirm(`Delete VM ${vm.name} and its disks' overlays?`)) return;
      await api("DELETE", `/v1/vms/${encodeURIComponent(vm.id)}`);
      if (selected === vm.id) closeDetail();
    } else await api("POST", `/v1/vms/${encodeURIComponent(vm.id)}/${action}`);
  } catch (e) {
    handle(e);
  }
  await refresh();
}

function renderList(): void {
  const body = $("vms").querySelector("tbody")!;
  body.replaceChildren(
    ...vms.map((vm) => {
      const tr = document.createElement("tr");
      tr.dataset["name"] = vm.name;
      if (vm.id === selected) tr.className = "selected";
      const cell = (text: string, cls = "") => {
        const td = document.createElement("td");
        td.textContent = text;
        if (cls) td.className = cls;
        tr.append(td);
        return td;
      };
      cell(vm.name, "name").onclick = () => select(vm.id);
      cell(vm.status, "status").title = vm.lastExit
        ? `last exit: ${vm.lastExit.reason} ${vm.lastExit.message ?? ""}`
        : "";
      cell(String(vm.spec.cpus));
      cell(`${vm.spec.memoryMiB} MiB`);
      const h = history.get(vm.id);
      cell(h?.mips.length ? h.mips[h.mips.length - 1]!.toFixed(1) : "");
      const td = cell("");
      for (const [label, action, enabled] of ACTIONS) {
        const b = document.createElement("button");
        b.textContent = label;
        b.dataset["action"] = action;
        b.disabled = !enabled(vm.status);
        b.onclick = () => void act(vm, action);
        td.append(b);
      }
      return tr;
    }),
  );
  const vm = vms.find((v) => v.id === selected);
  if (vm) {
    $("detail-state").textContent = vm.status;
    const h = history.get(vm.id);
    if (h) {
      chart("chart-mips", h.mips, "v-mips");
      chart("chart-exits", h.exits, "v-exits");
      chart("chart-rss", h.rss, "v-rss");
    }
    if (vm.status === "running" && (!socket || socket.readyState === WebSocket.CLOSED)) connectConsole(vm);
  }
}

async function refresh(): Promise<void> {
  try {
    vms = await api<VmJson[]>("GET", "/v1/vms");
    for (const vm of vms) record(vm);
    $("status").textContent = `${vms.length} VM(s), updated ${new Date().toLocaleTimeString()}`;
    renderList();
  } catch (e) {
    handle(e);
  }
}

function handle(e: unknown): void {
  if (e instanceof Unauthorized) {
    sessionStorage.removeItem(TOKEN_KEY);
    showLogin("The token was not accepted: enter it again.");
  } else $("status").textContent = `error: ${(e as Error).message}`;
}

// --- one VM: console and events -------------------------------------------------------------------

let term: Terminal | undefined;
let fit: FitAddon | undefined;
let socket: WebSocket | undefined;

function base64url(s: string): string {
  const bytes = new TextEncoder().encode(s);
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}

/**
 * Gives the VM the console terminal's size (POST /v1/vms/{id}/resize: the guest's hvc0, which
 * Typevisor's images copy to the serial console), when this tab is the console's writer: a
 * read-only watcher does not resize the writer's guest.
 */
function sendSize(): void {
  const id = selected;
  if (!term || !id || socketMode !== "write" || socket?.readyState !== WebSocket.OPEN) return;
  api("POST", `/v1/vms/${encodeURIComponent(id)}/resize`, { cols: term.cols, rows: term.rows }).catch(() => {
    // Not running any more: the next attach sends the size again.
  });
}

let socketMode: "write" | "read" = "write";

function connectConsole(vm: VmJson, mode: "write" | "read" = "write"): void {
  socket?.close();
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/v1/vms/${encodeURIComponent(vm.id)}/console?mode=${mode}`, [
    CONSOLE_PROTOCOL,
    BEARER_PROTOCOL_PREFIX + base64url(token() ?? ""),
  ]);
  ws.binaryType = "arraybuffer";
  socket = ws;
  socketMode = mode;
  let opened = false;
  ws.onopen = () => {
    opened = true;
    sendSize();
    term?.reset();
    if (mode === "read") term?.write("\x1b[33m[read-only: another client is typing into this console]\x1b[0m\r\n");
  };
  ws.onmessage = (ev: MessageEvent<ArrayBuffer | string>) =>
    term?.write(typeof ev.data === "string" ? ev.data : new Uint8Array(ev.data));
  // A refused upgrade (409: another writer) closes before opening: watch read-only instead.
  ws.onclose = () => {
    if (!opened && mode === "write" && socket === ws) connectConsole(vm, "read");
  };
}

function select(id: string): void {
  const vm = vms.find((v) => v.id === id);
  if (!vm) return;
  selected = id;
  $("detail").hidden = false;
  $("detail-name").textContent = vm.name;
  $("log").textContent = "";
  socket?.close();
  socket = undefined;
  if (!term) {
    term = new Terminal({ scrollback: 5000, fontSize: 13 });
    fit = new FitAddon();
    term.loadAddon(fit);
    term.open($("console"));
    term.onData((d) => {
      if (socket?.readyState === WebSocket.OPEN) socket.send(new TextEncoder().encode(d));
    });
    term.onResize(() => sendSize());
    addEventListener("resize", () => fit?.fit());
  }
  term.reset();
  fit?.fit();
  if (vm.status === "running" || vm.status === "paused") connectConsole(vm);
  else term.write(`\x1b[90m[${vm.name} is ${vm.status}: start it to see its console]\x1b[0m\r\n`);
  renderList();
}

function closeDetail(): void {
  selected = undefined;
  socket?.close();
  socket = undefined;
  $("detail").hidden = true;
}

/** The daemon's server-sent events, read with fetch (EventSource cannot send the Authorization header). */
let events: AbortController | undefined;
async function followEvents(): Promise<void> {
  events?.abort();
  const ctl = (events = new AbortController());
  try {
    const r = await fetch("/v1/events", { headers: { authorization: `Bearer ${token() ?? ""}` }, signal: ctl.signal });
    if (!r.ok || !r.body) return;
    const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buf += value;
      let i: number;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (!data) continue;
        const e = JSON.parse(data) as {
          type: string;
          vm: string;
          name: string;
          status?: string;
          at: string;
          exit?: { reason: string; message?: string };
        };
        if (e.vm === selected) {
          const line = `${e.at.slice(11, 19)} ${e.type}${e.status ? ` ${e.status}` : ""}${e.exit ? ` (${e.exit.reason}${e.exit.message ? `: ${e.exit.message}` : ""})` : ""}\n`;
          $("log").textContent += line;
        }
        void refresh();
      }
    }
  } catch {
    // aborted or the daemon went away: the list's polling shows it
  }
}

let poll: ReturnType<typeof setInterval> | undefined;
function stopStreams(): void {
  events?.abort();
  if (poll) clearInterval(poll);
  socket?.close();
}

async function start(): Promise<void> {
  try {
    await api("GET", "/v1/vms");
  } catch (e) {
    if (e instanceof Unauthorized) {
      sessionStorage.removeItem(TOKEN_KEY);
      return showLogin(token() === null ? "" : "The token was not accepted.");
    }
    $("status").textContent = `error: ${(e as Error).message}`;
    return;
  }
  $("login").hidden = true;
  $("app").hidden = false;
  $("logout").hidden = false;
  await refresh();
  poll = setInterval(() => void refresh(), 2000);
  void followEvents();
}

$("login").onsubmit = (ev) => {
  ev.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $<HTMLInputElement>("token").value.trim());
  $<HTMLInputElement>("token").value = "";
  void start();
};
$("logout").onclick = () => {
  sessionStorage.removeItem(TOKEN_KEY);
  closeDetail();
  showLogin();
};
$("create").onsubmit = async (ev) => {
  ev.preventDefault();
  $("create-error").textContent = "";
  const name = $<HTMLInputElement>("create-name").value.trim();
  try {
    const q = $<HTMLInputElement>("create-start").checked ? "?start=true" : "";
    await api("POST", `/v1/vms${q}`, {
      name,
      image: $<HTMLInputElement>("create-image").value.trim(),
      memoryMiB: Number($<HTMLInputElement>("create-memory").value),
      cpus: Number($<HTMLInputElement>("create-cpus").value),
    });
    $<HTMLInputElement>("create-name").value = "";
  } catch (e) {
    if (e instanceof Unauthorized) return handle(e);
    $("create-error").textContent = (e as Error).message;
  }
  await refresh();
};

if (token() === null) showLogin();
else void start();
