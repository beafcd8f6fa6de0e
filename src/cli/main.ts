// `typevisor`: dispatches to the subcommands. Every subcommand answers `--help`.
import type { Command } from "./Command.js";
import { UsageError } from "./Command.js";

/**
 * Every command module, loaded only when needed: `typevisor exec` starts once per short guest
 * program, and loading the other commands (the VM, the daemon, image building) would cost it
 * more than the program itself (issue 15).
 */
async function allCommands(): Promise<readonly Command[]> {
  return (await import("./commands/index.js")).commands;
}

/**
 * Commands loaded on their own: `run` (a snapshot restore should answer in well under a second,
 * issue 18, and loading the daemon's modules, ajv's schema compiler and sqlite cost it ~0.25 s of
 * CPU) and `exec`.
 */
const ALONE: Record<string, () => Promise<{ command: Command }>> = {
  exec: () => import("./commands/exec.js"),
  run: () => import("./commands/run.js"),
};

async function findCommand(name: string): Promise<Command | undefined> {
  const alone = Object.hasOwn(ALONE, name) ? ALONE[name] : undefined;
  if (alone) return (await alone()).command;
  return (await allCommands()).find((c) => c.name === name);
}

function overview(commands: readonly Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  const lines = commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return [
    "typevisor: a hypervisor written in TypeScript (RISC-V RV64GC software CPU, virtio devices, Linux guests)",
    "",
    "Usage: typevisor <command> [options]",
    "",
    "Commands:",
    ...lines,
    "",
    "Run 'typevisor <command> --help' for the options of a command.",
  ].join("\n");
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    if (name === "help" && rest[0]) return main([rest[0], "--help"]);
    process.stdout.write(overview(await allCommands()) + "\n");
    return name === undefined ? 2 : 0;
  }
  if (name === "--version" || name === "-V") {
    process.stdout.write("typevisor 0.1.0\n");
    return 0;
  }
  const cmd = await findCommand(name);
  if (!cmd) {
    const commands = await allCommands();
    process.stderr.write(`typevisor: unknown command '${name}'. Commands: ${commands.map((c) => c.name).join(", ")}\n`);
    return 2;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    // Only before a `--` separator (exec passes the rest to the guest program).
    const sep = rest.indexOf("--");
    const h = Math.max(rest.indexOf("--help"), rest.indexOf("-h"));
    if (sep < 0 || h < sep) {
      process.stdout.write(cmd.usage.trimEnd() + "\n");
      return 0;
    }
  }
  try {
    return await cmd.run(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`typevisor: ${e.message}\n`);
      return e.status;
    }
    throw e;
  }
}
