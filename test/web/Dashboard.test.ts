// The control plane's dashboard in a real browser (issue 20): a daemon listening on TCP with a
// token serves /ui/; headless Chromium signs in with the token, sees a VM created through the API,
// starts it, shows its console over the WebSocket (the token travels as a subprotocol), types into
// it and reads the echo, resizes the window and sees the new terminal size reach the VM's hvc0,
// pauses, resumes, stops and deletes it. The guest is the control tests' tiny echo guest, so this takes seconds. Screenshot:
// test-artifacts/web/dashboard.png.
import { test } from "node:test";
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { call } from "../../src/control/Client.js";
import { WEB_DIR } from "../../src/cli/WebBundle.js";
import { buildGuest, hasCrossGcc } from "../control/guest.js";
import { startDaemon } from "../control/harness.js";
import { browserMissing, launch, screenshot, waitForText } from "./browser.js";

const TOKEN = "dashboard-test-token-0123456789";

test(
  "the dashboard lists a VM created through the API, starts it, shows its console and stops it",
  { timeout: 120_000 },
  async (t) => {
    const missing = browserMissing();
    if (missing) return t.skip(missing);
    if (!hasCrossGcc) return t.skip("riscv64-linux-gnu-gcc is not installed (apt-get install gcc-riscv64-linux-gnu)");
    const guest = buildGuest();
    const env = await startDaemon({
      token: TOKEN,
      allowDirs: [dirname(guest)],
      shutdownTimeoutMs: 2000,
      uiDir: join(WEB_DIR, "ui"),
    });
    const url = `http://127.0.0.1:${env.daemon.tcpPort}`;
    const browser = await launch();
    try {
      const created = await call({ url, token: TOKEN }, "POST", "/v1/vms", {
        name: "dash",
        arch: "riscv64",
        engine: "interp",
        kernel: guest,
        memoryMiB: 64,
        cpus: 1,
        disks: [],
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      await page.goto(`${url}/ui/`);
      // The token is asked for, kept in sessionStorage, and never put in a URL.
      await page.fill("#token", TOKEN);
      await page.click("#login button[type=submit]");
      const row = 'tr[data-name="dash"]';
      await page.waitForSelector(`${row} td.status:text-is("created")`, { timeout: 10_000 });
      assert.equal(await page.evaluate("sessionStorage.getItem('typevisor.token')"), TOKEN);
      assert.ok(!page.url().includes(TOKEN));
      await page.click(`${row} button[data-action=start]`);
      await page.waitForSelector(`${row} td.status:text-is("running")`, { timeout: 30_000 });
      await page.click(`${row} td.name`);
      const text = async () => (await page.textContent("#console .xterm-rows")) ?? "";
      await waitForText(text, /ready/i, 20_000);
      await page.click("#console");
      await page.keyboard.type("hello-dashboard");
      await waitForText(text, /hello-dashboard/, 20_000);
      // A window resize re-fits the terminal and gives the VM its new size (POST .../resize), which
      // the VM process hands to the guest's hvc0 (its configuration space, reported in the stats).
      const resized = page.waitForRequest((r) => r.url().endsWith("/resize") && r.method() === "POST");
      await page.setViewportSize({ width: 1000, height: 640 });
      const size = (await resized).postDataJSON() as { cols: number; rows: number };
      assert.equal(size.rows, await page.locator("#console .xterm-rows > div").count(), "the fitted rows were sent");
      for (let i = 0; ; i++) {
        const st = await call({ url, token: TOKEN }, "GET", "/v1/vms/dash/stats");
        const c = (st.body as { console: { cols: number; rows: number } }).console;
        if (c.cols === size.cols && c.rows === size.rows) break;
        if (i === 50) assert.fail(`hvc0 has ${c.cols}x${c.rows}, not the terminal's ${size.cols}x${size.rows}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      // Two polls of the statistics draw the first segment of each chart.
      await page.waitForSelector("#v-mips:not(:empty)", { timeout: 15_000 });
      await screenshot(page, "dashboard");
      // Pause and resume from the list: the daemon's state follows.
      await page.click(`${row} button[data-action=pause]`);
      await page.waitForSelector(`${row} td.status:text-is("paused")`, { timeout: 10_000 });
      assert.equal(
        ((await call({ url, token: TOKEN }, "GET", "/v1/vms/dash")).body as { status: string }).status,
        "paused",
      );
      await page.click(`${row} button[data-action=resume]`);
      await page.waitForSelector(`${row} td.status:text-is("running")`, { timeout: 10_000 });
      await page.click(`${row} button[data-action=shutdown]`);
      await page.waitForSelector(`${row} td.status:text-is("stopped")`, { timeout: 30_000 });
      const vm = await call({ url, token: TOKEN }, "GET", "/v1/vms/dash");
      assert.equal((vm.body as { status: string }).status, "stopped");
      assert.match((await page.textContent("#log")) ?? "", /state|exit/);
      // Delete (after the browser's confirm): gone from the list and from the daemon.
      page.once("dialog", (d) => void d.accept());
      await page.click(`${row} button[data-action=delete]`);
      await page.waitForSelector(row, { state: "detached", timeout: 10_000 });
      assert.equal((await call({ url, token: TOKEN }, "GET", "/v1/vms/dash")).status, 404);
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
      await env.daemon.stop();
    }
  },
);
