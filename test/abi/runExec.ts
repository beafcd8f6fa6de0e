// Runs `typevisor exec ARGS...` in this process through the command module alone, so the ABI tests
// do not depend on every other subcommand importing cleanly. Used as: node runExec.js ARGS...
import { command } from "../../src/cli/commands/exec.js";
import { UsageError } from "../../src/cli/Command.js";

try {
  process.exitCode = await command.run(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`typevisor: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = e instanceof UsageError ? e.status : 70;
}
