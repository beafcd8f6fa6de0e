// The manifest of an assembled image (manifest.json): what it was built from (package names,
// versions and the sha256 the signed archive index gives for each .deb) and the sha256 and size
// of every artifact. It is written last, so an image directory without a valid manifest is an
// interrupted build; an artifact whose hash differs is corruption. Either way the image is rebuilt,
// never booted.
import { createHash } from "node:crypto";
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { join } from "node:path";
import { sha256File } from "./AptRoot.js";

export const MANIFEST_FILE = "manifest.json";
export const MANIFEST_FORMAT = "typevisor-image/1";

export interface ManifestPackage {
  readonly name: string;
  readonly version: string;
  readonly arch: string;
  readonly sha256: string;
  readonly size: number;
}

export interface Artifact {
  /** File name inside the image directory. */
  readonly file: string;
  readonly sha256: string;
  readonly size: number;
}

export type ArtifactRole = "kernel" | "initrd" | "disk" | "root";

export interface Manifest {
  readonly format: typeof MANIFEST_FORMAT;
  readonly name: string;
  readonly recipe: string;
  readonly arch: string;
  readonly suite: string;
  readonly mirror: string;
  readonly createdAt: string;
  /** Version of the recipe that assembled the image: an image from an older recipe is rebuilt by pull. */
  readonly recipeVersion?: number;
  readonly packages: readonly ManifestPackage[];
  readonly artifacts: Partial<Record<ArtifactRole, Artifact>>;
  /** linux-initramfs: kernel release, default command line, modules loaded at boot (load order). */
  readonly kernelRelease?: string;
  readonly cmdline?: string;
  readonly modules?: readonly string[];
  /** linux-initramfs: modules loaded only when a virtio disk is attached (load order). */
  readonly diskModules?: readonly string[];
  /** linux-initramfs: modules loaded only when a virtio NIC is attached (load order). */
  readonly netModules?: readonly string[];
  /** linux-initramfs: modules loaded only when a virtio-9p share is attached (load order). */
  readonly shareModules?: readonly string[];
  readonly applets?: number;
  /** linux-rootdisk: how long the build VM took to configure the packages (seconds). */
  readonly configureSeconds?: number;
}

export class ManifestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ManifestError";
  }
}

/** Reads and structurally checks a manifest; throws ManifestError naming the problem. */
export function readManifest(dir: string): Manifest {
  const path = join(dir, MANIFEST_FILE);
  if (!existsSync(path)) throw new ManifestError(`${path} is missing (interrupted pull?)`);
  let m: unknown;
  try {
    m = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new ManifestError(`${path} is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof m !== "object" || m === null) throw new ManifestError(`${path}: not a JSON object`);
  const o = m as Record<string, unknown>;
  if (o["format"] !== MANIFEST_FORMAT)
    throw new ManifestError(`${path}: format ${JSON.stringify(o["format"])} is not ${MANIFEST_FORMAT}`);
  for (const k of ["name", "recipe", "arch", "suite", "createdAt"]) {
    if (typeof o[k] !== "string") throw new ManifestError(`${path}: field '${k}' is missing`);
  }
  if (!Array.isArray(o["packages"])) throw new ManifestError(`${path}: field 'packages' is missing`);
  const arts = o["artifacts"];
  if (typeof arts !== "object" || arts === null) throw new ManifestError(`${path}: field 'artifacts' is missing`);
  for (const [role, a] of Object.entries(arts as Record<string, unknown>)) {
    const art = a as Record<string, unknown> | null;
    if (
      !art ||
      typeof art["file"] !== "string" ||
      typeof art["sha256"] !== "string" ||
      typeof art["size"] !== "number" ||
      /[/\\]|^\.\.?$/.test(art["file"])
    ) {
      throw new ManifestError(`${path}: artifact '${role}' is malformed`);
    }
  }
  return m as Manifest;
}

export interface Verification {
  readonly ok: boolean;
  readonly manifest: Manifest | undefined;
  readonly problems: readonly string[];
}

/** Checks an image directory: a valid manifest, and every artifact present with its size and sha256. */
export async function verifyImage(dir: string): Promise<Verification> {
  let manifest: Manifest;
  try {
    manifest = readManifest(dir);
  } catch (e) {
    return { ok: false, manifest: undefined, problems: [(e as Error).message] };
  }
  const problems: string[] = [];
  for (const [role, art] of Object.entries(manifest.artifacts)) {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- a Partial record: a role may be absent
    if (!art) continue;
    const p = join(dir, art.file);
    if (!existsSync(p)) {
      problems.push(`${role} ${p} is missing`);
      continue;
    }
    const size = statSync(p).size;
    if (size !== art.size) {
      problems.push(`${role} ${p} has ${size} bytes, the manifest says ${art.size}`);
      continue;
    }
    const sha = await sha256File(p);
    if (sha !== art.sha256)
      problems.push(`${role} ${p} has sha256 ${sha}, the manifest says ${art.sha256} (corrupted)`);
    else if (role === "root") {
      // A tree artifact: the listing is intact, now check the tree still matches it.
      const tree = join(dir, "root");
      if (!existsSync(tree) || treeListing(tree) !== readFileSync(p, "utf8"))
        problems.push(`root tree ${tree} no longer matches ${p} (modified or corrupted)`);
    }
  }
  return { ok: problems.length === 0, manifest, problems };
}

export async function artifactOf(dir: string, file: string): Promise<Artifact> {
  const p = join(dir, file);
  return { file, sha256: await sha256File(p), size: statSync(p).size };
}

export function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** A deterministic listing of a tree: "HASH  TYPE MODE PATH" lines sorted by path (files hashed by content, symlinks by target). */
export function treeListing(root: string): string {
  const lines: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(root, r));
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isDirectory()) {
        lines.push(`${"-".repeat(64)}  d ${mode} ${r}`);
        walk(r);
      } else if (st.isSymbolicLink()) {
        lines.push(`${sha256(Buffer.from(readlinkSync(join(root, r))))}  l ${mode} ${r}`);
      } else if (st.isFile()) {
        lines.push(`${sha256(readFileSync(join(root, r)))}  f ${mode} ${r}`);
      }
    }
  };
  walk("");
  return lines.join("\n") + "\n";
}
