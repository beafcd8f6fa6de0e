// The real reference for our devices: Debian's Linux 6.12 drivers (8250, virtio_mmio, virtio_blk,
// virtio_net, virtio_console with MULTIPORT, virtio_rng) running on Typevisor. One boot checks:
// ttyS0 is a 16550A; a block written to vda, flushed and re-read after dropping caches has the same
// checksum, and discard works (fstrim); the host reaches the guest through virtio-net on a TAP device
// (the guest kernel answers ARP) and the guest counts packets both ways; a named virtio-console port
// carries bytes both ways; /dev/hwrng reads.
// A boot takes minutes of CPU on the interpreter, so this runs only with
// TYPEVISOR_LINUX_DEVICE_TESTS=1 (and root + /dev/net/tun + python3 for the TAP), else it skips.
import { test } from "node:test";
import assert from "node:assert/strict";
import { appendFileSync, copyFileSync, existsSync } from "node:fs";
import { execFile, execFileSync } from "node:child_process";
import { createSocket } from "node:dgram";
import { join } from "node:path";
import { Vm } from "../../src/vmm/Vm.js";
import { readMachineSpec } from "../../src/cli/commands/run.js";
import { VirtioBlk } from "../../src/devices/virtio/VirtioBlk.js";
import { VirtioNet } from "../../src/devices/virtio/VirtioNet.js";
import { VirtioConsole } from "../../src/devices/virtio/VirtioConsole.js";
import { openDisk } from "../../src/devices/block/openDisk.js";
import { TapBackend } from "../../src/devices/net/TapBackend.js";
import { parseMac } from "../../src/devices/net/NetBackend.js";
import { MemoryBackend } from "../../src/devices/chardev/MemoryBackend.js";
import { tempDir } from "./helpers.js";
import type { GuestMemory } from "../../src/memory/GuestMemory.js";
import type { VirtioDevice } from "../../src/devices/virtio/VirtioDevice.js";

