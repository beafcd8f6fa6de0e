// The daemon <-> VM process channel: messages (with byte arrays) arrive intact and in order, and a
// peer that stops reading cannot make the sender buffer droppable messages without bound.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Socket } from "node:net";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MAX_BACKLOG, VmChannel, connectChannel } from "../../src/control/VmChannel.js";

type Msg = { t: string; data?: Uint8Array; n?: number };

async function pair(): Promise<{ a: VmChannel<Msg, Msg>; peer: Socket; close: () => void }> {
  const path = join(mkdtempSync(join(tmpdir(), "tv-chan-")), "s");
  const server = createServer();
  const accepted = new Promise<Socket>((r) => server.once("connection", r));
  await new Promise<void>((r) => server.listen(path, () => r()));
  const a = await connectChannel<Msg, Msg>(path);
  const peer = await accepted;
  return {
    a,
    peer,
    close: () => {
      a.close();
      peer.destroy();
      server.close();
    },
  };
}

test("messages with byte arrays arrive intact and in order, split anywhere", async () => {
  const { a, peer, close } = await pair();
  const b = new VmChannel<Msg, Msg>(peer);
  const got: Msg[] = [];
  for (let n = 0; n < 200; n++)
    a.send({ t: "console", n, data: Uint8Array.from({ length: n * 37 }, (_, i) => (i * n) & 255) });
  // Messages that arrive before the owner starts the channel are held, not lost.
  const first = await b.next(2000);
  assert.equal(first?.n, 0);
  await new Promise((r) => setTimeout(r, 50));
  got.push(first!);
  b.on("message", (m) => got.push(m));
  b.start();
  while (got.length < 200) await new Promise((r) => setTimeout(r, 5));
  got.forEach((m, n) => {
    assert.equal(m.n, n);
    assert.ok(m.data instanceof Uint8Array);
    assert.deepEqual(
      [...m.data!],
      Array.from({ length: n * 37 }, (_, i) => (i * n) & 255),
    );
  });
  close();
});

test("a peer that does not read: droppable messages stop queueing at MAX_BACKLOG and are counted", async () => {
  const { a, peer, close } = await pair();
  peer.pause(); // never reads
  const frame = new Uint8Array(64 * 1024);
  let sent = 0;
  for (let i = 0; i < 2000; i++) {
    if (a.sendDroppable({ t: "net", data: frame })) sent++;
    assert.ok(a.socket.writableLength <= MAX_BACKLOG + frame.length + 1024, `queued ${a.socket.writableLength}`);
    if (i % 50 === 0) await new Promise((r) => setImmediate(r));
  }
  assert.ok(a.dropped > 0, "dropped messages are counted");
  assert.ok(sent < 2000);
  close();
});
