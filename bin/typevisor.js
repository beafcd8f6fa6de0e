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
const { main: run } = await import(main);
process.exitCode = await run(process.argv.slice(2));
