// A learning Ethernet switch connecting the NICs of VMs on one host (IEEE 802.1D transparent
// bridging, reduced to its core): it learns which port each source MAC lives behind, forwards
// unicast frames to that port only, and floods broadcast, multicast and unknown destinations to
// every other port. A frame never goes back out of the port it came from.
import type { NetBackend, NetEndpoint } from "./NetBackend.js";
import { ETH_MIN_FRAME } from "./NetBackend.js";

const MAX_LEARNED = 4096;

export class SwitchPort implements NetBackend {
  endpoint: NetEndpoint | null = null;
  constructor(
    private readonly sw: VirtualSwitch,
    readonly id: number,
  ) {}
  attach(endpoint: NetEndpoint): void {
    this.endpoint = endpoint;
  }
  send(frame: Uint8Array): void {
    this.sw.forward(this, frame);
  }
  async close(): Promise<void> {
    this.sw.disconnect(this);
  }
}

export class VirtualSwitch {
  private ports: SwitchPort[] = [];
  private nextId = 0;
  /** MAC (as a 48-bit number) -> port. */
  private readonly table = new Map<number, SwitchPort>();
  /** Frames forwarded / flooded / dropped, for tests and `vm info`. */
  readonly stats = { forwarded: 0, flooded: 0, dropped: 0 };

  /** A new port; give it to a VirtioNet as its backend. */
  connect(): SwitchPort {
    const p = new SwitchPort(this, this.nextId++);
    this.ports.push(p);
    return p;
  }

  disconnect(p: SwitchPort): void {
    this.ports = this.ports.filter((x) => x !== p);
    for (const [mac, port] of this.table) if (port === p) this.table.delete(mac);
  }

  forward(from: SwitchPort, frame: Uint8Array): void {
    if (frame.length < ETH_MIN_FRAME) {
      this.stats.dropped++;
      return;
    }
    const src = mac48(frame, 6);
    // Learn only unicast sources (a multicast source address is bogus).
    if ((frame[6]! & 1) === 0 && this.table.get(src) !== from) {
      if (this.table.size >= MAX_LEARNED && !this.table.has(src)) this.table.clear(); // a MAC-flooding guest cannot grow us without bound
      this.table.set(src, from);
    }
    if ((frame[0]! & 1) === 0) {
      const to = this.table.get(mac48(frame, 0));
      if (to) {
        if (to !== from) {
          to.endpoint?.receive(frame);
          this.stats.forwarded++;
        }
        return;
      }
    }
    this.stats.flooded++;
    for (const p of this.ports) if (p !== from) p.endpoint?.receive(frame);
  }
}

function mac48(f: Uint8Array, o: number): number {
  return (
    f[o]! * 2 ** 40 + f[o + 1]! * 2 ** 32 + ((f[o + 2]! << 24) >>> 0) + (f[o + 3]! << 16) + (f[o + 4]! << 8) + f[o + 5]!
  );
}
