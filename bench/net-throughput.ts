// TCP throughput guest -> host through user-mode networking: Typevisor's `--net user` (virtio-net to
// a passt process) against qemu-system-riscv64's `-netdev user` (its built-in slirp) with a
// virtio-net-device, the same kernel, initramfs and guest command, in the same run.
//
//   npx tsc -p . && node dist/bench/net-throughput.js [--mib 16] [--runs 2] [--engine dbt]
//
// The guest (the debian-riscv64 image's busybox) pipes `dd if=/dev/zero bs=64k` into `nc` to the
// gateway address, which both stacks map to the host's loopback; a Node listener on 127.0.0.1
// counts the bytes and times first byte to last. Prints MB/s per run, the medians and the host's
// load average (other processes share the CPU: the numbers are only comparable within one run).
import { spawn } from "node:child_process";
import { createServer, type AddressInfo, type Socket } from "node:net";
import { loadavg, cpus } from "node:os";
import { ensureImage } from "../src/images/index.js";
import { DEFAULT_ENGINE } from "../src/dbt/Engine.js";

const argv = process.argv.slice(2);
const opt = (name: string, dflt: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1]! : dflt);
const mib = Number(opt("--mib", "16"));
const runs = Number(opt("--runs", "2"));
const engine = opt("--engine", DEFAULT_ENGINE);

interface Sample {
  bytes: number;
  seconds: number;
}

/** Listens on 127.0.0.1; resolves with the first connection's byte count and first-to-last-byte time. */
async function listener(): Promise<{ port: number; result: Promise<Sample>; close: () => void }> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const result = new Promise<Sample>((resolve) => {
    server.once("connection", (s: Socket) => {
      let bytes = 0;
      let first = 0;
      let last = 0;
      s.on("data", (d: Buffer) => {
        last = performance.now();
        if (bytes === 0) first = last;
        bytes += d.length;
        // nc may not close on its stdin's EOF: the listener ends the connection once all arrived.
        if (bytes >= mib * 2 ** 20) s.destroy();
      });
      s.on("close", () => resolve({ bytes, seconds: (last - first) / 1000 }));
    });
  });
  return { port: (server.address() as AddressInfo).port, result, close: () => server.close() };
}

function guestCmd(port: number): string {
  return `gw=$(ip route | awk '/default/{print $3}'); dd if=/dev/zero bs=64k count=${mib * 16} 2>/dev/null | nc $gw ${port}; echo NET-DONE`;
}

async function measure(name: string, cmd: (port: number) => string[]): Promise<Sample> {
  const l = await listener();
  const child = spawn(cmd(l.port)[0]!, cmd(l.port).slice(1), { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.setEncoding("latin1").on("data", (d: string) => (out += d));
  child.stderr.setEncoding("latin1").on("data", (d: string) => (out += d));
  const timer = setTimeout(() => child.kill("SIGKILL"), 1800_000);
  const exited = new Promise<void>((r) => child.on("close", () => r()));
  const s = await Promise.race([l.result, exited.then(() => undefined)]);
  await exited;
  clearTimeout(timer);
  l.close();
  if (!s || s.bytes < mib * 2 ** 20) throw new Error(`${name}: the guest did not send ${mib} MiB\n${out.slice(-3000)}`);
  return s;
}

const mbps = (s: Sample) => s.bytes / 1e6 / s.seconds;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const img = await ensureImage("debian-riscv64", { quiet: true });
const append = (port: number) => `console=ttyS0 quiet tv.nodisk=1 tv.cmd="${guestCmd(port)}"`;
const machines: [string, (port: number) => string[]][] = [
  [
    `typevisor (${engine}) + passt`,
    (port) => [
      process.execPath,
      "bin/typevisor.js",
      "run",
      "--kernel",
      img.kernel,
      "--initrd",
      img.initrd,
      "--memory",
      "256M",
      "--engine",
      engine,
      "--net",
      "user",
      "--append",
      append(port),
    ],
  ],
  [
    "qemu-system-riscv64 + slirp",
    (port) => [
      "qemu-system-riscv64",
      "-M",
      "virt",
      "-m",
      "256M",
      "-nographic",
      "-bios",
      "default",
      "-kernel",
      img.kernel,
      "-initrd",
      img.initrd,
      "-netdev",
      "user,id=n0",
      "-device",
      "virtio-net-device,netdev=n0",
      "-append",
      append(port),
    ],
  ],
];
const results = new Map<string, number[]>();
console.log(
  `guest -> host TCP, ${mib} MiB per run, ${runs} run(s) each; host: ${cpus().length} cores, load average before ${loadavg()
    .map((x) => x.toFixed(1))
    .join(" ")}`,
);
for (let r = 0; r < runs; r++) {
  for (const [name, cmd] of machines) {
    const s = await measure(name, cmd);
    (results.get(name) ?? results.set(name, []).get(name)!).push(mbps(s));
    console.log(
      `run ${r + 1} ${name}: ${mbps(s).toFixed(2)} MB/s (${(s.bytes / 2 ** 20).toFixed(1)} MiB in ${s.seconds.toFixed(2)} s)`,
    );
  }
}
const [tv, qemu] = machines.map(([n]) => median(results.get(n)!));
console.log(
  `median: typevisor ${tv!.toFixed(2)} MB/s, qemu ${qemu!.toFixed(2)} MB/s, ratio typevisor/qemu ${(tv! / qemu!).toFixed(2)}`,
);
console.log(
  `load average after: ${loadavg()
    .map((x) => x.toFixed(1))
    .join(" ")}`,
);
