// The host side of a virtual NIC: whole Ethernet frames in both directions, nothing else. Backends:
// VirtualSwitch ports (VMs of one process), SocketSwitch (VMs of several processes), TapBackend (a
// Linux TAP device) and PasstBackend (user-mode NAT in a passt process). Each consumes frames the
// guest sends and calls endpoint.receive() with frames for the guest.

export interface NetEndpoint {
  /** The NIC's MAC address (6 bytes), for backends that need it (NAT: DHCP, ARP). */
  readonly mac: Uint8Array;
  /**
   * A frame for the guest. The endpoint copies it before returning, so the backend may reuse the
   * buffer. Returns false if the frame was dropped (guest not ready or receive queue full).
   */
  receive(frame: Uint8Array): boolean;
}

export interface NetBackend {
  /** Connects the NIC; called once. */
  attach(endpoint: NetEndpoint): void;
  /** A frame the guest transmitted. The backend must copy it if it keeps it past the call. */
  send(frame: Uint8Array): void;
  close(): Promise<void>;
}

/** Ethernet limits without offloads: 14-byte header + 1500 MTU + 4-byte 802.1Q tag. */
export const ETH_MIN_FRAME = 14;
export const ETH_MAX_FRAME = 1518;

export function formatMac(mac: Uint8Array): string {
  return Array.from(mac, (b) => b.toString(16).padStart(2, "0")).join(":");
}

export function parseMac(s: string): Uint8Array {
  const parts = s.split(":");
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p)))
    throw new Error(`"${s}" is not a MAC address like 52:54:00:12:34:56`);
  return Uint8Array.from(parts.map((p) => parseInt(p, 16)));
}
