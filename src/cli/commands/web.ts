// `typevisor web [IMAGE]`: serves the browser front end (dist/web, built by `npm run build:web`)
// and the image's kernel, initramfs and disk from the image cache on 127.0.0.1, so the page boots
// the image in the browser (docs/WEB.md). Every answer carries the cross-origin isolation headers
// the page needs for SharedArrayBuffer.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import type { Command } from "../Command.js";
import { UsageError, parseCommandArgs, parseSize } from "../Command.js";
import { AptUnavailableError, DEFAULT_IMAGE, ImageError, ensureImage, findImage } from "../../images/index.js";
import { ISOLATION_HEADERS, resolveUnder, sendFile } from "../../control/StaticFiles.js";
import { WEB_DIR } from "../WebBundle.js";
import { MAX_VCPUS } from "../../vmm/vcpu/VcpuShared.js";

const usage = `Usage: typevisor web [IMAGE] [--port P] [--open] [--memory 256M] [--cpus N] [--engine dbt|interp] [--quiet]

Boots IMAGE (default ${DEFAULT_IMAGE}; pulled first if needed) in your web browser: serves the
page and the image's kernel, initramfs and disk on http://127.0.0.1:P/ and prints the URL. The
guest runs in the page (the same CPU, translator and devices, compiled to JavaScript and
WebAssembly); its console is an xterm.js terminal, and the page shows live statistics and can
download the disk with the guest's changes. The disk's changes stay in the page: the image in the
cache is never written. Stop with Ctrl-C.

Options:
  --port P        TCP port on 127.0.0.1 (default 8020; 0 picks a free one)
  --open          open the URL in the default browser (xdg-open)
  --memory SIZE   guest RAM (default 256M)
  --cpus N        vCPUs, each on its own Web Worker when more than one (default 1, at
                  most 32)
  --engine E      dbt (translator, default) or interp
  --quiet         no image pull progress

The page needs a browser with WebAssembly threads (Chromium, Firefox, Safari 15.2+). To put it on a
static host instead: npm run build:web, then see docs/WEB.md.`;

export interface WebServer {
  readonly server: Server;
  readonly url: string;
  close(): Promise<void>;
}

/** The page's boot description (boot.json). */
export interface BootJson {
  name: string;
  kernel: string;
  initrd: string;
  disks: string[];
  append: string;
  memory: string;
  cpus?: number;
  engine?: string;
}

/** Serves dist/web and one image's files on 127.0.0.1:port. */
export async function serveWeb(opts: {
  port: number;
  files: { kernel: string; initrd: string; disk: string };
  boot: BootJson;
  webDir?: string;
}): Promise<WebServer> {
  const webDir = opts.webDir ?? WEB_DIR;
  const images: Record<string, string> = {
    "/image/kernel": opts.files.kernel,
    "/image/initrd": opts.files.initrd,
    "/image/disk": opts.files.disk,
  };
  const bootJson = JSON.stringify(opts.boot, null, 2);
  const server = createServer((req, res) => {
    req.on("error", () => {});
    res.on("error", () => {});
    const path = new URL(req.url ?? "/", "http://x").pathname;
    if (path === "/boot.json") {
      res.writeHead(200, { "content-type": "application/json", "cache-control": "no-cache", ...ISOLATION_HEADERS });
      res.end(bootJson);
      return;
    }
    const image = images[path];
    if (image !== undefined) return sendFile(req, res, image, ISOLATION_HEADERS, "application/octet-stream");
    const file = resolveUnder(webDir, path.slice(1));
    if (!file) {
      res.writeHead(404, { "content-type": "text/plain", ...ISOLATION_HEADERS }).end("not found\n");
      return;
    }
    sendFile(req, res, file, ISOLATION_HEADERS);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, "127.0.0.1", () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : opts.port;
  return {
    server,
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

export const command: Command = {
  name: "web",
  summary: "boot an image in the web browser (serves the page on 127.0.0.1)",
  usage,
  async run(argv) {
    const { values, positionals } = parseCommandArgs("web", argv, {
      port: { type: "string", default: "8020" },
      open: { type: "boolean", default: false },
      memory: { type: "string", default: "256M" },
      // One by default: on two cores two vCPU workers did not boot faster (BENCHMARKS.md).
      cpus: { type: "string", default: "1" },
      engine: { type: "string", default: "dbt" },
      quiet: { type: "boolean", short: "q", default: false },
    });
    if (positionals.length > 1) throw new UsageError("web: give at most one image name");
    const name = positionals[0] ?? DEFAULT_IMAGE;
    const port = Number(values.port);
    if (!/^\d+$/.test(values.port) || port > 65535)
      throw new UsageError(`web: --port '${values.port}' is not a port (0-65535)`);
    const memory = parseSize(values.memory, "web: --memory");
    if (memory < 32 * 2 ** 20 || memory > 2 * 2 ** 30)
      throw new UsageError(`web: --memory ${values.memory} is out of range: a page can give a guest 32M to 2G`);
    const cpus = Number(values.cpus);
    if (!/^\d+$/.test(values.cpus) || cpus < 1 || cpus > MAX_VCPUS)
      throw new UsageError(`web: --cpus '${values.cpus}' must be a number of vCPUs from 1 to ${MAX_VCPUS}`);
    if (values.engine !== "dbt" && values.engine !== "interp")
      throw new UsageError(`web: --engine must be dbt or interp, not '${values.engine}'`);
    const known = findImage(name);
    if (known && (known.arch !== "riscv64" || known.recipe !== "linux-initramfs"))
      throw new UsageError(`web: image ${name} is not a bootable riscv64 image (try ${DEFAULT_IMAGE})`, 1);
    if (!existsSync(join(WEB_DIR, "index.html")) || !existsSync(join(WEB_DIR, "vm-worker.js")))
      throw new UsageError(`web: the page is not built (${WEB_DIR} is missing): run 'npm run build:web'`, 1);
    let img;
    try {
      img = await ensureImage(name, { quiet: values.quiet });
    } catch (e) {
      if (e instanceof AptUnavailableError || e instanceof ImageError) throw new UsageError(`web: ${e.message}`, 1);
      throw e;
    }
    let web: WebServer;
    try {
      web = await serveWeb({
        port,
        files: img,
        boot: {
          name,
          kernel: "image/kernel",
          initrd: "image/initrd",
          disks: ["image/disk"],
          append: img.manifest.cmdline ?? "console=ttyS0",
          memory: values.memory,
          cpus,
          engine: values.engine,
        },
      });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "EADDRINUSE")
        throw new UsageError(
          `web: port ${port} on 127.0.0.1 is in use: give another with --port (0 picks a free one)`,
          1,
        );
      throw e;
    }
    process.stdout.write(`typevisor: ${name} is served at ${web.url} (open it in a browser; Ctrl-C stops)\n`);
    if (values.open) {
      const opener = process.platform === "darwin" ? "open" : "xdg-open";
      const child = spawn(opener, [web.url], { stdio: "ignore", detached: true });
      child.on("error", () =>
        process.stderr.write(`typevisor: could not run ${opener} to open the browser; open ${web.url} yourself\n`),
      );
      child.unref();
    }
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
    await web.close();
    return 0;
  },
};
