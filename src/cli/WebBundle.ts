// Bundles the browser front end with esbuild into dist/web/ (`npm run build:web`, part of
// `npm run build`): the boot page (index.html, page.js), its VM worker (vm-worker.js) and vCPU
// workers (vcpu-worker.js), the embedding library (typevisor.js) and the control plane's dashboard
// (ui/). The output is static
// files any host can serve (docs/WEB.md); `typevisor web` and `typevisor serve` serve it from here.
// esbuild bundles for the browser platform, so a Node built-in reached from src/web fails the build
// (besides test/layering/BrowserCore.test.ts).
import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

/** The package's root (this file is dist/src/cli/WebBundle.js or src/cli/WebBundle.ts). */
export const PACKAGE_ROOT = (() => {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(d, "package.json"))) {
    const up = dirname(d);
    if (up === d) throw new Error("typevisor: cannot find the package root");
    d = up;
  }
  return d;
})();

/**
 * Host files the core imports that the page's build replaces (as a package's "browser" field
 * would), by path under src/: the vCPU threads (worker_threads there, Web Workers running
 * vcpu-worker.js here) and their process-wide clock.
 */
export const BROWSER_SUBSTITUTES: Readonly<Record<string, string>> = {
  "vmm/vcpu/spawnVcpu.ts": "web/browser/host/spawnVcpu.ts",
  "vmm/vcpu/ThreadClock.ts": "web/browser/host/ThreadClock.ts",
};

/** Where the bundle goes and where the servers read it. */
export const WEB_DIR = join(PACKAGE_ROOT, "dist", "web");

export async function bundleWeb(outDir = WEB_DIR): Promise<void> {
  // Imported here: esbuild is a build-time (dev) dependency, not needed to run Typevisor.
  const esbuild = await import("esbuild");
  const src = join(PACKAGE_ROOT, "src", "web", "browser");
  const srcRoot = join(PACKAGE_ROOT, "src");
  const substitute = {
    name: "typevisor-browser-substitutes",
    setup(build: {
      onResolve(
        o: { filter: RegExp },
        cb: (a: { path: string; resolveDir: string }) => { path: string } | undefined,
      ): void;
    }) {
      build.onResolve({ filter: /\.js$/ }, (a) => {
        const rel = relative(srcRoot, resolve(a.resolveDir, a.path)).replace(/\.js$/, ".ts").split(sep).join("/");
        const to = BROWSER_SUBSTITUTES[rel];
        return to === undefined ? undefined : { path: join(srcRoot, to) };
      });
    },
  };
  mkdirSync(join(outDir, "ui"), { recursive: true });
  await esbuild.build({
    entryPoints: {
      page: join(src, "page.ts"),
      "vm-worker": join(src, "vm-worker.ts"),
      "vcpu-worker": join(src, "vcpu-worker.ts"),
      typevisor: join(src, "TypevisorBrowser.ts"),
      "ui/dashboard": join(src, "ui", "dashboard.ts"),
    },
    outdir: outDir,
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: true,
    sourcemap: true,
    logLevel: "warning",
    plugins: [substitute],
  });
  const xtermCss = join(PACKAGE_ROOT, "node_modules", "@xterm", "xterm", "css", "xterm.css");
  for (const [from, to] of [
    [join(src, "index.html"), "index.html"],
    [join(src, "page.css"), "page.css"],
    [join(src, "base.css"), "base.css"],
    [join(src, "base.css"), "ui/base.css"],
    [xtermCss, "xterm.css"],
    [xtermCss, "ui/xterm.css"],
    [join(src, "ui", "index.html"), "ui/index.html"],
    [join(src, "ui", "dashboard.css"), "ui/dashboard.css"],
  ] as const)
    copyFileSync(from, join(outDir, to));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  bundleWeb(process.argv[2]).catch((e: unknown) => {
    process.stderr.write(`typevisor: building the web bundle failed: ${(e as Error).message}\n`);
    process.exit(1);
  });
}
