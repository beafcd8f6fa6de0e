// The busybox applet list read from the binary's applet_names table.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { busyboxApplets, BusyboxError } from "../../src/images/Busybox.js";

test("the applet table is found among other data and read up to its end", () => {
  const names = ["[", "[[", "acpid", "ash", "cat", "ls", "mount", "sh", "sleep", "umount", "zcat"];
  const bin = Buffer.concat([
    Buffer.from("\x7fELF....some code\0[\0not-the-table\0"),
    Buffer.from(names.join("\0") + "\0"),
    Buffer.from("\0\x01\x02 trailing data"),
  ]);
  assert.deepEqual(busyboxApplets(bin), names);
});

test("the table ends where the sorted order breaks", () => {
  const names = ["[", "[[", "ar", "cat", "cp", "ls", "sh", "tar", "vi", "zcat"];
  const bin = Buffer.from(names.join("\0") + "\0aaa\0bbb\0");
  assert.deepEqual(busyboxApplets(bin), names);
});

test("a file without an applet table is refused", () => {
  assert.throws(() => busyboxApplets(Buffer.from("just some bytes"), "notbusybox"), BusyboxError);
  assert.throws(() => busyboxApplets(Buffer.from("[\0[[\0ls\0")), /no applet name table/);
});

test("the host's busybox: our list equals `busybox --list`", (t) => {
  const path = "/bin/busybox";
  const r = spawnSync(path, ["--list"], { encoding: "utf8" });
  if (r.status !== 0) return t.skip("the host has no busybox (apt-get install busybox-static)");
  assert.deepEqual(busyboxApplets(readFileSync(path), path), r.stdout.trim().split("\n"));
});
