// The npm package carries what a user who installs it from the registry runs: the `typevisor`
// command, the compiled library and CLI, the browser bundle, and the docs the help text points to.
// dist/ is gitignored, so without package.json's "files" list npm would pack no compiled code at
// all (and `prepare` does not run on a registry install). Compiled tests stay out.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../..", import.meta.url));

test("npm pack ships bin/, the compiled CLI and library, the web bundle and docs, and no tests", (t) => {
  if (!existsSync(`${ROOT}/dist/web/index.html`)) return t.skip("the web bundle is not built (npm run build)");
  // --ignore-scripts: the tree is already built; `prepare` would build it again.
  const out = execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], {
    cwd: ROOT,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  const [pack] = JSON.parse(out) as { files: { path: string }[] }[];
  assert.ok(pack, "npm pack printed no package");
  const files = new Set(pack.files.map((f) => f.path));
  for (const needed of [
    "package.json",
    "README.md",
    "bin/typevisor.js",
    "dist/src/cli/main.js",
    "dist/src/control/VmProcess.js",
    "dist/src/vmm/vcpu/VcpuWorker.js",
    "dist/src/web/Typevisor.js",
    "dist/web/index.html",
    "dist/web/typevisor.js",
    "docs/ARCHITECTURE.md",
  ]) {
    assert.ok(files.has(needed), `the package lacks ${needed}`);
  }
  const stray = [...files].filter((f) => f.startsWith("dist/test/") || f.startsWith("test/") || f.startsWith("src/"));
  assert.deepEqual(stray, [], "tests and TypeScript sources are not part of the package");
});
