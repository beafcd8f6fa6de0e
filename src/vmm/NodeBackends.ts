// The host backends of the Node front ends (`run`, `start`, the daemon's VM processes): disks are
// files (raw or under a copy-on-write overlay), NICs are passt, TAP or a switch the embedder owns,
// shares are host directories served by the 9P server. Kept out of MachineBuilder.ts so the builder
// builds for the browser (test/layering/BrowserCore.test.ts lists this file as host-specific).
import { statSync } from "node:fs";
import type { GuestMemory } from "../memory/GuestMemory.js";
import type { NetBackend } from "../devices/net/NetBackend.js";
import { openDisk } from "../devices/block/openDisk.js";
import { TapBackend } from "../devices/net/TapBackend.js";
import { PasstBackend } from "../devices/net/PasstBackend.js";
import { Virtio9p } from "../devices/virtio/Virtio9p.js";
import { P9Server } from "../devices/fs/P9Server.js";
import type { MachineBackends } from "./MachineBackends.js";

export interface NodeBackendOptions {
  /**
   * The wire to switch `name` for one NIC. The embedder owns switches: `run` shares them between
   * processes through a socket, the daemon carries frames between its VM processes.
   */
  openSwitch?: (name: string, nic: number) => Promise<NetBackend>;
  /** The passt binary (default "passt" on PATH). */
  passt?: string;
}

export function nodeBackends(opts: NodeBackendOptions = {}): MachineBackends {
  return {
    openDisk: (d) => openDisk({ path: d.path, readOnly: d.readOnly, overlay: d.overlay }),
    openNic(nic, index) {
      switch (nic.kind) {
        case "user":
          return PasstBackend.start({ hostfwd: nic.hostfwd, passt: opts.passt });
        case "tap":
          return TapBackend.open(nic.ifname);
        case "switch":
          if (!opts.openSwitch) throw new Error(`switch '${nic.name}': this front end has no virtual switches`);
          return opts.openSwitch(nic.name, index);
      }
    },
    openShare(sh) {
      if (!statSync(sh.path).isDirectory()) throw new Error("not a directory");
      const server = new P9Server(sh.path, { readOnly: sh.readOnly });
      return (m: GuestMemory) => new Virtio9p(m, server, sh.tag);
    },
  };
}
