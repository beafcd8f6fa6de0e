// Finds the Debian mirror and archive keyring the host's own apt uses, so a private apt root can
// fetch guest packages from the same place and verify them with the same keys. Reads both source
// formats of sources.list(5): deb822 stanzas in *.sources files and one-line "deb [opts] URI suite
// comp..." entries in *.list files.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export interface AptSource {
  readonly uri: string;
  readonly suites: readonly string[];
  readonly components: readonly string[];
  readonly signedBy: string | undefined;
  /** Where it was read from, for messages. */
  readonly origin: string;
}

export const DEFAULT_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg";

/** Parses deb822 .sources text into its enabled "deb" entries. */
export function parseDeb822(text: string, origin: string): AptSource[] {
  const out: AptSource[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    let last: string | undefined;
    for (const line of stanza.split("\n")) {
      if (line.startsWith("#")) continue;
      if (/^\s/.test(line) && last !== undefined) {
        fields.set(last, `${fields.get(last)}\n${line.trim()}`); // continuation line
        continue;
      }
      const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(line);
      if (m) {
        last = m[1]!.toLowerCase();
        fields.set(last, m[2]!.trim());
      }
    }
    const types = (fields.get("types") ?? "").split(/\s+/);
    if (!types.includes("deb")) continue;
    if ((fields.get("enabled") ?? "yes").toLowerCase() === "no") continue;
    const words = (k: string) => (fields.get(k) ?? "").split(/\s+/).filter((w) => w.length > 0);
    for (const uri of words("uris")) {
      const signed = fields.get("signed-by");
      out.push({
        uri,
        suites: words("suites"),
        components: words("components"),
        // Signed-By may hold a path or an inline key block; only a path can be handed to apt as-is.
        signedBy: signed !== undefined && signed.startsWith("/") ? signed.split(/\s+/)[0] : undefined,
        origin,
      });
    }
  }
  return out;
}

/** Parses one-line sources.list text into its "deb" entries. */
export function parseOneLine(text: string, origin: string): AptSource[] {
  const out: AptSource[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*$/, "").trim();
    const m = /^deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)\s*(.*)$/.exec(line);
    if (!m) continue;
    const opts = m[1] ?? "";
    const signed = /(?:^|\s)signed-by=(\S+)/.exec(opts)?.[1];
    out.push({
      uri: m[2]!,
      suites: [m[3]!],
      components: (m[4] ?? "").split(/\s+/).filter((w) => w),
      signedBy: signed,
      origin,
    });
  }
  return out;
}

/** Every enabled "deb" source of the host's apt configuration under `etc` (default /etc/apt). */
export function hostSources(etc = "/etc/apt"): AptSource[] {
  const out: AptSource[] = [];
  const main = join(etc, "sources.list");
  if (existsSync(main)) out.push(...parseOneLine(readFileSync(main, "utf8"), main));
  const dir = join(etc, "sources.list.d");
  if (existsSync(dir)) {
    for (const f of readdirSync(dir).sort()) {
      const p = join(dir, f);
      if (f.endsWith(".sources")) out.push(...parseDeb822(readFileSync(p, "utf8"), p));
      else if (f.endsWith(".list")) out.push(...parseOneLine(readFileSync(p, "utf8"), p));
    }
  }
  return out;
}

/**
 * The host source to take guest packages from: the first Debian main-archive entry (security and
 * updates archives carry only fixes, not the suite). Undefined if the host uses no Debian archive
 * (e.g. Ubuntu, whose archive does not carry Debian's riscv64 suites).
 */
export function pickDebianMirror(sources: readonly AptSource[]): AptSource | undefined {
  const archive = sources.filter(
    (s) => !/security/.test(s.uri) && !s.suites.every((x) => /-(security|updates|backports)$/.test(x)),
  );
  return archive.find((s) => /debian/i.test(s.uri) && !/ubuntu/i.test(s.uri));
}
