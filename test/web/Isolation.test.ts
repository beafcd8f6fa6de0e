// The page on a host that does not send COOP/COEP: no SharedArrayBuffer, so it must say what is
// missing and how to fix it instead of failing obscurely (docs/WEB.md, static hosting).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { WEB_DIR } from "../../src/cli/WebBundle.js";
import { resolveUnder, sendFile } from "../../src/control/StaticFiles.js";
import { browserMissing, launch, screenshot, listenLocal } from "./browser.js";

test("without cross-origin isolation the page says which headers are missing", { timeout: 60_000 }, async (t) => {
  const missing = browserMissing();
  if (missing) return t.skip(missing);
  // dist/web as a plain static host would serve it: no isolation headers.
  const server = createServer((req, res) => {
    const file = resolveUnder(WEB_DIR, new URL(req.url ?? "/", "http://x").pathname.slice(1));
    if (file) sendFile(req, res, file);
    else res.writeHead(404).end();
  });
  const port = await listenLocal(server);
  const browser = await launch();
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForSelector("#problem:not([hidden])", { timeout: 20_000 });
    const text = (await page.textContent("#problem")) ?? "";
    assert.match(text, /not cross-origin isolated/);
    assert.match(text, /Cross-Origin-Opener-Policy: same-origin/);
    assert.match(text, /Cross-Origin-Embedder-Policy: require-corp/);
    assert.equal(await page.textContent("#state"), "cannot boot");
    await screenshot(page, "page-not-isolated");
  } finally {
    await browser.close();
    await new Promise<void>((r) => server.close(() => r()));
  }
});
