// `typevisor`: dispatches to the subcommands. Every subcommand answers `--help`.
import type { Command } from "./Command.js";
import { UsageError } from "./Command.js";
import { commands } from "./commands/index.js";

function overview(): string {
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
    process.stdout.write(overview() + "\n");
    return name === undefined ? 2 : 0;
  }
  if (name === "--version" || name === "-V") {
    process.stdout.write("typevisor 0.1.0\n");
    return 0;
  }
  const cmd: Command | undefined = commands.find((c) => c.name === name);
  if (!cmd) {
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
