// Static files over HTTP for the browser front ends: `typevisor web` (the boot page, the image's
// files) and the daemon's dashboard at /ui/. Only GET and HEAD; a path is looked up under one root
// directory and may not leave it (no "..", no absolute paths, symlinks resolved and checked), and
// every answer carries the headers the caller gives (cross-origin isolation for the boot page).
import { createReadStream, realpathSync, statSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, join, sep } from "node:path";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
};

/** The headers that make a page cross-origin isolated (SharedArrayBuffer; HTML §7.1.3, Fetch CORP). */
export const ISOLATION_HEADERS: Record<string, string> = {
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-embedder-policy": "require-corp",
  "cross-origin-resource-policy": "same-origin",
};

/** Sends the file at `path` (already resolved by the caller), or answers 404/405. */
export function sendFile(
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  headers: Record<string, string> = {},
  type?: string,
): void {
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain", ...headers }).end("GET or HEAD only\n");
    return;
  }
  let size: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new Error("not a file");
    size = st.size;
  } catch {
    res.writeHead(404, { "content-type": "text/plain", ...headers }).end("not found\n");
    return;
  }
  res.writeHead(200, {
    "content-type": type ?? TYPES[extname(path)] ?? "application/octet-stream",
    "content-length": String(size),
    "cache-control": "no-cache",
    "x-content-type-options": "nosniff",
    ...headers,
  });
  if (req.method === "HEAD") {
    res.end();
    return;
  }
  const s = createReadStream(path);
  s.on("error", () => res.destroy());
  s.pipe(res);
}

/**
 * The file under `root` that URL path `rel` (without the mount prefix) names, or undefined when it
 * would leave `root`. "" and paths ending in "/" mean index.html.
 */
export function resolveUnder(root: string, rel: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(rel);
  } catch {
    return undefined;
  }
  if (decoded === "" || decoded.endsWith("/")) decoded += "index.html";
  const parts = decoded.split("/").filter((p) => p.length > 0);
  if (parts.some((p) => p === ".." || p === "." || p.includes("\\") || p.includes("\0"))) return undefined;
  const path = join(root, ...parts);
  try {
    const real = realpathSync(path);
    const realRoot = realpathSync(root);
    if (real !== realRoot && !real.startsWith(realRoot + sep)) return undefined;
    return real;
  } catch {
    return path; // missing: sendFile answers 404
  }
}
