// Socket addresses as the guest passes them (struct sockaddr_in, sockaddr_in6, sockaddr_un;
// include/uapi/linux/in.h, in6.h, un.h): decoded into host terms and encoded back. The family is
// in the guest's byte order (little-endian on riscv64), ports and IPv4/IPv6 addresses in network
// order, as everywhere.
import { Errno, fail } from "./Errno.js";

export const AF_UNSPEC = 0;
export const AF_UNIX = 1;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const AF_NETLINK = 16;

/** sizeof(struct sockaddr_un): family plus a 108-byte path (UNIX_PATH_MAX). */
export const SOCKADDR_UN_SIZE = 110;
const SOCKADDR_IN_SIZE = 16;
const SOCKADDR_IN6_SIZE = 28;

export type SockAddr =
  | { family: typeof AF_INET; host: string; port: number }
  | { family: typeof AF_INET6; host: string; port: number; flowinfo: number; scope: number }
  /**
   * path: the file system name; abstract: a name in the abstract namespace (sun_path[0] == 0);
   * neither: an unnamed socket (addrlen == sizeof(sa_family_t)), as unix(7) distinguishes them.
   */
  | { family: typeof AF_UNIX; path?: string; abstract?: string }
  | { family: typeof AF_UNSPEC };

/** Decodes len bytes of a guest sockaddr; EINVAL for a short or malformed one. */
export function decodeSockAddr(raw: Uint8Array): SockAddr {
  if (raw.length < 2) fail(Errno.EINVAL);
  const d = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const family = d.getUint16(0, true);
  switch (family) {
    case AF_UNSPEC:
      return { family };
    case AF_INET: {
      if (raw.length < SOCKADDR_IN_SIZE) fail(Errno.EINVAL);
      return { family, port: d.getUint16(2, false), host: Array.from(raw.subarray(4, 8)).join(".") };
    }
    case AF_INET6: {
      // Linux accepts the old 24-byte sockaddr_in6 without sin6_scope_id (SIN6_LEN_RFC2133).
      if (raw.length < 24) fail(Errno.EINVAL);
      return {
        family,
        port: d.getUint16(2, false),
        flowinfo: d.getUint32(4, false),
        host: ipv6Text(raw.subarray(8, 24)),
        scope: raw.length >= SOCKADDR_IN6_SIZE ? d.getUint32(24, true) : 0,
      };
    }
    case AF_UNIX: {
      if (raw.length > SOCKADDR_UN_SIZE) fail(Errno.EINVAL);
      if (raw.length === 2) return { family };
      const name = raw.subarray(2);
      if (name[0] === 0) return { family, abstract: Buffer.from(name.subarray(1)).toString("latin1") };
      const nul = name.indexOf(0);
      const path = Buffer.from(nul >= 0 ? name.subarray(0, nul) : name).toString("utf8");
      if (path === "") fail(Errno.EINVAL);
      return { family, path };
    }
    default:
      fail(Errno.EAFNOSUPPORT);
  }
}

/** Encodes an address the way Linux returns it (getsockname, accept, recvfrom). */
export function encodeSockAddr(a: SockAddr): Uint8Array {
  switch (a.family) {
    case AF_INET: {
      const b = new Uint8Array(SOCKADDR_IN_SIZE);
      const d = new DataView(b.buffer);
      d.setUint16(0, AF_INET, true);
      d.setUint16(2, a.port, false);
      b.set(ipv4Bytes(a.host), 4);
      return b;
    }
    case AF_INET6: {
      const b = new Uint8Array(SOCKADDR_IN6_SIZE);
      const d = new DataView(b.buffer);
      d.setUint16(0, AF_INET6, true);
      d.setUint16(2, a.port, false);
      d.setUint32(4, a.flowinfo, false);
      b.set(ipv6Bytes(a.host), 8);
      d.setUint32(24, a.scope, true);
      return b;
    }
    case AF_UNIX: {
      // Linux returns family + the name + its NUL for a path, family + NUL + name for an abstract
      // name, and the family alone for an unnamed socket (unix(7), "Address format").
      const name =
        a.path !== undefined
          ? Buffer.concat([Buffer.from(a.path, "utf8"), Buffer.from([0])])
          : a.abstract !== undefined
            ? Buffer.concat([Buffer.from([0]), Buffer.from(a.abstract, "latin1")])
            : Buffer.alloc(0);
      const b = new Uint8Array(2 + name.length);
      b[0] = AF_UNIX;
      b.set(name, 2);
      return b;
    }
    default:
      return new Uint8Array(2);
  }
}

function ipv4Bytes(host: string): number[] {
  const parts = host.split(".").map(Number);
  return parts.length === 4 && parts.every((n) => n >= 0 && n <= 255) ? parts : [0, 0, 0, 0];
}

/** RFC 4291 2.2 text (no zero compression needed: Node accepts the long form). */
function ipv6Text(b: Uint8Array): string {
  // An IPv4-mapped address (::ffff:a.b.c.d) is what Node reports for v4 peers of a v6 socket.
  if (b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff)
    return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push(((b[i]! << 8) | b[i + 1]!).toString(16));
  return words.join(":");
}

function ipv6Bytes(host: string): Uint8Array {
  const out = new Uint8Array(16);
  let h = host;
  const pct = h.indexOf("%");
  if (pct >= 0) h = h.slice(0, pct);
  let tail: number[] = [];
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(h);
  if (v4) {
    tail = ipv4Bytes(v4[1]!);
    h = h.slice(0, h.length - v4[1]!.length) + "0:0";
  }
  const [headText, tailText] = h.includes("::") ? h.split("::") : [h, undefined];
  const head = headText ? headText.split(":").filter((s) => s !== "") : [];
  const rest = tailText ? tailText.split(":").filter((s) => s !== "") : [];
  const words = [...head, ...Array<string>(Math.max(0, 8 - head.length - rest.length)).fill("0"), ...rest];
  for (let i = 0; i < 8; i++) {
    const w = parseInt(words[i] ?? "0", 16) || 0;
    out[i * 2] = w >> 8;
    out[i * 2 + 1] = w & 0xff;
  }
  if (tail.length === 4) out.set(tail, 12);
  return out;
}

/** A host address as Node reports it (family "IPv4"/"IPv6") in the socket's own family. */
export function inetAddr(domain: number, host: string | undefined, port: number | undefined): SockAddr {
  const h = host ?? (domain === AF_INET6 ? "::" : "0.0.0.0");
  if (domain === AF_INET6) {
    const v6 = h.includes(":") ? h : `::ffff:${h}`;
    return { family: AF_INET6, host: v6, port: port ?? 0, flowinfo: 0, scope: 0 };
  }
  const v4 = h.startsWith("::ffff:") ? h.slice(7) : h.includes(":") ? "0.0.0.0" : h;
  return { family: AF_INET, host: v4, port: port ?? 0 };
}
