// `typevisor web` as a user runs it: it prints the URL, serves the page, boot.json and the cached
// image's files with the cross-origin isolation headers on 127.0.0.1, nothing outside dist/web, and
// ends on Ctrl-C; bad flags are usage errors. (The page booting the image is Page.test.ts.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { debianImage } from "../vmm/bootHelper.js";

const bin = fileURLToPath(new URL("../../../bin/typevisor.js", import.meta.url));

test("typevisor web serves the page and the image with COOP/COEP on 127.0.0.1", { timeout: 120_000 }, async (t) => {
  const img = await debianImage();
  if (typeof img === "string") return t.skip(img);
  const child = spawn(process.execPath, [bin, "web", "--port", "0", "--quiet"], { stdio: ["ignore", "pipe", "pipe"] });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = "";
      child.stdout.setEncoding("utf8").on("data", (d: string) => {
        out += d;
        const m = /(http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
        if (m) resolve(m[1]!);
      });
      child.on("exit", (code) => reject(new Error(`typevisor web exited with ${code}: ${out}`)));
    });
    const page = await fetch(url);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>Typevisor in the browser<\/title>/);
    assert.equal(page.headers.get("cross-origin-opener-policy"), "same-origin");
    assert.equal(page.headers.get("cross-origin-embedder-policy"), "require-corp");
    const boot = (await (await fetch(`${url}boot.json`)).json()) as {
      kernel: string;
      disks: string[];
      name: string;
      cpus: number;
    };
    assert.equal(boot.name, "debian-riscv64");
    assert.equal(boot.cpus, 1, "one vCPU by default (--cpus N for Web Workers)");
    const kernel = await fetch(`${url}${boot.kernel}`, { method: "HEAD" });
    assert.equal(Number(kernel.headers.get("content-length")), statSync(img.kernel).size);
    assert.equal(kernel.headers.get("cross-origin-embedder-policy"), "require-corp");
    for (const p of ["../package.json", "%2e%2e/package.json", "image/../../package.json"])
      assert.equal((await fetch(`${url}${p}`)).status, 404, p);
    assert.equal((await fetch(`${url}vm-worker.js`)).status, 200);
    assert.equal((await fetch(`${url}vcpu-worker.js`)).status, 200);
    child.kill("SIGINT");
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    assert.equal(code, 0);
  } finally {
    child.kill("SIGKILL");
  }
});

test("typevisor web refuses bad flags with a usage error", () => {
  for (const [args, re] of [
    [["--port", "http"], /--port 'http' is not a port/],
    [["--memory", "4G"], /out of range/],
    [["--engine", "jit"], /--engine must be dbt or interp/],
    [["--cpus", "0"], /--cpus '0' must be a number of vCPUs from 1 to 32/],
    [["a", "b"], /at most one image/],
  ] as const) {
    const r = spawnSync(process.execPath, [bin, "web", ...args], { encoding: "utf8" });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, re);
  }
});
