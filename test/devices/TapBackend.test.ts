// virtio-net over a real Linux TAP device: the host kernel answers the guest's ARP request, which
// makes the host's network stack the reference for frames in both directions. Skips (with the
// reason) where TAP is not available: not root, no /dev/net/tun, no python3 or ip.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { TapBackend } from "../../src/devices/net/TapBackend.js";
import { VirtioNet, VIRTIO_NET_F_MAC, VIRTIO_NET_HDR_LEN } from "../../src/devices/virtio/VirtioNet.js";
import { parseMac } from "../../src/devices/net/NetBackend.js";
import { bit } from "../../src/devices/virtio/VirtioDevice.js";
import { makeGuest, rig } from "./helpers.js";
import { gpa } from "../../src/memory/Address.js";

function why(): string {
  if (process.getuid?.() !== 0) return "TAP needs root";
  if (!existsSync("/dev/net/tun")) return "no /dev/net/tun";
  try {
    execFileSync("python3", ["-c", "pass"]);
  } catch {
    return "python3 not installed";
  }
  try {
    execFileSync("ip", ["-V"]);
  } catch {
    return "ip (iproute2) not installed";
  }
  return "";
}

test("virtio-net on a TAP device: the host kernel answers the guest's ARP request", async (t) => {
  const reason = why();
  if (reason) {
    t.skip(reason);
    return;
  }
  const name = `tvtap${process.pid % 100000}`;
  let tap: TapBackend;
  try {
    tap = await TapBackend.open(name);
  } catch (e) {
    t.skip(`TAP not usable here: ${(e as Error).message}`);
    return;
  }
  t.after(() => tap.close());
  execFileSync("ip", ["addr", "add", "10.213.77.1/24", "dev", tap.ifname]);
  execFileSync("ip", ["link", "set", "dev", tap.ifname, "up"]);
  const mac = parseMac("52:54:00:77:00:02");
  const r = rig(makeGuest(), (m) => new VirtioNet(m, tap, { mac }));
  r.drv.init(bit(VIRTIO_NET_F_MAC), 2);
  const rxq = r.drv.queues[0]!,
    txq = r.drv.queues[1]!;
  const bufs: number[] = [];
  for (let i = 0; i < 32; i++) {
    const b = r.drv.alloc.alloc(1526);
    bufs.push(b);
    rxq.add([], [{ addr: b, len: 1526 }]);
  }
  rxq.kick();
  // ARP request: who has 10.213.77.1? tell 10.213.77.2 (RFC 826).
  const f = new Uint8Array(VIRTIO_NET_HDR_LEN + 42);
  const e = f.subarray(VIRTIO_NET_HDR_LEN);
  e.fill(0xff, 0, 6);
  e.set(mac, 6);
  e[12] = 0x08;
  e[13] = 0x06;
  e.set([0, 1, 8, 0, 6, 4, 0, 1], 14);
  e.set(mac, 22);
  e.set([10, 213, 77, 2], 28);
  e.set([10, 213, 77, 1], 38);
  const tb = r.drv.alloc.alloc(f.length);
  r.mem.write(gpa(tb), f);
  txq.add([{ addr: tb, len: f.length }], []);
  txq.kick();
  let reply: Uint8Array | null = null;
  for (let i = 0; i < 200 && !reply; i++) {
    await new Promise((res) => setTimeout(res, 10));
    r.drv.handleInterrupt();
    let u;
    while ((u = rxq.getUsed())) {
      const fr = r.mem.read(gpa(bufs[u.id]! + VIRTIO_NET_HDR_LEN), u.len - VIRTIO_NET_HDR_LEN);
      if (fr[12] === 0x08 && fr[13] === 0x06 && fr[21] === 2) reply = fr;
    }
  }
  assert.ok(reply, "ARP reply from the host kernel");
  assert.deepEqual([...reply.subarray(0, 6)], [...mac], "addressed to the guest's MAC");
  assert.deepEqual([...reply.subarray(28, 32)], [10, 213, 77, 1], "sender IP is the host side of the TAP");
});
