// Shared by the real-browser tests: Debian's Chromium driven by playwright-core (no browser
// download), and where screenshots go (test-artifacts/web/, gitignored: kept for a person to look
// at, never committed).
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Server } from "node:http";
import type { Browser, Page } from "playwright-core";

export const CHROMIUM = process.env["TYPEVISOR_CHROMIUM"] ?? "/usr/bin/chromium";
export const ARTIFACTS = fileURLToPath(new URL("../../../test-artifacts/web/", import.meta.url));

/** Why the browser tests cannot run here, or undefined. */
export function browserMissing(): string | undefined {
  if (!existsSync(CHROMIUM)) return `no Chromium at ${CHROMIUM} (apt-get install chromium, or set TYPEVISOR_CHROMIUM)`;
  return undefined;
}

export async function launch(): Promise<Browser> {
  const { chromium } = await import("playwright-core");
  return chromium.launch({
    executablePath: CHROMIUM,
    // As root (CI containers) Chromium's sandbox cannot start; the pages are our own.
    args: process.getuid?.() === 0 ? ["--no-sandbox"] : [],
  });
}

/** Saves a screenshot under test-artifacts/web/ and prints where. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path });
  process.stderr.write(`screenshot: ${path}\n`);
  return path;
}

/** The visible text of the xterm.js terminal the page exposes as `expr` (its buffer, line by line). */
export function terminalText(page: Page, expr: string): Promise<string> {
  return page.evaluate((e) => {
    const t = (
      new Function(`return ${e}`) as () =>
        | {
            buffer: {
              active: { length: number; getLine(i: number): { translateToString(trim: boolean): string } | undefined };
            };
          }
        | undefined
    )();
    if (!t) return "";
    const b = t.buffer.active;
    const lines: string[] = [];
    for (let i = 0; i < b.length; i++) lines.push(b.getLine(i)?.translateToString(true) ?? "");
    return lines.join("\n");
  }, expr);
}

/** Polls `text()` until `re` matches; throws with the last text after `ms`. */
export async function waitForText(text: () => Promise<string>, re: RegExp, ms: number): Promise<string> {
  const end = Date.now() + ms;
  let last = "";
  while (Date.now() < end) {
    last = await text();
    if (re.test(last)) return last;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`timed out after ${ms / 1000} s waiting for ${re}; the terminal shows:\n${last.slice(-2000)}`);
}

/** Starts `server` on a port of 127.0.0.1 the OS picks, and returns the port. */
export async function listenLocal(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const addr = server.address();
  return typeof addr === "object" && addr ? addr.port : 0;
}
