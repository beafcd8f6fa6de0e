// Where the daemon keeps its state: $TYPEVISOR_STATE, else $XDG_STATE_HOME/typevisor, else
// ~/.local/state/typevisor. The Unix socket lives there too, so client and daemon agree by default.
import { homedir } from "node:os";
import { join } from "node:path";

export function stateDir(): string {
  const env = process.env;
  if (env["TYPEVISOR_STATE"]) return env["TYPEVISOR_STATE"];
  const base = env["XDG_STATE_HOME"] || join(homedir(), ".local", "state");
  return join(base, "typevisor");
}

export function defaultSocket(): string {
  return process.env["TYPEVISOR_SOCKET"] || join(stateDir(), "typevisor.sock");
}