test(
  "Linux's own drivers work with our UART, virtio-blk, virtio-net (TAP), multiport console and rng",
  { timeout: 3_600_000 },
  async (t) => {
    if (process.env["TYPEVISOR_LINUX_DEVICE_TESTS"] !== "1")
      return t.skip("boots Linux (minutes of CPU): set TYPEVISOR_LINUX_DEVICE_TESTS=1 to run");
    if (process.getuid?.() !== 0 || !existsSync("/dev/net/tun"))
      return t.skip("needs root and /dev/net/tun for the TAP device");
    let img: { kernel: string; initrd: string; disk: string };
    try {
      const images = await import("../../src/images/index.js");
      img = await images.ensureImage("debian-riscv64", { quiet: true });
    } catch (e) {
      return t.skip(`Debian image not available: ${(e as Error).message.split("\n")[0]}`);
    }
    const dir = tempDir(t);
    const disk = join(dir, "disk.img");
    copyFileSync(img.disk, disk);
    let tap: TapBackend;
    try {
      tap = await TapBackend.open(`tvlnx${process.pid % 100000}`);
    } catch (e) {
      return t.skip(`TAP not usable: ${(e as Error).message}`);
    }
    t.after(() => tap.close());
    execFileSync("ip", ["addr", "add", "10.213.78.1/24", "dev", tap.ifname]);
    execFileSync("ip", ["link", "set", "dev", tap.ifname, "up"]);

    const cmd = [
      "dmesg | grep -E 'ttyS0 at|virtio_blk'",
      "ip link set eth0 up",
      "ip addr add 10.213.78.2/24 dev eth0",
      // Every step is bounded by `timeout`, so a failing device shows up as a missing marker, not a hang.
      // The host side probes the guest (UDP + ARP, answered by the guest kernel) while it waits here.
      // (The host probes the guest rather than the guest pinging: this checks the TAP path from the host side.)
      "sleep 20",
      "echo NET-RX $(cat /sys/class/net/eth0/statistics/rx_packets) NET-TX $(cat /sys/class/net/eth0/statistics/tx_packets)",
      // No udev in the initramfs: find the named port through sysfs instead of /dev/virtio-ports/NAME.
      "P=/dev/$(grep -l org.typevisor.agent /sys/class/virtio-ports/*/name | cut -d/ -f5)",
      "export P",
      "echo PORT $P",
      "timeout 60 sh -c 'echo agent-hello > $P'",
      "timeout 120 head -c 6 $P | sed 's/^/FROM-HOST:/'; echo",
      "dd if=/dev/urandom of=/mnt/blob bs=64k count=16 2>/dev/null",
      "sync",
      "A=$(md5sum < /mnt/blob | cut -c1-32)",
      "echo 3 > /proc/sys/vm/drop_caches",
      "B=$(md5sum < /mnt/blob | cut -c1-32)",
      "[ $A = $B ] && echo BLK-OK",
      "timeout 120 fstrim /mnt && echo TRIM-OK",
      "echo RNG $(cat /sys/class/misc/hw_random/rng_current) $(dd if=/dev/hwrng bs=16 count=1 2>/dev/null | od -An -tx1 | tr -d ' ')",
    ].join("; ");
    const cfg = readMachineSpec(
      "run",
      { kernel: img.kernel, initrd: img.initrd, memory: "256M", append: `console=ttyS0 tv.cmd="${cmd}"` },
      true,
    );
    const agent = new MemoryBackend();
    const blk = await openDisk({ path: disk });
    const virtio: ((m: GuestMemory) => VirtioDevice)[] = [
      (m) => new VirtioBlk(m, blk, { serial: "tv-linux-test" }),
      (m) => new VirtioNet(m, tap, { mac: parseMac("52:54:00:78:00:02") }),
      (m) => new VirtioConsole(m, [{ backend: new MemoryBackend() }, { backend: agent, name: "org.typevisor.agent" }]),
    ];
    const console = new MemoryBackend();
    // TYPEVISOR_TEST_CONSOLE_LOG=FILE mirrors the guest console to FILE while it runs (diagnosis).
    const mirror = process.env["TYPEVISOR_TEST_CONSOLE_LOG"];
    if (mirror) {
      const write = console.write.bind(console);
      console.write = (d) => {
        appendFileSync(mirror, d);
        write(d);
      };
    }
    const vm = new Vm({ config: cfg, virtio, console });
    // Answer the guest on the agent port once it has written to it.
    const timer = setInterval(() => {
      if (agent.text().includes("agent-hello")) {
        agent.input("hello!");
        clearInterval(timer);
      }
    }, 200);
    // Host -> guest traffic over the TAP: a UDP datagram makes the host kernel ARP for the guest; the
    // guest kernel's answer (through Linux's virtio_net and our device) lands in the host's neighbour table.
    let neighbour = "";
    const netTimer = setInterval(() => {
      const sock = createSocket("udp4");
      sock.on("error", () => sock.close());
      sock.send("typevisor", 9, "10.213.78.2", () => sock.close());
      execFile("ip", ["neigh", "show", "10.213.78.2", "dev", tap.ifname], (_e, out) => {
        if (/52:54:00:78:00:02/.test(out) && !/FAILED|INCOMPLETE/.test(out)) neighbour = out.trim();
      });
    }, 1000);
    // Never hang the suite: stop the VM if the guest is still running after 25 minutes.
    const guard = setTimeout(() => vm.stop(), 25 * 60_000);
    const exit = await vm.start();
    clearTimeout(guard);
    clearInterval(netTimer);
    clearInterval(timer);
    await blk.close();
    const all = console.text();
    // Only what the command printed: the boot log also echoes the kernel command line, which contains
    // every marker below, so the markers are matched at the start of a line after CMD-BEGIN.
    const begin = all.indexOf("TYPEVISOR-CMD-BEGIN");
    const out = begin >= 0 ? all.slice(begin) : "";
    const why = `--- command output ---\n${out.slice(0, 4000)}\n--- console tail ---\n${all.slice(-3000)}`;
    assert.equal(exit.reason, "poweroff", why);
    assert.match(out, /ttyS0 at MMIO 0x10000000 .* is a 16550A/, why);
    assert.match(out, /virtio_blk virtio\d+: \[vda\]/, why);
    assert.match(neighbour, /52:54:00:78:00:02/, `host never learned the guest's MAC over the TAP\n${why}`);
    assert.match(out, /^NET-RX [1-9]\d* NET-TX [1-9]/m, why);
    assert.match(out, /^PORT \/dev\/vport\d+p1/m, why);
    assert.match(agent.text(), /agent-hello/, why);
    assert.match(out, /^FROM-HOST:hello!/m, why);
    assert.match(out, /^BLK-OK/m, why);
    assert.match(out, /^TRIM-OK/m, why);
    assert.match(out, /^RNG virtio_rng\.\d+ [0-9a-f]{32}/m, why);
  },
);
