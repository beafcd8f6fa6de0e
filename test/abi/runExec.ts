// Runs `typevisor exec ARGS...` in this process through the command module alone, so the ABI tests
// do not depend on every other subcommand importing cleanly. Used as: node runExec.js ARGS...
import { command } from "../../src/cli/commands/exec.js";
import { UsageError } from "../../src/cli/Command.js";

// Without arguments this file is only being loaded by `node --test dist/test/abi/` (which runs every
// .js file under test/): nothing to do then.
if (process.argv.length > 2) await main();

async function main(): Promise<void> {
  try {
    process.exitCode = await command.run(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`typevisor: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = e instanceof UsageError ? e.status : 70;
  }
}
