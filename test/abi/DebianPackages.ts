// Test helper: Debian trixie packages for the real-program tests, fetched through the image
// builder's private apt root (src/images/AptRoot.ts: signed index, sha256-checked .debs, host apt
// state untouched) and unpacked with dpkg-deb into a cached directory used as a guest --root.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AptRoot } from "../../src/images/AptRoot.js";
import { DEFAULT_KEYRING, hostSources, pickDebianMirror } from "../../src/images/HostSources.js";
import { ImageCache } from "../../src/images/ImageCache.js";

const quiet = { begin() {}, update() {}, end() {}, note() {} };

/**
 * A directory holding the named packages of trixie/`arch` unpacked (merged-/usr symlinks added),
 * or a string saying why it could not be made (no apt, archive unreachable): the caller skips.
 */
export async function debianRoot(arch: string, packages: readonly string[]): Promise<string | { skip: string }> {
  const cache = new ImageCache();
  const key = createHash("sha256")
    .update(arch + ":" + packages.join(","))
    .digest("hex")
    .slice(0, 16);
  const dir = join(cache.root, "abi-test-roots", `${arch}-${key}`);
  if (existsSync(join(dir, ".complete"))) return dir;
  const src = pickDebianMirror(hostSources());
  const mirror = process.env["TYPEVISOR_APT_MIRROR"] ?? src?.uri;
  if (!mirror) return { skip: "no Debian mirror in the host's apt sources" };
  const keyring = src?.signedBy ?? DEFAULT_KEYRING;
  if (!existsSync(keyring)) return { skip: `archive keyring ${keyring} missing` };
  // Our own apt root (not the image builder's), so parallel test files never run apt in one root.
  const apt = new AptRoot(join(cache.root, "abi-test-apt", `${arch}-trixie`), {
    arch,
    suite: "trixie",
    components: ["main"],
    mirror,
    keyring,
  });
  try {
    apt.setup();
    await apt.update(quiet);
    const tmp = `${dir}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    for (const d of ["usr/bin", "usr/sbin", "usr/lib"]) mkdirSync(join(tmp, d), { recursive: true });
    for (const l of ["bin", "sbin", "lib"]) symlinkSync(`usr/${l}`, join(tmp, l));
    for (const name of packages) {
      const rec = await apt.show(name);
      const deb = await apt.download(rec, quiet);
      execFileSync("dpkg-deb", ["-x", deb, tmp]);
    }
    writeFileSync(join(tmp, ".complete"), packages.join("\n") + "\n");
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
    return dir;
  } catch (e) {
    return {
      skip: `could not fetch ${packages.join(", ")} for ${arch} from ${mirror}: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`,
    };
  }
}
