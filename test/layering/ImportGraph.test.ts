// The folder-level import graph of src/ (issue 13): layers point one way. Reads every src/**/*.ts,
// takes its relative imports (static, `export ... from`, side-effect and dynamic `import()`), and
// checks, naming the offending files:
//   - the folder graph has no cycles;
//   - src/memory (the bottom layer) imports nothing from the project;
//   - devices, riscv, dbt, boot (engines, devices, loaders) do not import vmm, cli or control;
//   - nothing but the CLI imports src/cli.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, normalize, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { importsOf } from "./Imports.js";

const SRC = fileURLToPath(new URL("../../../src", import.meta.url));

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? tsFiles(p) : n.endsWith(".ts") ? [p] : [];
  });
}

/** Top-level folder under src/ of a path ("memory", "vmm", ...; "." for files directly in src/). */
function folderOf(path: string): string {
  const rel = relative(SRC, path);
  return rel.includes(sep) ? rel.split(sep)[0]! : ".";
}

/** Folder -> folder -> the files that make the edge. */
function folderGraph(): Map<string, Map<string, string[]>> {
  const g = new Map<string, Map<string, string[]>>();
  for (const f of tsFiles(SRC)) {
    const from = folderOf(f);
    for (const spec of importsOf(readFileSync(f, "utf8"))) {
      const target = normalize(join(dirname(f), spec));
      if (!target.startsWith(SRC + sep)) continue;
      const to = folderOf(target);
      if (to === from) continue;
      const edges = g.get(from) ?? new Map<string, string[]>();
      g.set(from, edges);
      edges.set(to, [...(edges.get(to) ?? []), relative(join(SRC, ".."), f)]);
    }
  }
  return g;
}

function cycles(g: Map<string, Map<string, string[]>>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  const visit = (n: string): void => {
    state.set(n, 1);
    stack.push(n);
    for (const m of g.get(n)?.keys() ?? []) {
      if (state.get(m) === 1) found.push([...stack.slice(stack.indexOf(m)), m]);
      else if (!state.has(m)) visit(m);
    }
    stack.pop();
    state.set(n, 2);
  };
  for (const n of g.keys()) if (!state.has(n)) visit(n);
  return found;
}

test("import parsing sees static, re-export, type-only, side-effect and dynamic imports, not comments", () => {
  const text = [
    'import { a } from "../memory/GuestMemory.js";',
    'import type {\n  B,\n} from "./B.js";',
    'export { c } from "../vmm/Vm.js";',
    'import "../devices/x.js";',
    'const m = await import("../cli/main.js");',
    '// import { z } from "../control/Api.js";',
    '/* import { y } from "../control/Api.js"; */',
    'import fc from "fast-check";',
  ].join("\n");
  assert.deepEqual(importsOf(text).sort(), [
    "../cli/main.js",
    "../devices/x.js",
    "../memory/GuestMemory.js",
    "../vmm/Vm.js",
    "./B.js",
  ]);
});

test("src/ folders import each other without cycles and along the layers", () => {
  const g = folderGraph();
  const edge = (from: string, to: string): string[] => g.get(from)?.get(to) ?? [];
  const problems: string[] = [];
  for (const c of cycles(g))
    problems.push(
      `cycle ${c.join(" -> ")} (${c
        .slice(0, -1)
        .map((f, i) => `${f}->${c[i + 1]}: ${edge(f, c[i + 1]!)[0]}`)
        .join("; ")})`,
    );
  for (const [to, files] of g.get("memory") ?? [])
    problems.push(`src/memory is the bottom layer but imports ${to}: ${files.join(", ")}`);
  for (const low of ["devices", "riscv", "dbt", "boot", "memory"]) {
    for (const high of ["vmm", "cli", "control"]) {
      const files = edge(low, high);
      if (files.length) problems.push(`src/${low} must not import src/${high}: ${files.join(", ")}`);
    }
  }
  for (const [from, edges] of g) {
    if (from !== "cli" && edges.has("cli"))
      problems.push(`only the CLI may import src/cli, but ${edges.get("cli")!.join(", ")} do`);
  }
  assert.deepEqual(problems, []);
  assert.ok(
    g.get("vmm")?.has("memory") && g.get("cli")?.has("vmm"),
    "the graph was read (vmm imports memory, cli imports vmm)",
  );
});
