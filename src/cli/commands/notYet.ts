// A placeholder for a subcommand whose issue has not landed: it answers --help and says plainly
// that it does not work yet, with a non-zero status. Replaced by the real command file.
import type { Command } from "../Command.js";
import { UsageError } from "../Command.js";

export function notYet(name: string, summary: string, usage: string, issue: number): Command {
  return {
    name,
    summary: `${summary} (not available yet)`,
    usage,
    async run() {
      throw new UsageError(`${name}: not available in this build yet (tracked as issue #${issue})`, 1);
    },
  };
}
