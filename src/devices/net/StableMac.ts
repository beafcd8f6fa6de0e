// Stable MAC addresses for the CLI and the daemon (host-side: sha256 from node:crypto; the core's
// NetBackend.ts stays free of Node built-ins for the browser build).
import { createHash } from "node:crypto";
import { formatMac } from "./NetBackend.js";

/**
 * A MAC derived from `seed` (e.g. the VM's name and NIC index), so a VM keeps its MAC, and with it
 * its DHCP lease, across starts. 52:54:00 is the prefix QEMU uses; the locally administered bit of
 * 0x52 is set and the multicast bit clear (IEEE 802-2014 §8.2.2).
 */
export function stableMac(seed: string): string {
  const h = createHash("sha256").update(seed).digest();
  return formatMac(Uint8Array.of(0x52, 0x54, 0x00, h[0]!, h[1]!, h[2]!));
}
