// Persistence of the control plane in an embedded SQLite database: VM definitions and their last
// states survive a daemon restart, including kill -9 (SQLite's journal makes each write atomic; WAL
// mode with synchronous=FULL makes a committed write durable).
import Database from "better-sqlite3";
import { chmodSync, closeSync, existsSync, openSync } from "node:fs";
import { FILE_MODE } from "./StateDir.js";
import type { VmSpec } from "./VmSpec.js";

export type VmStatus = "created" | "starting" | "running" | "paused" | "stopping" | "stopped";

export interface VmExitRecord {
  /** poweroff, panic, killed (SIGKILL / kill request), crashed (the VM process died), stopped,
   *  shutdown-timeout, error, daemon-restart (its process was gone when a restarted daemon looked). */
  reason: string;
  status: number | null;
  message?: string;
  at: string;
}

export interface VmRecord {
  id: string;
  spec: VmSpec;
  status: VmStatus;
  lastExit: VmExitRecord | null;
  createdAt: string;
  updatedAt: string;
}

interface Row {
  id: string;
  name: string;
  spec: string;
  status: string;
  last_exit: string | null;
  created_at: string;
  updated_at: string;
}

export class Store {
  private db: Database.Database;

  constructor(path: string) {
    // Owner-only before SQLite opens it (SQLite gives its -wal and -shm files the database's mode).
    closeSync(openSync(path, "a", FILE_MODE));
    chmodSync(path, FILE_MODE);
    this.db = new Database(path);
    this.db.pragma("journal_mode = WAL");
    for (const f of [`${path}-wal`, `${path}-shm`]) if (existsSync(f)) chmodSync(f, FILE_MODE);
    this.db.pragma("synchronous = FULL");
    this.db.exec(`CREATE TABLE IF NOT EXISTS vms (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL UNIQUE,
      spec TEXT NOT NULL,
      status TEXT NOT NULL,
      last_exit TEXT,
      created_at TEXT NOT NULL,
      updated_at TEXT NOT NULL
    )`);
  }

  private static toRecord(r: Row): VmRecord {
    return {
      id: r.id,
      spec: JSON.parse(r.spec) as VmSpec,
      status: r.status as VmStatus,
      lastExit: r.last_exit ? (JSON.parse(r.last_exit) as VmExitRecord) : null,
      createdAt: r.created_at,
      updatedAt: r.updated_at,
    };
  }

  list(): VmRecord[] {
    return (this.db.prepare("SELECT * FROM vms ORDER BY created_at, name").all() as Row[]).map(Store.toRecord);
  }

  get(id: string): VmRecord | undefined {
    const r = this.db.prepare("SELECT * FROM vms WHERE id = ?").get(id) as Row | undefined;
    return r && Store.toRecord(r);
  }

  byName(name: string): VmRecord | undefined {
    const r = this.db.prepare("SELECT * FROM vms WHERE name = ?").get(name) as Row | undefined;
    return r && Store.toRecord(r);
  }

  insert(rec: VmRecord): void {
    this.db
      .prepare(
        "INSERT INTO vms (id, name, spec, status, last_exit, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
      )
      .run(
        rec.id,
        rec.spec.name,
        JSON.stringify(rec.spec),
        rec.status,
        rec.lastExit ? JSON.stringify(rec.lastExit) : null,
        rec.createdAt,
        rec.updatedAt,
      );
  }

  setStatus(id: string, status: VmStatus, lastExit?: VmExitRecord): void {
    const now = new Date().toISOString();
    if (lastExit) {
      this.db
        .prepare("UPDATE vms SET status = ?, last_exit = ?, updated_at = ? WHERE id = ?")
        .run(status, JSON.stringify(lastExit), now, id);
    } else {
      this.db.prepare("UPDATE vms SET status = ?, updated_at = ? WHERE id = ?").run(status, now, id);
    }
  }

  delete(id: string): void {
    this.db.prepare("DELETE FROM vms WHERE id = ?").run(id);
  }

  close(): void {
    this.db.close();
  }
}
