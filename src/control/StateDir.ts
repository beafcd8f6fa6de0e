// The daemon's state directory is private to its user (issue 12, item 6): it holds the database
// (VM specs, which name host files), per-VM overlays (guest disk contents), console logs and
// control sockets. Directories are 0700 and files 0600, and a directory left by an older daemon
// with wider modes is tightened at start.
import { chmodSync, lstatSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";

export const DIR_MODE = 0o700;
export const FILE_MODE = 0o600;

/** Creates the directory (and parents) owner-only, or tightens an existing one. */
export function privateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: DIR_MODE });
  chmodSync(dir, DIR_MODE);
}

/** Tightens every directory and regular file under dir (symlinks are left alone, not followed). */
export function tightenTree(dir: string, depth = 4): void {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const e of entries) {
    const p = join(dir, e);
    let st;
    try {
      st = lstatSync(p);
    } catch {
      continue;
    }
    if (st.isDirectory()) {
      if ((st.mode & 0o777) !== DIR_MODE) chmodSync(p, DIR_MODE);
      if (depth > 1) tightenTree(p, depth - 1);
    } else if (st.isFile() && (st.mode & 0o077) !== 0) {
      chmodSync(p, st.mode & 0o700);
    }
  }
}
