// A MemoryDisk's changes kept in the browser's origin private file system (OPFS, WHATWG File System
// §"origin private file system"), so a guest's disk writes survive reloading the page. Two files
// per disk under typevisor/: KEY.chunks (chunk i at offset i x 64 KiB) and KEY.map (one byte per
// chunk: 1 = saved). Data goes before its map byte, so a chunk is only ever marked saved once its
// bytes are written. Uses synchronous access handles, which exist in dedicated workers only (the
// VM worker).
import { CHUNK, type ChunkStore } from "../MemoryDisk.js";

const DIR = "typevisor";

/** FileSystemSyncAccessHandle (the DOM library's types leave it to the WebWorker library). */
interface SyncHandle {
  read(buf: Uint8Array, opts: { at: number }): number;
  write(buf: Uint8Array, opts: { at: number }): number;
  flush(): void;
}

async function syncHandle(dir: FileSystemDirectoryHandle, name: string): Promise<SyncHandle> {
  const f = (await dir.getFileHandle(name, { create: true })) as unknown as {
    createSyncAccessHandle(): Promise<SyncHandle>;
  };
  return f.createSyncAccessHandle();
}

/** The file-name-safe key of a disk: the image's name, its size and a digest of its bytes. */
export async function diskKey(name: string, base: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", base.slice()));
  const hex = Array.from(digest.subarray(0, 8), (b) => b.toString(16).padStart(2, "0")).join("");
  return `${name.replace(/[^A-Za-z0-9_.-]/g, "_")}-${base.length}-${hex}`;
}

export async function openOpfsChunkStore(key: string, size: number): Promise<ChunkStore> {
  const root = await navigator.storage.getDirectory();
  const dir = await root.getDirectoryHandle(DIR, { create: true });
  const data = await syncHandle(dir, `${key}.chunks`);
  const mapFile = await syncHandle(dir, `${key}.map`);
  const chunks = Math.ceil(size / CHUNK);
  const map = new Uint8Array(chunks);
  mapFile.read(map, { at: 0 });
  return {
    load() {
      const out = new Map<number, Uint8Array>();
      for (let i = 0; i < chunks; i++) {
        if (map[i] !== 1) continue;
        const c = new Uint8Array(Math.min(CHUNK, size - i * CHUNK));
        if (data.read(c, { at: i * CHUNK }) === c.length) out.set(i, c);
      }
      return out;
    },
    save(i, chunk) {
      data.write(chunk, { at: i * CHUNK });
      if (map[i] !== 1) {
        data.flush();
        map[i] = 1;
        mapFile.write(map.subarray(i, i + 1), { at: i });
      }
    },
    flush() {
      data.flush();
      mapFile.flush();
    },
  };
}

/** Forgets every disk's saved changes (the page's "Reset disk"). Works from the page or a worker. */
export async function forgetOpfsChanges(): Promise<void> {
  const root = await navigator.storage.getDirectory();
  await root.removeEntry(DIR, { recursive: true }).catch(() => {});
}
