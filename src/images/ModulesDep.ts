// modules.dep: the dependency table depmod(8) writes and modprobe(8) reads (see modules.dep(5)).
// One line per module: "PATH: DEP DEP ...", paths relative to /lib/modules/VERSION. depmod lists the
// full transitive closure, ordered so that loading the dependencies from LAST to FIRST satisfies
// every symbol reference (modprobe loads them in that reverse order, then the module itself).
//
// We parse it to compute which module files an initramfs needs and in what order its init must
// insmod them, and we write it (for the modules we ship) so the guest's own modprobe works too.
import { moduleNameOf } from "./KernelModule.js";

export class ModulesDepError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ModulesDepError";
  }
}

export class ModulesDep {
  /** Module path → its dependency paths, as listed. */
  readonly deps = new Map<string, readonly string[]>();
  /** Canonical module name → path. */
  readonly byName = new Map<string, string>();

  static parse(text: string, source = "modules.dep"): ModulesDep {
    const md = new ModulesDep();
    let lineNo = 0;
    for (const raw of text.split("\n")) {
      lineNo++;
      const line = raw.trim();
      if (line.length === 0 || line.startsWith("#")) continue;
      const colon = line.indexOf(":");
      if (colon <= 0)
        throw new ModulesDepError(`${source}:${lineNo}: expected 'module.ko: deps...', got '${line.slice(0, 80)}'`);
      const path = line.slice(0, colon).trim();
      const deps = line
        .slice(colon + 1)
        .trim()
        .split(/\s+/)
        .filter((d) => d.length > 0);
      md.add(path, deps);
    }
    return md;
  }

  add(path: string, deps: readonly string[]): void {
    this.deps.set(path, deps);
    this.byName.set(moduleNameOf(path), path);
  }

  /**
   * The module files to load, in load order (every module after all it depends on), for the
   * requested names. Names in `builtin` are compiled into the kernel and need no file; a name that
   * is neither a module here nor built in is an error naming it.
   */
  resolve(names: readonly string[], builtin: ReadonlySet<string> = new Set()): { load: string[]; builtin: string[] } {
    const load: string[] = [];
    const done = new Set<string>();
    const visiting = new Set<string>();
    const skipped: string[] = [];
    const visit = (path: string, chain: readonly string[]): void => {
      if (done.has(path)) return;
      if (visiting.has(path))
        throw new ModulesDepError(`modules.dep has a dependency cycle: ${[...chain, path].join(" -> ")}`);
      visiting.add(path);
      const deps = this.deps.get(path);
      if (deps === undefined)
        throw new ModulesDepError(
          `modules.dep lists '${chain[chain.length - 1] ?? "?"}' as needing '${path}', which has no line of its own`,
        );
      // Listed deps are loaded last-to-first (modprobe's order); recursing also covers tables that
      // list only direct dependencies.
      for (let i = deps.length - 1; i >= 0; i--) visit(deps[i]!, [...chain, path]);
      visiting.delete(path);
      done.add(path);
      load.push(path);
    };
    for (const raw of names) {
      const name = raw.replace(/-/g, "_");
      const path = this.byName.get(name);
      if (path !== undefined) visit(path, []);
      else if (builtin.has(name)) skipped.push(name);
      else
        throw new ModulesDepError(
          `kernel module '${raw}' is neither in modules.dep nor built into the kernel (modules.builtin)`,
        );
    }
    return { load, builtin: skipped };
  }

  /** Serializes in modules.dep(5) format, lines in insertion order. */
  format(): string {
    let out = "";
    for (const [path, deps] of this.deps) out += deps.length ? `${path}: ${deps.join(" ")}\n` : `${path}:\n`;
    return out;
  }

  /**
   * Builds a table from each module's direct `depends=` (its .modinfo), listing for every module the
   * transitive closure in depmod's order (dependents before what they depend on).
   */
  static fromDirectDepends(modules: ReadonlyArray<{ path: string; depends: readonly string[] }>): ModulesDep {
    const pathOf = new Map(modules.map((m) => [moduleNameOf(m.path), m.path] as const));
    const direct = new Map<string, string[]>();
    for (const m of modules) {
      direct.set(
        m.path,
        m.depends.map((d) => {
          const p = pathOf.get(d);
          if (p === undefined)
            throw new ModulesDepError(`${m.path} depends on '${d}', which is not among the modules given`);
          return p;
        }),
      );
    }
    const tmp = new ModulesDep();
    for (const [p, d] of direct) tmp.add(p, d);
    const md = new ModulesDep();
    for (const m of modules) {
      const order = tmp.resolve([moduleNameOf(m.path)]).load; // load order, the module itself last
      md.add(m.path, order.slice(0, -1).reverse());
    }
    return md;
  }
}

/** Parses modules.builtin (one path per line) into the set of built-in module names. */
export function parseModulesBuiltin(text: string): Set<string> {
  const s = new Set<string>();
  for (const line of text.split("\n")) if (line.trim()) s.add(moduleNameOf(line.trim()));
  return s;
}
