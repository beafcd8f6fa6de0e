#!/usr/bin/env node
// Entry point of the `typevisor` command: the compiled CLI lives in dist/ (built by `npm install` / `npm run build`).
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
const main = fileURLToPath(new URL("../dist/src/cli/main.js", import.meta.url));
if (!existsSync(main)) {
  process.stderr.write(
    "typevisor: not built yet: run `npm install` (or `npm run build`) in the typevisor directory first.\n",
  );
  process.exit(2);
}
// The commands that run a VM set V8's heap flags before anything else is loaded (the young
// generation grows during module loading already): src/dbt/WasmTiering.ts, setVmHeapFlags.
if (process.argv[2] === "run" || process.argv[2] === "start") {
  const { setVmHeapFlags } = await import(new URL("../dist/src/dbt/WasmTiering.js", import.meta.url).href);
  setVmHeapFlags();
}
const { main: run } = await import(main);
process.exitCode = await run(process.argv.slice(2));
