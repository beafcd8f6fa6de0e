// Property-based fuzzing of the control plane's request parser, router and VM spec validator
// (issue 12): whatever a client sends, the daemon never throws, answers every bad request with a
// 4xx JSON error (never a 5xx), keeps serving, and a valid spec round-trips unchanged.
// CI: a fixed seed and a bounded count. A longer run (docs/TESTING.md):
//   CONTROL_FUZZ_RUNS=50 CONTROL_FUZZ_SEED=7 node --test dist/test/control/Api.fuzz.test.js
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { call } from "../../src/control/Client.js";
import { startDaemon } from "./harness.js";

const SEED = Number(process.env["CONTROL_FUZZ_SEED"] ?? 20261204);
const SCALE = Number(process.env["CONTROL_FUZZ_RUNS"] ?? 1);
const params = (base: number) => ({
  seed: SEED,
  numRuns: Math.max(1, Math.round(base * SCALE)),
  includeErrorInReport: true as const,
});

let env: Awaited<ReturnType<typeof startDaemon>>;
const files = mkdtempSync(join(tmpdir(), "tv-fuzz-files-"));
before(async () => {
  for (const f of ["kernel", "initrd", "bios", "d0.img", "d1.img"]) writeFileSync(join(files, f), Buffer.alloc(4096));
  env = await startDaemon({ allowDirs: [files] });
});
after(async () => {
  await env.daemon.stop();
});

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Sends raw bytes and reads one answer: up to its content-length, or its headers for a stream. */
function exchange(request: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const c = connect(env.socket);
    let buf = Buffer.alloc(0);
    const t = setTimeout(() => {
      c.destroy();
      reject(new Error(`no complete answer within 5 s; got ${JSON.stringify(buf.toString("latin1").slice(0, 200))}`));
    }, 5000);
    const done = (a: Answer) => {
      clearTimeout(t);
      c.destroy();
      resolve(a);
    };
    const tryParse = (ended: boolean) => {
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) {
        if (ended) {
          clearTimeout(t);
          reject(new Error(`connection closed without an answer: ${JSON.stringify(buf.toString("latin1"))}`));
        }
        return;
      }
      const lines = buf.subarray(0, end).toString("latin1").split("\r\n");
      const m = /^HTTP\/1\.1 (\d{3})/.exec(lines[0]!);
      if (!m) {
        clearTimeout(t);
        reject(new Error(`not an HTTP answer: ${lines[0]}`));
        return;
      }
      const headers: Record<string, string> = {};
      for (const l of lines.slice(1)) {
        const i = l.indexOf(":");
        headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
      }
      const status = Number(m[1]);
      const body = buf.subarray(end + 4);
      const len = headers["content-length"];
      if (status === 101 || (headers["content-type"] ?? "").startsWith("text/event-stream"))
        return done({ status, headers, body: "" });
      if (len !== undefined && body.length >= Number(len))
        return done({ status, headers, body: body.subarray(0, Number(len)).toString("utf8") });
      if (ended) return done({ status, headers, body: body.toString("utf8") });
    };
    c.on("data", (d) => {
      buf = Buffer.concat([buf, d]);
      tryParse(false);
    });
    c.on("end", () => tryParse(true));
    c.on("error", () => tryParse(true));
    c.write(request);
  });
}

const hex = fc.integer({ min: 0, max: 255 }).map((n) => "%" + n.toString(16).toUpperCase().padStart(2, "0"));
const segment = fc.oneof(
  fc.constantFrom(
    "v1",
    "vms",
    "console",
    "start",
    "pause",
    "resume",
    "shutdown",
    "kill",
    "stats",
    "events",
    "metrics",
    "openapi.json",
    "..",
    ".",
    "",
    "nope",
    "vm-1",
  ),
  fc.string({ maxLength: 12 }).map((s) => encodeURIComponent(s)),
  fc.constantFrom("%", "%E0%A4%A", "%ZZ", "%00", "%2F", "%C0%AF", "%FF%FE", "%u0041", "[", "]", "@", ":"),
  fc.array(hex, { minLength: 1, maxLength: 4 }).map((a) => a.join("")),
);
const query = fc.option(
  fc
    .array(
      fc.tuple(
        fc.constantFrom("start", "force", "timeoutSeconds", "mode", "vm", "x", ""),
        fc.oneof(
          fc.constantFrom("true", "false", "1", "0", "", "read", "write", "abc", "-1", "99999", "%", "%E0"),
          fc.string({ maxLength: 8 }).map(encodeURIComponent),
        ),
      ),
      { maxLength: 3 },
    )
    .map((kv) => "?" + kv.map(([k, v]) => `${k}=${v}`).join("&")),
  { nil: "" },
);
const target = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(fc.array(segment, { maxLength: 5 }), query).map(([s, q]) => "/" + s.join("/") + q) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      "*",
      "//[x",
      "//",
      "///v1/vms",
      "http://x/v1/vms",
      "/v1/vms/a%2Fb/console",
      "/v1/vms/" + "a".repeat(5000),
    ),
  },
);
const method = fc.constantFrom("GET", "POST", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS", "FOO");
const json = fc.oneof(
  fc.json({ maxDepth: 3 }),
  fc
    .record(
      {
        name: fc.string({ maxLength: 10 }),
        memoryMiB: fc.oneof(fc.integer(), fc.double()),
        cpus: fc.integer(),
        kernel: fc.constantFrom("/etc/passwd", "rel", join(files, "kernel"), ""),
        disks: fc.array(fc.record({ path: fc.string(), readOnly: fc.boolean() }), { maxLength: 2 }),
      },
      { requiredKeys: [] },
    )
    .map((o) => JSON.stringify(o)),
);
const body = fc.oneof(
  fc.constant(""),
  json,
  fc.string({ maxLength: 40 }),
  fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b).toString("latin1")),
);
const headers = fc.record({
  upgrade: fc.boolean(),
  contentType: fc.constantFrom(
    undefined,
    "application/json",
    "text/plain",
    "application/json; charset=utf-8",
    "application/jsonx",
  ),
  extra: fc.option(fc.tuple(fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,10}$/), fc.string({ maxLength: 20 })), {
    nil: undefined,
  }),
  auth: fc.option(fc.constantFrom("Bearer x", "Basic abc", "Bearer "), { nil: undefined }),
});

