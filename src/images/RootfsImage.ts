// The "rootfs" recipe: a Debian userland tree for `typevisor exec --root`. The package set is the
// requested packages plus their Depends/Pre-Depends closure, as apt itself computes it: a
// simulated install (`apt-get install -s`) in the private root, whose dpkg status is empty, lists
// every package a fresh system would need ("Inst NAME (VERSION ...)" lines).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { AptRoot } from "./AptRoot.js";
import type { ImageSpec } from "./Catalogue.js";
import { unpackDeb, AssemblyError } from "./LinuxImage.js";
import { MANIFEST_FORMAT, sha256, treeListing, type Manifest } from "./Manifest.js";
import type { Progress } from "./Progress.js";

export const ROOT_DIR = "root";
export const ROOTFS_RECIPE_VERSION = 1;
export const ROOT_LISTING = "root.sha256sums";

export async function assembleRootfs(
  spec: ImageSpec,
  apt: AptRoot,
  out: string,
  progress: Progress,
): Promise<Manifest> {
  const wanted = spec.rootPackages ?? [];
  if (wanted.length === 0) throw new AssemblyError(`image ${spec.name}: catalogue entry lists no rootPackages`);
  const sim = await apt.run(["install", "-s", "--no-install-recommends", "-q", ...wanted]);
  const names = [...sim.matchAll(/^Inst (\S+) \(/gm)].map((m) => m[1]!);
  if (names.length === 0) throw new AssemblyError(`apt-get install -s ${wanted.join(" ")} selected no packages`);
  const pkgs = [];
  for (const n of names) pkgs.push(await apt.show(n));
  const root = join(out, ROOT_DIR);
  for (const p of pkgs) {
    const deb = await apt.download(p, progress);
    unpackDeb(deb, root);
  }
  progress.begin("hash root tree");
  // One artifact for the whole tree: a sha256sum-style listing of every entry (files by content,
  // symlinks by target), itself hashed in the manifest and re-checked against the tree on verify.
  const listing = treeListing(root);
  writeFileSync(join(out, ROOT_LISTING), listing);
  progress.end();
  return {
    format: MANIFEST_FORMAT,
    name: spec.name,
    recipe: spec.recipe,
    arch: spec.arch,
    suite: spec.suite,
    mirror: apt.config.mirror,
    createdAt: new Date().toISOString(),
    recipeVersion: ROOTFS_RECIPE_VERSION,
    packages: pkgs.map((p) => ({ name: p.name, version: p.version, arch: p.arch, sha256: p.sha256, size: p.size })),
    artifacts: { root: { file: ROOT_LISTING, sha256: sha256(Buffer.from(listing)), size: Buffer.byteLength(listing) } },
  };
}
