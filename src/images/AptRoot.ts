// A private apt root: Typevisor's own Dir= tree (sources, lists, cache, an empty dpkg status) with
// APT::Architecture set to the guest's architecture. `apt-get update` there fetches the suite's
// signed InRelease and checks it against the host's archive keyring (Signed-By), and `apt-get
// download` checks every .deb against the SHA256 in that signed index, so guest packages are as
// trustworthy as the host's own. Nothing outside the root is written: the host's apt state, lists
// and configuration are untouched (APT_CONFIG points at our apt.conf, which moves Dir; the host's
// apt.conf.d is therefore not read either).
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
  createReadStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { formatBytes, type Progress } from "./Progress.js";

export const BOOT_WITHOUT_IMAGES =
  "To boot without an image, give a kernel and initramfs yourself: typevisor run --arch riscv64 --kernel Image --initrd initrd.cpio [--disk disk.img]";

export class AptError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AptError";
  }
}

export interface AptRootConfig {
  readonly arch: string;
  readonly suite: string;
  readonly components: readonly string[];
  readonly mirror: string;
  readonly keyring: string;
}

export interface PackageRecord {
  readonly name: string;
  readonly version: string;
  readonly arch: string;
  readonly depends: string;
  readonly preDepends: string;
  readonly size: number;
  readonly sha256: string;
  /** Pool path on the mirror, e.g. pool/main/b/busybox/busybox-static_....deb */
  readonly filename: string;
}

/** How old the package lists may get before a pull refreshes them. */
const LISTS_MAX_AGE_MS = 6 * 3600 * 1000;

export class AptRoot {
  readonly debs: string;

  constructor(
    readonly dir: string,
    readonly config: AptRootConfig,
  ) {
    this.debs = join(dir, "debs");
  }

  /** Writes the root's configuration and directories (idempotent). */
  setup(): void {
    for (const d of [
      "etc/apt/apt.conf.d",
      "etc/apt/preferences.d",
      "etc/apt/sources.list.d",
      "etc/apt/trusted.gpg.d",
      "var/lib/apt/lists/partial",
      "var/cache/apt/archives/partial",
      "var/lib/dpkg",
      "var/log/apt",
      "debs",
    ]) {
      mkdirSync(join(this.dir, d), { recursive: true });
    }
    const status = join(this.dir, "var/lib/dpkg/status");
    if (!existsSync(status)) writeFileSync(status, "");
    const c = this.config;
    const sources = `# Written by Typevisor: the guest's package source (mirror and keyring taken from the host's apt sources).\ndeb [arch=${c.arch} signed-by=${c.keyring}] ${c.mirror} ${c.suite} ${c.components.join(" ")}\n`;
    const conf = [
      `Dir "${this.dir}/";`,
      `Dir::State::status "${status}";`,
      `APT::Architecture "${c.arch}";`,
      `APT::Architectures { "${c.arch}"; };`,
      `Acquire::Languages "none";`,
      // A mirror mid-sync or a dropped connection should not fail a pull on the first try.
      `Acquire::Retries "3";`,
      // Our own root: no other apt process uses it, and we hold Typevisor's lock around every run.
      `Debug::NoLocking "true";`,
      // The root lives in the user's cache directory, which the _apt sandbox user usually cannot write.
      `APT::Sandbox::User "root";`,
      "",
    ].join("\n");
    writeIfChanged(join(this.dir, "etc/apt/sources.list"), sources);
    writeIfChanged(join(this.dir, "etc/apt/apt.conf"), conf);
  }

  /** Refreshes the package lists if they are missing, older than a few hours, or `force`. */
  async update(progress: Progress, force = false): Promise<void> {
    const stamp = join(this.dir, "var/lib/apt/typevisor-updated");
    const sourcesTime = statSync(join(this.dir, "etc/apt/sources.list")).mtimeMs;
    if (!force && existsSync(stamp)) {
      const t = statSync(stamp).mtimeMs;
      if (t >= sourcesTime && Date.now() - t < LISTS_MAX_AGE_MS) return;
    }
    progress.begin(`apt-get update (${this.config.suite}/${this.config.arch})`);
    // --error-on=any: a failed index download is an error, not a warning with exit status 0.
    await this.apt("apt-get", ["update", "--error-on=any"], this.dir, progress);
    writeFileSync(stamp, new Date().toISOString() + "\n");
    progress.end();
  }

  /** The candidate record of a package (apt-cache show of the version apt would pick). */
  async show(name: string): Promise<PackageRecord> {
    return (await this.showMany([name]))[0]!;
  }

  /** The candidate records of several packages, in order, from one apt-cache run. */
  async showMany(names: readonly string[]): Promise<PackageRecord[]> {
    const out = await this.apt("apt-cache", ["show", "--no-all-versions", ...names], this.dir);
    const byName = new Map<string, PackageRecord>();
    for (const stanza of out.split(/\n\s*\n/)) {
      const rec = parseControl(stanza);
      const get = (k: string) => rec.get(k.toLowerCase());
      const name = get("package");
      if (name === undefined) continue;
      const sha = get("sha256");
      const filename = get("filename");
      if (!sha || !filename)
        throw new AptError(`package '${name}' has no SHA256/Filename in the index (not downloadable?)`);
      byName.set(name, {
        name,
        version: get("version")!,
        arch: get("architecture") ?? this.config.arch,
        depends: get("depends") ?? "",
        preDepends: get("pre-depends") ?? "",
        size: Number(get("size") ?? "0"),
        sha256: sha,
        filename,
      });
    }
    return names.map((n) => {
      const r = byName.get(n);
      if (!r) throw new AptError(`package '${n}' not found in ${this.config.suite}/${this.config.arch}`);
      return r;
    });
  }

