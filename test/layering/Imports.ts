// Import specifiers of a TypeScript file, shared by the layering tests.

/** Relative module specifiers a file imports (comments removed first). */
export function importsOf(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const out: string[] = [];
  for (const re of [
    /\bfrom\s*["']([^"']+)["']/g,
    /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g,
    /^\s*import\s*["']([^"']+)["']/gm,
  ]) {
    for (const m of code.matchAll(re)) if (m[1]!.startsWith(".")) out.push(m[1]!);
  }
  return out;
}
