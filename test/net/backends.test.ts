// Network backends without a guest: QEMU's stream framing, the cross-process virtual switch, and
// passt answering a real DHCP discover (the same frames a guest's udhcpc sends).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, connect, type Socket } from "node:net";
import { chmodSync, mkdtempSync, rmSync, existsSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { FrameStream } from "../../src/devices/net/FrameStream.js";
import { SocketSwitchPort } from "../../src/devices/net/SocketSwitch.js";
import { PasstBackend } from "../../src/devices/net/PasstBackend.js";
import type { NetEndpoint } from "../../src/devices/net/NetBackend.js";
import { parseNetFlags } from "../../src/cli/NetOption.js";

function socketPair(path: string): Promise<[Socket, Socket]> {
  return new Promise((resolve) => {
    const server = createServer((a) => {
      server.close();
      resolve([a, b]);
    });
    let b: Socket;
    server.listen(path, () => (b = connect(path)));
  });
}

function frame(dst: number, src: number, fill: number, len = 60): Uint8Array {
  const f = new Uint8Array(len).fill(fill);
  f.set([0x52, 0x54, 0, 0, 0, dst], 0);
  f.set([0x52, 0x54, 0, 0, 0, src], 6);
  return f;
}

const until = async (what: string, ok: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

test("stream framing: 4-byte big-endian lengths, frames split across reads, oversized lengths end the stream", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tv-fs-"));
  try {
    const [a, b] = await socketPair(join(dir, "s"));
    const got: number[] = [];
    let ended = "";
    new FrameStream(
      a,
      (f) => (got.push(f.length), true),
      (r) => (ended = r),
    );
    // Two frames written byte by byte: the reader must reassemble them.
    const wire = Buffer.concat([
      Buffer.from([0, 0, 0, 60]),
      Buffer.alloc(60, 1),
      Buffer.from([0, 0, 0, 100]),
      Buffer.alloc(100, 2),
    ]);
    for (const byte of wire) b.write(Buffer.from([byte]));
    await until("two frames", () => got.length === 2);
    assert.deepEqual(got, [60, 100]);
    b.write(Buffer.from([0x7f, 0xff, 0xff, 0xff]));
    await until("the stream to end", () => ended !== "");
    assert.match(ended, /protocol error|closed/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a full send queue drops frames and counts them instead of buffering without bound", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tv-fs-"));
  try {
    const [a, b] = await socketPair(join(dir, "s"));
    b.pause(); // the peer reads nothing
    const s = new FrameStream(
      a,
      () => true,
      () => {},
      64 * 1024,
    );
    for (let i = 0; i < 10_000; i++) s.send(new Uint8Array(1500));
    assert.ok(s.stats.txDropped > 0, "frames were dropped");
    assert.ok(a.writableLength < 64 * 1024 + 2000, `queued ${a.writableLength} bytes`);
    s.close();
    b.destroy();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the socket switch: the first port hosts it, others join, and a new host is elected when it leaves", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tv-sw-"));
  const path = join(dir, "lan.sock");
  try {
    const ports = [
      await SocketSwitchPort.open(path),
      await SocketSwitchPort.open(path),
      await SocketSwitchPort.open(path),
    ];
    assert.deepEqual(
      ports.map((p) => p.hosting),
      [true, false, false],
    );
    const rx: Uint8Array[][] = [[], [], []];
    ports.forEach((p, i) =>
      p.attach({ mac: new Uint8Array(6), receive: (f) => (rx[i]!.push(f.slice()), true) } satisfies NetEndpoint),
    );
    // Broadcast from a peer reaches the host and the other peer; learned unicast goes to one port.
    const bc = frame(0, 2, 7);
    bc.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 0);
    ports[1]!.send(bc);
    await until("the broadcast", () => rx[0]!.length === 1 && rx[2]!.length === 1);
    ports[2]!.send(frame(2, 3, 8));
    await until("the unicast", () => rx[1]!.length === 1);
    assert.equal(rx[1]![0]![20], 8);
    assert.equal(rx[0]!.length, 1, "unicast to a learned MAC is not flooded");
    // The host leaves: the two others elect a new host and still reach each other.
    await ports[0]!.close();
    await until("a new host", () => ports[1]!.hosting || ports[2]!.hosting);
    const before = rx[2]!.length;
    await until("frames to flow again", () => {
      ports[1]!.send(bc);
      return rx[2]!.length > before;
    });
    await Promise.all(ports.slice(1).map((p) => p.close()));
    assert.equal(existsSync(path), false, "the last host removes the socket");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("--net flags: QEMU hostfwd syntax, several NICs with stable distinct MACs, errors name the flag", () => {
  const nics = parseNetFlags(
    "run",
    ["user,hostfwd=tcp::2222-:22,hostfwd=udp:0.0.0.0:5353-:53", "switch:lan", "tap:tv0,mac=52:54:00:00:00:09"],
    [],
    "vm1",
  );
  assert.deepEqual(nics[0], {
    kind: "user",
    mac: nics[0]!.mac,
    hostfwd: [
      { proto: "tcp", hostAddr: "127.0.0.1", hostPort: 2222, guestPort: 22 },
      { proto: "udp", hostAddr: "0.0.0.0", hostPort: 5353, guestPort: 53 },
    ],
  });
  assert.equal(nics[1]!.kind, "switch");
  assert.equal(nics[2]!.mac, "52:54:00:00:00:09");
  assert.notEqual(nics[0]!.mac, nics[1]!.mac);
  assert.deepEqual(
    parseNetFlags("run", ["user"], [], "vm1")[0]!.mac,
    nics[0]!.mac,
    "the MAC is derived from the VM's name",
  );
  assert.deepEqual(parseNetFlags("start", undefined, ["user"], "x").length, 1);
  assert.deepEqual(parseNetFlags("start", ["none"], ["user"], "x"), []);
  assert.throws(
    () => parseNetFlags("run", ["user,hostfwd=tcp:2222:22"], [], "v"),
    /--net user,hostfwd=tcp:2222:22: .*PROTO:\[ADDR\]:HOSTPORT-:GUESTPORT/,
  );
  assert.throws(() => parseNetFlags("run", ["switch:"], [], "v"), /--net switch:: switch name/);
  assert.throws(() => parseNetFlags("run", ["user,mac=53:00:00:00:00:01"], [], "v"), /multicast/);
  assert.throws(() => parseNetFlags("run", ["none", "user"], [], "v"), /--net none cannot be combined/);
  assert.throws(() => parseNetFlags("run", ["slirp"], [], "v"), /'slirp' is not a network backend \(forms: --net user/);
});

const hasPasst = spawnSync("passt", ["--version"]).error === undefined;

/** A DHCPDISCOVER from `mac` as udhcpc sends it (RFC 2131 §4.4.1, RFC 2132 option 53). */
function dhcpDiscover(mac: Uint8Array): Uint8Array {
  const bootp = new Uint8Array(240 + 4);
  bootp.set([1, 1, 6, 0]); // BOOTREQUEST, Ethernet, hlen 6
  bootp.set([0x12, 0x34, 0x56, 0x78], 4); // xid
  bootp.set([0x80, 0], 10); // broadcast flag
  bootp.set(mac, 28);
  bootp.set([99, 130, 83, 99], 236); // magic cookie
  bootp.set([53, 1, 1, 255], 240); // DHCPDISCOVER, end
  const udp = new Uint8Array(8 + bootp.length);
  new DataView(udp.buffer).setUint16(0, 68);
  new DataView(udp.buffer).setUint16(2, 67);
  new DataView(udp.buffer).setUint16(4, udp.length);
  udp.set(bootp, 8);
  const ip = new Uint8Array(20 + udp.length);
  const v = new DataView(ip.buffer);
  ip[0] = 0x45;
  v.setUint16(2, ip.length);
  ip[8] = 64;
  ip[9] = 17;
  ip.set([255, 255, 255, 255], 16);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += v.getUint16(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  v.setUint16(10, ~sum & 0xffff);
  ip.set(udp, 20);
  const eth = new Uint8Array(14 + ip.length);
  eth.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
  eth.set(mac, 6);
  eth.set([0x08, 0x00], 12);
  eth.set(ip, 14);
  return eth;
}

test(
  "passt answers a DHCP discover with an offer for the guest's MAC, and ends with the backend",
  { skip: !hasPasst && "passt is not installed (apt-get install passt)" },
  async () => {
    const runtime = mkdtempSync(join(tmpdir(), "tv-passt-"));
    chmodSync(runtime, 0o755); // passt started by root runs as nobody, which must reach its directory
    try {
      const b = await PasstBackend.start({
        runtimeDir: runtime,
        hostfwd: [{ proto: "tcp", hostAddr: "127.0.0.1", hostPort: 0 + 40000 + (process.pid % 20000), guestPort: 80 }],
      });
      const dirs = () => spawnSync("ls", [runtime]).stdout.toString().trim();
      const priv = join(runtime, dirs());
      assert.equal(statSync(priv).mode & 0o777, 0o700, "the socket lives in a private directory");
      const mac = Uint8Array.of(0x52, 0x54, 0, 0x12, 0x34, 0x56);
      const got: Uint8Array[] = [];
      b.attach({ mac, receive: (f) => (got.push(f.slice()), true) });
      // Retry: passt may still be setting up when the first discover arrives.
      await until(
        "a DHCP offer",
        () => {
          if (got.length === 0) b.send(dhcpDiscover(mac));
          return got.some((f) => f[12] === 0x08 && f[13] === 0 && f[14 + 9] === 17 && f[14 + 20 + 8 + 0] === 2);
        },
        10_000,
      );
      const offer = got.find((f) => f[14 + 20 + 8] === 2)!;
      assert.deepEqual([...offer.subarray(0, 6)], [...mac], "addressed to the guest");
      assert.deepEqual([...offer.subarray(14 + 28 + 28, 14 + 28 + 34)], [...mac], "chaddr is the guest's MAC");
      await b.close();
      assert.equal(dirs(), "", "the private directory is removed");
    } finally {
      rmSync(runtime, { recursive: true, force: true });
    }
  },
);

test("a missing passt says which package to install", async () => {
  await assert.rejects(PasstBackend.start({ passt: "/nonexistent/passt" }), /apt-get install passt/);
});
