// The --net flag of `run` and `start`: QEMU-like syntax translated into the MachineSpec's NICs.
//
//   --net none
//   --net user[,hostfwd=tcp:[ADDR]:HOSTPORT-:GUESTPORT]...[,mac=MAC]   (also udp:; QEMU's -nic user form)
//   --net switch:NAME[,mac=MAC]
//   --net tap:IFNAME[,mac=MAC]
//
// Each --net is one NIC (eth0, eth1, ... in order). Without mac=, the MAC is derived from the VM's
// name and the NIC's index, so a VM keeps its addresses across starts.
import { isIP } from "node:net";
import { UsageError } from "./Command.js";
import type { HostForward, NicSpec } from "../vmm/MachineSpec.js";
import { parseMac } from "../devices/net/NetBackend.js";
import { stableMac } from "../devices/net/StableMac.js";

export const NET_FLAG_USAGE = `  --net user[,hostfwd=tcp:[ADDR]:HOSTPORT-:GUESTPORT][,mac=MAC]
                           a NIC with user-mode NAT through passt (no root needed): DHCP, DNS,
                           outbound TCP/UDP; the host's 127.0.0.1 is the gateway address. hostfwd
                           (repeatable, also udp:) forwards host port HOSTPORT on ADDR (default
                           127.0.0.1) to the guest's GUESTPORT, e.g. hostfwd=tcp::8080-:80
  --net switch:NAME        a NIC on virtual switch NAME, shared with the other VMs on it
  --net tap:IFNAME         a NIC on host TAP interface IFNAME (needs root or CAP_NET_ADMIN)
  --net none               no NIC
                           Each --net adds one NIC (eth0, eth1, ...); add ,mac=52:54:00:12:34:56 to
                           choose its MAC (default: derived from the VM's name, stable across starts)`;

const FORMS = "user[,hostfwd=tcp:[ADDR]:HOSTPORT-:GUESTPORT][,mac=MAC], switch:NAME, tap:IFNAME or none";
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

function bad(cmd: string, spec: string, why: string): UsageError {
  return new UsageError(`${cmd}: --net ${spec}: ${why} (forms: --net ${FORMS})`);
}

function port(cmd: string, spec: string, s: string, what: string): number {
  const n = Number(s);
  if (!/^\d+$/.test(s) || n < 1 || n > 65535) throw bad(cmd, spec, `${what} '${s}' is not a port number (1-65535)`);
  return n;
}

/** QEMU's hostfwd=PROTO:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT (also PROTO:HOSTPORT-:GUESTPORT). */
export function parseHostForward(cmd: string, spec: string, value: string): HostForward {
  const m = /^(tcp|udp):(?:(\[[0-9a-fA-F:.]*\]|[0-9.]*):)?(\d+)-(?:([0-9.]*):)?(\d+)$/.exec(value);
  if (!m) throw bad(cmd, spec, `hostfwd=${value} is not PROTO:[ADDR]:HOSTPORT-:GUESTPORT, e.g. hostfwd=tcp::2222-:22`);
  const hostAddr = (m[2] ?? "").replace(/^\[|\]$/g, "") || "127.0.0.1";
  if (isIP(hostAddr) === 0) throw bad(cmd, spec, `hostfwd address '${hostAddr}' is not an IP address`);
  if (m[4])
    throw bad(cmd, spec, `hostfwd to guest address ${m[4]}: leave it out (the guest has one address, given by DHCP)`);
  return {
    proto: m[1] as "tcp" | "udp",
    hostAddr,
    hostPort: port(cmd, spec, m[3]!, "host port"),
    guestPort: port(cmd, spec, m[5]!, "guest port"),
  };
}

/**
 * Translates the --net flags into NICs. `defaults` is what no --net means (start: one user NIC,
 * run: none); `vmName` seeds the derived MACs (undefined: MACs not given stay "", for the daemon
 * to derive).
 */
export function parseNetFlags(
  cmd: string,
  flags: readonly string[] | undefined,
  defaults: readonly string[],
  vmName: string | undefined,
): NicSpec[] {
  const list = flags && flags.length > 0 ? flags : defaults;
  if (list.includes("none")) {
    if (list.length > 1) throw new UsageError(`${cmd}: --net none cannot be combined with other --net flags`);
    return [];
  }
  const macs = new Set<string>();
  return list.map((spec, index) => {
    const [head = "", ...opts] = spec.split(",");
    let mac: string | undefined;
    const hostfwd: HostForward[] = [];
    for (const o of opts) {
      if (o.startsWith("mac=")) {
        try {
          parseMac(o.slice(4));
        } catch (e) {
          throw bad(cmd, spec, (e as Error).message);
        }
        if (parseInt(o.slice(4, 6), 16) & 1)
          throw bad(cmd, spec, `mac ${o.slice(4)} is a multicast address (the first byte must be even)`);
        mac = o.slice(4).toLowerCase();
      } else if (o.startsWith("hostfwd=")) {
        if (head !== "user") throw bad(cmd, spec, "hostfwd= only applies to --net user");
        hostfwd.push(parseHostForward(cmd, spec, o.slice(8)));
      } else {
        throw bad(cmd, spec, `unknown option '${o}'`);
      }
    }
    mac ??= vmName === undefined ? "" : stableMac(`${vmName}/${index}`);
    if (mac && macs.has(mac)) throw bad(cmd, spec, `MAC ${mac} is used by another --net of this VM`);
    macs.add(mac);
    if (head === "user") return { kind: "user", mac, hostfwd };
    const colon = head.indexOf(":");
    const kind = colon < 0 ? head : head.slice(0, colon);
    const arg = colon < 0 ? "" : head.slice(colon + 1);
    if (kind === "switch") {
      if (!NAME_RE.test(arg))
        throw bad(cmd, spec, `switch name '${arg}' must be 1-63 letters, digits, '_', '.' or '-'`);
      return { kind: "switch", mac, name: arg };
    }
    if (kind === "tap") {
      if (!/^[A-Za-z0-9_.-]{1,15}$/.test(arg))
        throw bad(cmd, spec, `interface name '${arg}' must be 1-15 letters, digits, '_', '.' or '-'`);
      return { kind: "tap", mac, ifname: arg };
    }
    throw bad(cmd, spec, `'${head}' is not a network backend`);
  });
}
