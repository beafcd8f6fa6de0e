// The one entry point the CLI uses to attach a disk: raw file, read-only raw file, or a raw base
// shared read-only under a copy-on-write overlay.

import type { BlockBackend } from "./BlockBackend.js";
import { CowOverlay } from "./CowOverlay.js";
import { RawImage } from "./RawImage.js";

export interface DiskOptions {
  path: string;
  readOnly?: boolean;
  /** Overlay file; created if missing. The base at `path` is then opened read-only and never written. */
  overlay?: string;
}

export async function openDisk(opts: DiskOptions): Promise<BlockBackend> {
  if (opts.overlay !== undefined) return CowOverlay.open(opts.path, opts.overlay);
  return RawImage.open(opts.path, opts.readOnly ?? false);
}
