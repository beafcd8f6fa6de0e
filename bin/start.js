#!/usr/bin/env node
// `npm start`: builds only when the compiled CLI is missing or older than a source file (a full
// `tsc` costs 20-30 s; this check, a walk of src/, a few milliseconds), then runs `typevisor start`
// with the arguments given after `npm start --`.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";

const root = fileURLToPath(new URL("..", import.meta.url));
const built = join(root, "dist/src/cli/main.js");

function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newest(p));
    else if (e.name.endsWith(".ts")) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}

let builtAt = 0;
try {
  builtAt = statSync(built).mtimeMs;
} catch {
  // not built yet
}
const sources = Math.max(newest(join(root, "src")), statSync(join(root, "tsconfig.json")).mtimeMs);
if (sources > builtAt) {
  process.stderr.write(
    builtAt === 0
      ? "typevisor: building (first start)...\n"
      : "typevisor: sources changed since the last build: rebuilding...\n",
  );
  const tsc = spawnSync(
    process.execPath,
    [join(root, "node_modules/typescript/bin/tsc"), "-p", join(root, "tsconfig.json")],
    { stdio: "inherit" },
  );
  if (tsc.status !== 0) process.exit(tsc.status ?? 1);
}
const r = spawnSync(process.execPath, [join(root, "bin/typevisor.js"), "start", ...process.argv.slice(2)], {
  stdio: "inherit",
});
process.exit(r.status ?? 1);
