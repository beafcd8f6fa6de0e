// The boot page in a real browser (issue 20): `typevisor web`'s server (serveWeb) serves the page
// and the debian-riscv64 image; headless Chromium boots it with the translator and 2 vCPUs (Web
// Workers) to the shell prompt, the test types `uname -m; nproc` into xterm.js and reads the answer
// from xterm's buffer, resizes the window and reads the guest's new `stty size`, and checks the
// live statistics (translated pages) and the disk-changes download. A screenshot goes to
// test-artifacts/web/page.png. One boot: ~1-3 minutes on a loaded 2-core host.
import { test } from "node:test";
import assert from "node:assert/strict";
import { statSync } from "node:fs";
import { debianImage } from "../vmm/bootHelper.js";
import { serveWeb } from "../../src/cli/commands/web.js";
import { browserMissing, launch, screenshot, terminalText, waitForText } from "./browser.js";

test(
  "the page boots debian-riscv64 in Chromium with the translator and runs uname -m",
  { timeout: 600_000 },
  async (t) => {
    const missing = browserMissing();
    if (missing) return t.skip(missing);
    const img = await debianImage();
    if (typeof img === "string") return t.skip(img);
    const web = await serveWeb({
      port: 0,
      files: img,
      boot: {
        name: "debian-riscv64",
        kernel: "image/kernel",
        initrd: "image/initrd",
        disks: ["image/disk"],
        append: "console=ttyS0",
        memory: "256M",
        cpus: 2,
        engine: "dbt",
      },
    });
    const browser = await launch();
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      page.on("console", (m) => {
        if (m.type() === "error") errors.push(m.text());
      });
      await page.goto(web.url);
      assert.equal(await page.evaluate("crossOriginIsolated"), true, "the server's COOP/COEP isolate the page");
      const text = () => terminalText(page, "window.typevisor?.terminal");
      await waitForText(text, /typevisor:\/# /, 540_000).catch(async (e: Error) => {
        await screenshot(page, "page-failed");
        throw new Error(
          `${e.message}\npage errors: ${errors.join("; ")}\nproblem: ${await page.textContent("#problem")}`,
        );
      });
      await page.click("#console");
      await page.keyboard.type("uname -m; nproc; echo web-disk-write > /mnt/web.txt; sync\n");
      const after = await waitForText(text, /uname -m[^\n]*\n(riscv64)\n(\d+)\n/, 60_000);
      assert.match(after, /\nriscv64\n2\n/, "both vCPUs (Web Workers) are online");
      // A window resize reaches the guest: xterm re-fits, the new size goes to hvc0 and the image's
      // init copies it to the serial console the shell runs on (stty size answers "rows cols").
      const size = () => page.evaluate("[window.typevisor.terminal.rows, window.typevisor.terminal.cols]");
      const before = (await size()) as [number, number];
      await page.setViewportSize({ width: 900, height: 600 });
      await page.waitForFunction(`window.typevisor.terminal.cols !== ${before[1]}`, undefined, { timeout: 10_000 });
      const [rows, cols] = (await size()) as [number, number];
      assert.ok(rows < before[0] && cols < before[1], `the terminal re-fitted: ${before} -> ${rows},${cols}`);
      // The guest follows asynchronously (a configuration interrupt, then SIGWINCH to the follower,
      // which runs stty): ask until it answers the new size.
      const resized = new RegExp(`stty size[^\\n]*\\n${rows} ${cols}\\n`);
      for (let i = 0; ; i++) {
        await page.keyboard.type("stty size\n");
        const ok = await waitForText(text, resized, 5_000).then(
          () => true,
          () => false,
        );
        if (ok) break;
        if (i === 8)
          throw new Error(`the guest did not learn the new size ${rows} ${cols}:\n${(await text()).slice(-400)}`);
      }
      const stats = await page.evaluate("window.typevisor.stats()");
      const s = stats as {
        engine: string;
        mips: number;
        dbt?: { pagesTranslated: number };
        exits: Record<string, number>;
      };
      assert.equal(s.engine, "dbt");
      assert.ok((s.dbt?.pagesTranslated ?? 0) > 100, `translated pages: ${s.dbt?.pagesTranslated}`);
      assert.ok((s.exits["hypercall"] ?? 0) > 0, "SBI hypercalls counted");
      // The page's statistics panel shows them too (refreshed every second).
      await page.waitForSelector("#stats-body tr", { timeout: 10_000 });
      assert.match((await page.textContent("#stats-body")) ?? "", /translated pages/);
      // The progress bar counted every byte of the three files it downloaded.
      const bytes = [img.kernel, img.initrd, img.disk].reduce((n, f) => n + statSync(f).size, 0);
      assert.deepEqual(
        await page.evaluate("[document.getElementById('bar').value, document.getElementById('bar').max]"),
        [bytes, bytes],
      );
      // The guest's write is in the disk's changes, and the page can hand out the changed image.
      const changed = (await page.evaluate("window.typevisor.diskChanges(0)")) as number;
      assert.ok(changed > 0, "the guest's writes are kept as the disk's changes");
      // ... and saved in the browser's storage (OPFS), to be restored on the next visit.
      assert.match((await page.textContent("#note")) ?? "", /kept in this browser's storage/);
      const savedChunks = (await page.evaluate(`(async () => {
        const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle("typevisor");
        let n = 0;
        for await (const [name, h] of dir.entries())
          if (name.endsWith(".map")) n += new Uint8Array(await (await h.getFile()).arrayBuffer()).filter((b) => b === 1).length;
        return n;
      })()`)) as number;
      assert.equal(savedChunks * 64 * 1024, changed, "every changed chunk is marked saved in OPFS");
      // The "Download disk" blob: the image's size, with the file the guest wrote inside it.
      const blob = (await page.evaluate(`(async () => {
        const b = new Uint8Array(await (await window.typevisor.diskBlob(0)).arrayBuffer());
        const want = new TextEncoder().encode("web-disk-write\\n");
        let found = false;
        for (let i = b.indexOf(want[0]); i >= 0 && !found; i = b.indexOf(want[0], i + 1))
          found = want.every((c, j) => b[i + j] === c);
        return [b.length, found];
      })()`)) as [number, boolean];
      assert.deepEqual(blob, [statSync(img.disk).size, true], "the downloaded disk holds the guest's file");
      await screenshot(page, "page");
      process.stderr.write(
        `page boot: ${s.mips.toFixed(1)} MIPS average, ${s.dbt?.pagesTranslated} pages translated\n`,
      );
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
      await web.close();
    }
  },
);
