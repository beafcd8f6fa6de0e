// The embedding API in a page (issue 20: "usable from the page and from Node alike"; the Node side
// is Embedding.test.ts): a page of our own, as a user would write it, imports dist/web/typevisor.js
// and calls Typevisor.boot({ kernel, memory, cpus: 2, console: element }); the guest (the control
// tests' tiny echo guest) prints into the xterm.js terminal in that element, takes input, reports
// statistics and powers off. With cpus 2 the second hart runs on its own Web Worker (it waits for a
// hart_start that this guest never sends). Seconds.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { WEB_DIR } from "../../src/cli/WebBundle.js";
import { ISOLATION_HEADERS, resolveUnder, sendFile } from "../../src/control/StaticFiles.js";
import { buildGuest, hasCrossGcc } from "../control/guest.js";
import { browserMissing, launch, screenshot, terminalText, waitForText, listenLocal } from "./browser.js";

const EMBED_HTML = `<!doctype html>
<html><head><meta charset="utf-8"><link rel="stylesheet" href="xterm.css"></head>
<body><div id="term" style="width: 640px; height: 240px"></div>
<script type="module">
  import { Typevisor } from "./typevisor.js";
  window.out = "";
  const vm = await Typevisor.boot({
    kernel: "guest.bin", memory: "64M", cpus: 2, engine: "interp",
    console: document.getElementById("term"),
  });
  vm.on("console", (b) => (window.out += new TextDecoder().decode(b)));
  vm.on("exit", (e) => (window.exitEvent = e));
  window.vm = vm;
</script></body></html>`;

test(
  "a page embeds typevisor.js: Typevisor.boot with a console element, input, stats, exit",
  { timeout: 90_000 },
  async (t) => {
    const missing = browserMissing();
    if (missing) return t.skip(missing);
    if (!hasCrossGcc) return t.skip("riscv64-linux-gnu-gcc is not installed (apt-get install gcc-riscv64-linux-gnu)");
    const guest = buildGuest();
    const server = createServer((req, res) => {
      const path = new URL(req.url ?? "/", "http://x").pathname;
      if (path === "/embed.html") {
        res.writeHead(200, { "content-type": "text/html; charset=utf-8", ...ISOLATION_HEADERS }).end(EMBED_HTML);
        return;
      }
      const file = path === "/guest.bin" ? guest : resolveUnder(WEB_DIR, path.slice(1));
      if (file) sendFile(req, res, file, ISOLATION_HEADERS);
      else res.writeHead(404, ISOLATION_HEADERS).end();
    });
    const port = await listenLocal(server);
    const browser = await launch();
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      await page.goto(`http://127.0.0.1:${port}/embed.html`);
      const out = async () => (await page.evaluate("window.out")) as string;
      await waitForText(out, /TV-GUEST-READY/, 60_000).catch((e: Error) => {
        throw new Error(`${e.message}\npage errors: ${errors.join("; ")}`);
      });
      // The terminal in the given element shows the guest's output, and what is typed reaches it.
      await waitForText(() => terminalText(page, "window.vm.terminal"), /TV-GUEST-READY/, 10_000);
      await page.evaluate("window.vm.input('echo-me')");
      await waitForText(out, /echo-me/, 20_000);
      // A vCPU publishes its instruction count after each time slice (50,000 instructions, which
      // take a while when the guest polls the UART through the MMIO channel): ask until it has.
      type Stats = { instructions: number; engine: string; vcpus?: { hart: number; instructions: number }[] };
      let stats = (await page.evaluate("window.vm.stats()")) as Stats;
      for (let i = 0; stats.instructions <= 1000 && i < 100; i++) {
        await new Promise((r) => setTimeout(r, 200));
        stats = (await page.evaluate("window.vm.stats()")) as Stats;
      }
      assert.ok(stats.instructions > 1000, `instructions: ${stats.instructions}`);
      assert.equal(stats.engine, "interp");
      // Two vCPU workers: hart 0 ran the guest, hart 1 waits (stopped) on its own worker.
      const vcpus = stats.vcpus ?? [];
      assert.deepEqual(
        vcpus.map((v) => v.hart),
        [0, 1],
      );
      assert.ok((vcpus[0]?.instructions ?? 0) > 1000, "hart 0 ran the guest");
      await screenshot(page, "embed");
      await page.evaluate("window.vm.input('p')");
      assert.deepEqual(await page.evaluate("window.vm.exited"), { reason: "poweroff", status: 0 });
      assert.deepEqual(await page.evaluate("window.exitEvent"), { reason: "poweroff", status: 0 });
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
  },
);
