// dpkg's administrative directory (/var/lib/dpkg, dpkg(1) "FILES") for packages that Typevisor
// unpacked on the host with `dpkg-deb -x`, in the state dpkg itself leaves after `dpkg --unpack`:
// every package "install ok unpacked", its control scripts and file list under info/, its conffiles
// extracted as FILE.dpkg-new with the hash "newconffile", and its trigger interests registered. The
// guest then finishes the job with `dpkg --configure -a` (which renames the conffiles into place
// and runs the postinst scripts) exactly as debootstrap's second stage does, so no riscv64 code
// runs on the host. Formats: deb-control(5), deb-conffiles(5), deb-triggers(5), dpkg's
// lib/dpkg/dbmodify.c and triggers.c (triggers/File holds "PATH PACKAGE[/noawait]" lines, triggers/NAME
// the interested packages of an explicit trigger).
import { execFileSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { AssemblyError, hostTool } from "./LinuxImage.js";

export const DPKG_ADMIN = "var/lib/dpkg";

/** One package as unpacked: its control stanza and what goes to the status file and info/. */
export interface UnpackedPackage {
  readonly name: string;
  readonly arch: string;
  /** info/ file stem: "NAME" or, for Multi-Arch: same packages, "NAME:ARCH" (dpkg's pkg_infodb naming). */
  readonly infoName: string;
  readonly hasPreinst: boolean;
}

export class DpkgDatabase {
  private readonly stanzas: string[] = [];
  private readonly fileTriggers: string[] = [];
  private readonly explicitTriggers = new Map<string, string[]>();

  constructor(private readonly root: string) {
    for (const d of ["info", "triggers", "updates", "alternatives", "parts"]) {
      mkdirSync(join(root, DPKG_ADMIN, d), { recursive: true });
    }
  }

  /**
   * Unpacks `deb` into the root (dpkg-deb -x) and records it as unpacked: control members to
   * info/, its file list to info/NAME.list, conffiles renamed to .dpkg-new.
   */
  unpack(deb: string): UnpackedPackage {
    const info = join(this.root, DPKG_ADMIN, "info");
    const ctl = mkdtempSync(join(this.root, DPKG_ADMIN, ".control-"));
    try {
      hostTool("dpkg-deb", ["-e", deb, ctl], "dpkg");
      const control = readFileSync(join(ctl, "control"), "utf8").replace(/\n+$/, "");
      const field = (k: string) => new RegExp(`^${k}:[ \\t]*(.*)$`, "mi").exec(control)?.[1]?.trim();
      const name = field("Package");
      const arch = field("Architecture");
      if (!name || !arch) throw new Error(`${deb}: control file has no Package/Architecture`);
      const infoName = field("Multi-Arch") === "same" ? `${name}:${arch}` : name;

      // One pass: unpack the data (as dpkg-deb -x does, through tar) and take the file list from
      // tar's verbose output: member names ("./usr/bin/x", "./usr/") as dpkg writes them ("/usr/bin/x",
      // "/." for the root).
      let listing: string;
      try {
        listing = execFileSync(
          "bash",
          ["-o", "pipefail", "-c", 'dpkg-deb --fsys-tarfile "$1" | tar -x -v -p -f - -C "$2"', "sh", deb, this.root],
          { maxBuffer: 1 << 28, stdio: ["ignore", "pipe", "pipe"] },
        ).toString();
      } catch (e) {
        const err = e as NodeJS.ErrnoException & { stderr?: Buffer };
        throw new AssemblyError(`unpacking ${deb} failed: ${err.stderr?.toString().trim() || err.message}`);
      }
      const names = listing
        .split("\n")
        .filter((l) => l.length > 0)
        .map((l) => {
          const p = l.replace(/^\.\/?/, "/").replace(/(.)\/$/, "$1");
          return p === "/" ? "/." : p;
        });
      writeFileSync(join(info, `${infoName}.list`), names.join("\n") + "\n");

      const conffiles: string[] = [];
      for (const member of readdirSync(ctl)) {
        if (member === "control") continue;
        writeFileSync(join(info, `${infoName}.${member}`), readFileSync(join(ctl, member)), {
          mode: /^(pre|post)(inst|rm)$|^config$/.test(member) ? 0o755 : 0o644,
        });
        if (member === "conffiles") {
          for (const line of readFileSync(join(ctl, member), "utf8").split("\n")) {
            // "PATH" or "remove-on-upgrade PATH" (deb-conffiles(5)); only shipped files are unpacked.
            const words = line.trim().split(/\s+/);
            const path = words[words.length - 1];
            if (!path?.startsWith("/") || words.length > 1) continue;
            const on = join(this.root, path);
            if (!existsSync(on)) continue;
            renameSync(on, `${on}.dpkg-new`);
            conffiles.push(` ${path} newconffile`);
          }
        }
        if (member === "triggers") this.addInterests(name, readFileSync(join(ctl, member), "utf8"));
      }
      const status = control.replace(/^(Package:.*)$/m, "$1\nStatus: install ok unpacked");
      this.stanzas.push(conffiles.length > 0 ? `${status}\nConffiles:\n${conffiles.join("\n")}` : status);
      return { name, arch, infoName, hasPreinst: existsSync(join(ctl, "preinst")) };
    } finally {
      rmSync(ctl, { recursive: true, force: true });
    }
  }

  /** deb-triggers(5) interest directives, registered as dpkg does when it unpacks the package. */
  private addInterests(pkg: string, text: string): void {
    for (const line of text.split("\n")) {
      const m = /^\s*interest(-await|-noawait)?\s+(\S+)/.exec(line);
      if (!m) continue;
      const who = m[1] === "-noawait" ? `${pkg}/noawait` : pkg;
      const trig = m[2]!;
      if (trig.startsWith("/")) this.fileTriggers.push(`${trig} ${who}`);
      else this.explicitTriggers.set(trig, [...(this.explicitTriggers.get(trig) ?? []), who]);
    }
  }

  /** Writes the status file and the trigger registrations. */
  finish(): void {
    const admin = join(this.root, DPKG_ADMIN);
    writeFileSync(join(admin, "status"), this.stanzas.join("\n\n") + "\n");
    writeFileSync(join(admin, "available"), "");
    writeFileSync(join(admin, "triggers/File"), this.fileTriggers.map((l) => l + "\n").join(""));
    writeFileSync(join(admin, "triggers/Unincorp"), "");
    for (const [t, pkgs] of this.explicitTriggers) writeFileSync(join(admin, "triggers", t), pkgs.join("\n") + "\n");
  }
}