  /**
   * Downloads a package into the root's debs/ cache with `apt-get download NAME=VERSION` (which
   * verifies it against the signed index), unless a file with the index's sha256 is already there.
   * Returns its path.
   */
  async download(pkg: PackageRecord, progress: Progress): Promise<string> {
    // apt-get download names the file NAME_VERSION_ARCH.deb with the version's ':' (epoch) escaped as %3a.
    const path = join(this.debs, `${pkg.name}_${pkg.version.replace(/:/g, "%3a")}_${pkg.arch}.deb`);
    if (existsSync(path) && (await sha256File(path)) === pkg.sha256) return path;
    progress.begin(`download ${pkg.name} ${pkg.version}`);
    await this.apt("apt-get", ["download", `${pkg.name}=${pkg.version}`], this.debs, progress, pkg.size);
    if (!existsSync(path)) throw new AptError(`apt-get download ${pkg.name} reported success but ${path} is missing`);
    const got = await sha256File(path);
    if (got !== pkg.sha256)
      throw new AptError(`${path}: sha256 ${got} does not match the archive index (${pkg.sha256})`);
    progress.end(formatBytes(pkg.size));
    // Older versions of the same package are superseded: keep one .deb per package in the cache.
    for (const f of readdirSync(this.debs)) {
      if (f.startsWith(`${pkg.name}_`) && f.endsWith(".deb") && join(this.debs, f) !== path)
        rmSync(join(this.debs, f), { force: true });
    }
    return path;
  }

  /** Runs `apt-get ARGS` in the root and returns its standard output. */
  run(args: string[]): Promise<string> {
    return this.apt("apt-get", args, this.dir);
  }

  /** Runs an apt tool inside the root; apt's status fd (APT::Status-Fd) drives the progress bar. */
  private apt(tool: string, args: string[], cwd: string, progress?: Progress, size?: number): Promise<string> {
    const env = { ...process.env, APT_CONFIG: join(this.dir, "etc/apt/apt.conf"), LC_ALL: "C" };
    const full = ["-o", `Dir=${this.dir}/`, "-o", "APT::Status-Fd=3", ...args];
    return new Promise((resolve, reject) => {
      const child = spawn(tool, full, { cwd, env, stdio: ["ignore", "pipe", "pipe", "pipe"] });
      let out = "";
      let err = "";
      child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
      child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
      const status = child.stdio[3] as NodeJS.ReadableStream | null;
      let pending = "";
      status?.on("data", (d: Buffer) => {
        pending += d.toString();
        let nl: number;
        while ((nl = pending.indexOf("\n")) >= 0) {
          const line = pending.slice(0, nl);
          pending = pending.slice(nl + 1);
          // "dlstatus:ITEM:PERCENT:TEXT" (apt's status-fd protocol)
          const m = /^dlstatus:[^:]*:([\d.]+):/.exec(line);
          if (m && progress) {
            const f = Number(m[1]) / 100;
            progress.update(f, size ? `${formatBytes(f * size)}/${formatBytes(size)}` : undefined);
          }
        }
      });
      child.on("error", (e: NodeJS.ErrnoException) => {
        reject(
          e.code === "ENOENT"
            ? new AptUnavailableError(
                `'${tool}' is not installed: Typevisor assembles images from Debian packages with apt, which needs a Debian or Ubuntu host.\n${BOOT_WITHOUT_IMAGES}`,
              )
            : e,
        );
      });
      child.on("close", (code) => {
        if (code === 0) return resolve(out);
        const msg = (err || out)
          .split("\n")
          .filter((l) => /^(E|W|Err):|^E: /.test(l) || l.includes("NO_PUBKEY") || l.includes("Could not"))
          .slice(0, 6)
          .join("\n  ");
        reject(
          new AptError(
            `${tool} ${args.join(" ")} failed (exit ${code}) in Typevisor's private apt root ${this.dir}:\n  ${msg || (err || out).trim().split("\n").slice(-4).join("\n  ")}`,
          ),
        );
      });
    });
  }
}

export class AptUnavailableError extends AptError {
  constructor(message: string) {
    super(message);
    this.name = "AptUnavailableError";
  }
}

/** Parses one RFC822-style control stanza (the first) into lower-cased field names. */
export function parseControl(text: string): Map<string, string> {
  const m = new Map<string, string>();
  let last: string | undefined;
  for (const line of text.split("\n")) {
    if (line.trim() === "") {
      if (m.size > 0) break;
      continue;
    }
    if (/^\s/.test(line) && last) {
      m.set(last, m.get(last) + "\n" + line.trim());
      continue;
    }
    const i = line.indexOf(":");
    if (i > 0) {
      last = line.slice(0, i).toLowerCase();
      m.set(last, line.slice(i + 1).trim());
    }
  }
  return m;
}

/** Package names in a Depends-style field ("a (>= 1), b | c, d:any"): the first alternative of each. */
export function dependencyNames(field: string): string[] {
  return field
    .split(",")
    .map((alt) =>
      alt
        .split("|")[0]!
        .trim()
        .replace(/\s*\(.*$/, "")
        .replace(/:.*$/, "")
        .replace(/\s*\[.*$/, ""),
    )
    .filter((n) => n.length > 0);
}

export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash("sha256");
    createReadStream(path)
      .on("data", (d) => h.update(d))
      .on("error", reject)
      .on("end", () => resolve(h.digest("hex")));
  });
}

function writeIfChanged(path: string, text: string): void {
  if (existsSync(path) && readFileSync(path, "utf8") === text) return;
  writeFileSync(path, text);
}
