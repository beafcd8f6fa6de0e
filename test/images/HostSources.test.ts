// Reading the host's apt sources (both formats) to find the Debian mirror and keyring.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hostSources, parseDeb822, parseOneLine, pickDebianMirror } from "../../src/images/HostSources.js";

const BOOKWORM = `Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
`;

test("deb822 stanzas: URIs, suites, components and Signed-By", () => {
  const s = parseDeb822(BOOKWORM, "debian.sources");
  assert.equal(s.length, 2);
  assert.equal(s[0]!.uri, "http://deb.debian.org/debian");
  assert.deepEqual(s[0]!.suites, ["bookworm", "bookworm-updates"]);
  assert.equal(s[0]!.signedBy, "/usr/share/keyrings/debian-archive-keyring.gpg");
  const m = pickDebianMirror(s);
  assert.equal(m?.uri, "http://deb.debian.org/debian");
});

test("deb822: deb-src only and Enabled: no stanzas are ignored; inline keys are not paths", () => {
  const s = parseDeb822(
    "Types: deb-src\nURIs: http://a/debian\nSuites: x\n\nTypes: deb\nEnabled: no\nURIs: http://b/debian\nSuites: x\n\nTypes: deb\nURIs: http://c/debian\nSuites: x\nSigned-By:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n",
    "t",
  );
  assert.deepEqual(
    s.map((x) => x.uri),
    ["http://c/debian"],
  );
  assert.equal(s[0]!.signedBy, undefined);
});

test("one-line sources.list with options and comments", () => {
  const s = parseOneLine(
    "# comment\ndeb-src http://x/debian bookworm main\ndeb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian bookworm main contrib # tail\ndeb http://security.debian.org/debian-security bookworm-security main\n",
    "sources.list",
  );
  assert.equal(s.length, 2);
  assert.equal(s[0]!.uri, "http://mirror.example/debian");
  assert.equal(s[0]!.signedBy, "/k.gpg");
  assert.deepEqual(s[0]!.components, ["main", "contrib"]);
  assert.equal(pickDebianMirror(s)?.uri, "http://mirror.example/debian");
});

test("an Ubuntu-only host has no Debian mirror to offer", () => {
  const s = parseOneLine("deb http://archive.ubuntu.com/ubuntu noble main\n", "l");
  assert.equal(pickDebianMirror(s), undefined);
});

test("hostSources reads sources.list and sources.list.d/*.sources|*.list", () => {
  const etc = mkdtempSync(join(tmpdir(), "tv-etcapt-"));
  try {
    mkdirSync(join(etc, "sources.list.d"));
    writeFileSync(join(etc, "sources.list.d/debian.sources"), BOOKWORM);
    writeFileSync(join(etc, "sources.list.d/extra.list"), "deb http://z/debian sid main\n");
    writeFileSync(join(etc, "sources.list.d/ignored.save"), "deb http://nope/debian sid main\n");
    const s = hostSources(etc);
    assert.deepEqual(
      s.map((x) => x.uri),
      ["http://deb.debian.org/debian", "http://deb.debian.org/debian-security", "http://z/debian"],
    );
  } finally {
    rmSync(etc, { recursive: true, force: true });
  }
});
