// `typevisor image`: pull, list, locate and remove guest images assembled from Debian packages.
import type { Command } from "../Command.js";
import { parseCommandArgs, UsageError } from "../Command.js";
import {
  AptUnavailableError,
  CATALOGUE,
  DEFAULT_IMAGE,
  imagePaths,
  ImageError,
  listImages,
  pullImage,
  removeImage,
  ImageCache,
} from "../../images/index.js";
import { progressFor, formatBytes, type ProgressMode } from "../../images/Progress.js";

const usage = `Usage: typevisor image pull [NAME] [--force] [--quiet | --json]
       typevisor image ls [--json]
       typevisor image path NAME [--json]
       typevisor image rm NAME

Images are assembled by Typevisor from Debian's signed packages (fetched with apt-get download in a
private apt root; the host's apt state is never changed) and kept in
\${TYPEVISOR_CACHE:-\${XDG_CACHE_HOME:-~/.cache}/typevisor}/images/NAME.

  pull [NAME]   assemble NAME (default ${DEFAULT_IMAGE}); a no-op if it is already complete and
                intact, a rebuild if it is partial or corrupt. --force rebuilds anyway.
  ls            list the catalogue and what is in the cache
  path NAME     print the artifact paths (kernel=, initrd=, disk= lines) after checking their sha256
  rm NAME       delete a cached image

Options:
  --quiet       no progress output
  --json        machine-readable output (pull: progress as JSON lines on stderr, result on stdout)

Images: ${CATALOGUE.map((c) => c.name).join(", ")}. See docs/IMAGES.md.`;

function mode(quiet: boolean, json: boolean): ProgressMode {
  if (json) return "json";
  if (quiet) return "quiet";
  return process.stderr.isTTY ? "tty" : "plain";
}

async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parseCommandArgs("image", rest, {
    force: { type: "boolean", default: false },
    quiet: { type: "boolean", short: "q", default: false },
    json: { type: "boolean", default: false },
  });
  const out = (s: string) => process.stdout.write(s + "\n");
  try {
    switch (sub) {
      case "pull": {
        if (positionals.length > 1) throw new UsageError("image pull: give at most one image name");
        const name = positionals[0] ?? DEFAULT_IMAGE;
        const progress = progressFor(mode(values.quiet, values.json));
        const t0 = Date.now();
        const r = await pullImage(name, { force: values.force, progress });
        if (values.json) {
          out(
            JSON.stringify({
              name: r.name,
              built: r.built,
              dir: r.dir,
              kernel: r.kernel,
              initrd: r.initrd,
              disk: r.disk,
              root: r.root,
              manifest: r.manifest,
            }),
          );
        } else if (!values.quiet) {
          const secs = ((Date.now() - t0) / 1000).toFixed(1);
          out(r.built ? `image ${name} assembled in ${secs}s: ${r.dir}` : `image ${name} is up to date: ${r.dir}`);
        }
        return 0;
      }
      case "ls":
      case "list": {
        const images = await listImages();
        if (values.json) {
          out(JSON.stringify(images));
          return 0;
        }
        const w = Math.max(...images.map((i) => i.name.length));
        for (const i of images) {
          const m = i.manifest;
          const size =
            m && m.recipe !== "rootfs"
              ? formatBytes(Object.values(m.artifacts).reduce((s, a) => s + a.size, 0)) + "  "
              : "";
          const pk = !m
            ? ""
            : m.recipe !== "linux-initramfs"
              ? `${m.packages.length} packages`
              : m.packages
                  .slice(1)
                  .map((p) => `${p.name} ${p.version}`)
                  .join(", ");
          out(
            `${i.name.padEnd(w)}  ${i.state.padEnd(7)}  ${i.state === "ready" ? `${size}${pk}` : i.state === "damaged" ? (i.problems?.[0] ?? "") : i.description}`,
          );
        }
        return 0;
      }
      case "path": {
        const name = positionals[0];
        if (!name || positionals.length > 1)
          throw new UsageError("image path: give exactly one image name (see 'typevisor image ls')");
        const p = await imagePaths(name);
        if (values.json)
          out(
            JSON.stringify({
              name,
              dir: p.dir,
              kernel: p.kernel,
              initrd: p.initrd,
              disk: p.disk,
              root: p.root,
              cmdline: p.manifest.cmdline,
            }),
          );
        else {
          if (p.kernel) out(`kernel=${p.kernel}`);
          if (p.initrd) out(`initrd=${p.initrd}`);
          if (p.disk) out(`disk=${p.disk}`);
          if (p.root) out(`root=${p.root}`);
          if (p.manifest.cmdline) out(`cmdline=${p.manifest.cmdline}`);
        }
        return 0;
      }
      case "rm":
      case "remove": {
        if (positionals.length === 0)
          throw new UsageError("image rm: give the image name to remove (see 'typevisor image ls')");
        let status = 0;
        for (const name of positionals) {
          if (removeImage(name)) {
            if (!values.quiet) out(`removed ${name}`);
          } else {
            process.stderr.write(`typevisor: image rm: no image '${name}' in ${new ImageCache().images}\n`);
            status = 1;
          }
        }
        return status;
      }
      case undefined:
        throw new UsageError("image: give a subcommand: pull, ls, path or rm (see 'typevisor image --help')");
      default:
        throw new UsageError(
          `image: unknown subcommand '${sub}': use pull, ls, path or rm (see 'typevisor image --help')`,
        );
    }
  } catch (e) {
    if (e instanceof AptUnavailableError || e instanceof ImageError)
      throw new UsageError(`image ${sub}: ${e.message}`, 1);
    if (e instanceof Error && !(e instanceof UsageError)) {
      throw new UsageError(`image ${sub}: ${e.message}`, 1);
    }
    throw e;
  }
}

export const command: Command = {
  name: "image",
  summary: "pull, list and remove guest images assembled from Debian packages",
  usage,
  run,
};
