// DpkgDatabase: packages unpacked on the host are recorded the way `dpkg --unpack` records them, and
// the host's own dpkg (the reference) agrees: `dpkg --admindir ... --audit` lists them as unpacked
// but not configured, dpkg-query reads their status and file lists, and `dpkg --configure -a`
// (with the host's dpkg on an all-architecture package) installs the conffile and runs the postinst.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DpkgDatabase } from "../../src/images/DpkgDatabase.js";

function buildDeb(
  dir: string,
  name: string,
  extra: string,
  files: Record<string, string>,
  ctl: Record<string, string>,
) {
  const src = join(dir, `src-${name}`);
  mkdirSync(join(src, "DEBIAN"), { recursive: true });
  writeFileSync(
    join(src, "DEBIAN/control"),
    `Package: ${name}\nVersion: 1.0\nArchitecture: all\nMaintainer: T <t@example.org>\n${extra}Description: test package\n`,
  );
  for (const [k, v] of Object.entries(ctl)) writeFileSync(join(src, "DEBIAN", k), v, { mode: 0o755 });
  for (const [p, v] of Object.entries(files)) {
    mkdirSync(join(src, p, ".."), { recursive: true });
    writeFileSync(join(src, p), v);
  }
  const deb = join(dir, `${name}.deb`);
  const r = spawnSync("dpkg-deb", ["--root-owner-group", "-Zgzip", "--build", src, deb]);
  assert.equal(r.status, 0, r.stderr.toString());
  return deb;
}

test("packages unpacked on the host are 'unpacked' to dpkg, and dpkg --configure -a finishes them", (t) => {
  if (spawnSync("dpkg-deb", ["--version"]).status !== 0) return t.skip("dpkg-deb is not installed");
  const dir = mkdtempSync(join(tmpdir(), "tv-dpkgdb-"));
  try {
    const a = buildDeb(
      dir,
      "tv-a",
      "Multi-Arch: foreign\n",
      { "etc/tv-a.conf": "setting=1\n", "usr/share/tv-a/data": "data\n" },
      {
        conffiles: "/etc/tv-a.conf\n",
        postinst: '#!/bin/sh\nset -e\n[ "$1" = configure ] && echo configured > "$DPKG_ROOT/tv-a-postinst"\nexit 0\n',
        triggers: "interest-noawait /usr/share/tv-a\ninterest tv-a-trigger\n",
      },
    );
    const b = buildDeb(dir, "tv-b", "Depends: tv-a\n", { "usr/share/tv-b/x": "x\n" }, {});
    const root = join(dir, "root");
    const db = new DpkgDatabase(root);
    const ua = db.unpack(a);
    const ub = db.unpack(b);
    db.finish();
    assert.deepEqual([ua.name, ua.infoName, ua.arch, ua.hasPreinst], ["tv-a", "tv-a", "all", false]);
    assert.equal(ub.infoName, "tv-b");
    // The conffile waits as .dpkg-new, as dpkg --unpack leaves it.
    assert.ok(existsSync(join(root, "etc/tv-a.conf.dpkg-new")));
    assert.ok(!existsSync(join(root, "etc/tv-a.conf")));
    const admin = join(root, "var/lib/dpkg");
    assert.match(readFileSync(join(admin, "status"), "utf8"), /Conffiles:\n \/etc\/tv-a.conf newconffile/);
    assert.equal(readFileSync(join(admin, "triggers/File"), "utf8"), "/usr/share/tv-a tv-a/noawait\n");
    assert.equal(readFileSync(join(admin, "triggers/tv-a-trigger"), "utf8"), "tv-a\n");
    assert.deepEqual(readFileSync(join(admin, "info/tv-b.list"), "utf8").split("\n").filter(Boolean), [
      "/.",
      "/usr",
      "/usr/share",
      "/usr/share/tv-b",
      "/usr/share/tv-b/x",
    ]);

    // The host's dpkg is the reference for what the database means.
    const q = spawnSync("dpkg-query", ["--admindir", admin, "-W", "-f", "${Package} ${Status}\\n"]);
    assert.equal(q.stdout.toString(), "tv-a install ok unpacked\ntv-b install ok unpacked\n", q.stderr.toString());
    const s = spawnSync("dpkg-query", ["--admindir", admin, "-S", "/usr/share/tv-a/data"]);
    assert.equal(s.stdout.toString().trim(), "tv-a: /usr/share/tv-a/data");
    const audit = spawnSync("dpkg", ["--admindir", admin, "--audit"]).stdout.toString();
    assert.match(audit, /unpacked but not yet configured/);
    if (process.getuid?.() !== 0) return; // dpkg --configure in a foreign root needs root (chown, chroot-less scripts)
    const c = spawnSync(
      "dpkg",
      ["--root", root, "--force-script-chrootless", "--force-not-root", "--configure", "-a"],
      { env: { ...process.env, PATH: "/usr/sbin:/usr/bin:/sbin:/bin" } },
    );
    assert.equal(c.status, 0, c.stderr.toString());
    assert.equal(readFileSync(join(root, "etc/tv-a.conf"), "utf8"), "setting=1\n");
    assert.equal(readFileSync(join(root, "tv-a-postinst"), "utf8"), "configured\n");
    const after = spawnSync("dpkg-query", ["--admindir", admin, "-W", "-f", "${Status} "]).stdout.toString();
    assert.equal(after, "install ok installed install ok installed ");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