function build(
  m: string,
  t: string,
  h: {
    upgrade: boolean;
    contentType: string | undefined;
    extra: [string, string] | undefined;
    auth: string | undefined;
  },
  b: string,
): Buffer {
  const bytes = Buffer.from(b, "latin1");
  let head = `${m} ${t} HTTP/1.1\r\nHost: x\r\nConnection: ${h.upgrade ? "Upgrade" : "close"}\r\n`;
  if (h.upgrade)
    head += "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
  if (h.contentType) head += `Content-Type: ${h.contentType}\r\n`;
  if (h.extra) head += `${h.extra[0]}: ${h.extra[1]}\r\n`;
  if (h.auth) head += `Authorization: ${h.auth}\r\n`;
  if (bytes.length) head += `Content-Length: ${bytes.length}\r\n`;
  return Buffer.concat([Buffer.from(head + "\r\n", "latin1"), bytes]);
}

let requests = 0;
test("random requests: never a 5xx, every error a JSON {error}, the daemon keeps serving", async () => {
  await fc.assert(
    fc.asyncProperty(method, target, headers, body, async (m, t, h, b) => {
      requests++;
      const a = await exchange(build(m, t, h, b));
      assert.ok(a.status < 500, `${m} ${t}: ${a.status} ${a.body}`);
      if (a.status >= 400 && m !== "HEAD") {
        assert.match(a.headers["content-type"] ?? "", /^application\/json/, `${m} ${t}`);
        assert.equal(typeof (JSON.parse(a.body) as { error: unknown }).error, "string");
      }
    }),
    params(300),
  );
  assert.equal((await call(env.ep, "GET", "/v1/vms")).status, 200);
  process.stderr.write(`# ${requests} random requests\n`);
});

// A valid spec, as the schema (src/control/VmSpec.ts) allows it.
const name = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,20}$/);
const validSpec = fc.record(
  {
    name,
    engine: fc.constantFrom("interp", "dbt"),
    kernel: fc.constant(join(files, "kernel")),
    initrd: fc.constant(join(files, "initrd")),
    bios: fc.constant(join(files, "bios")),
    append: fc.string({ maxLength: 100 }),
    memoryMiB: fc.integer({ min: 16, max: 256 }),
    cpus: fc.integer({ min: 1, max: 8 }),
    disks: fc.array(
      fc.record({
        path: fc.constantFrom(join(files, "d0.img"), join(files, "d1.img")),
        readOnly: fc.boolean(),
        overlay: fc.boolean(),
      }),
      { maxLength: 6 },
    ),
    network: fc.record(
      { switch: name, mac: fc.constantFrom("52:54:00:12:34:56", "02:00:00:00:00:01") },
      { requiredKeys: ["switch"] },
    ),
    cpuQuota: fc.double({ min: 0.05, max: 1, noNaN: true }),
  },
  { requiredKeys: ["name", "kernel"] },
);

test("the spec validator: random JSON gets 201 or a 4xx JSON error; a valid spec round-trips", async () => {
  let created = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.jsonValue({ maxDepth: 3 }),
        validSpec,
        validSpec.chain((s) =>
          fc
            .record({ key: fc.constantFrom(...Object.keys(s), "colour"), value: fc.jsonValue({ maxDepth: 1 }) })
            .map(({ key, value }) => ({ ...s, [key]: value })),
        ),
      ),
      async (spec) => {
        const r = await call(env.ep, "POST", "/v1/vms", spec);
        assert.ok(r.status === 201 || (r.status >= 400 && r.status < 500), `${r.status} ${r.text}`);
        if (r.status !== 201) {
          assert.equal(typeof (r.body as { error: unknown }).error, "string");
          return;
        }
        created++;
        const back = r.body as { id: string; spec: Record<string, unknown> };
        const got = (await call(env.ep, "GET", `/v1/vms/${back.id}`)).body as { spec: Record<string, unknown> };
        assert.deepEqual(got.spec, back.spec, "what the daemon stored is what it answered");
        // Everything the client gave comes back unchanged; the rest are the schema's defaults.
        // (through JSON: fast-check's records may have a null prototype)
        for (const [k, v] of Object.entries(JSON.parse(JSON.stringify(spec)) as Record<string, unknown>)) {
          if (k === "disks")
            assert.deepEqual(
              got.spec[k],
              (v as object[]).map((d) => ({ readOnly: false, overlay: false, ...d })),
            );
          else assert.deepEqual(got.spec[k], v, k);
        }
        assert.equal(got.spec["arch"], "riscv64");
        assert.equal((await call(env.ep, "DELETE", `/v1/vms/${back.id}`)).status, 204);
      },
    ),
    params(300),
  );
  assert.ok(created > 0, "some specs were valid");
  process.stderr.write(`# ${created} valid specs round-tripped\n`);
});
