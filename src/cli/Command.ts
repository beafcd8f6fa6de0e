// The shape every `typevisor` subcommand has: a name, a one-line summary, a usage text for `--help`,
// and a run function that returns the process exit status. Argument parsing uses Node's own
// util.parseArgs (no dependency for what Node already does).
import { parseArgs, type ParseArgsConfig } from "node:util";

export interface Command {
  readonly name: string;
  readonly summary: string;
  /** Full help text printed by `typevisor NAME --help`. */
  readonly usage: string;
  run(argv: string[]): Promise<number>;
}

/** A user error: printed as `typevisor: message` without a stack trace, exit status 2 by default. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly status = 2,
  ) {
    super(message);
    this.name = "UsageError";
  }
}

type Options = NonNullable<ParseArgsConfig["options"]>;

/**
 * parseArgs with errors turned into UsageError naming the command, so that a wrong flag gets
 * "typevisor run: unknown option '--foo' (see typevisor run --help)".
 */
export function parseCommandArgs<O extends Options>(
  command: string,
  argv: string[],
  options: O,
  allowPositionals = true,
): ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: boolean; strict: true }>> {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (e) {
    const msg = e instanceof Error ? e.message.replace(/\. To specify a positional argument.*$/s, "") : String(e);
    throw new UsageError(`${command}: ${msg} (see 'typevisor ${command} --help')`);
  }
}

/** Parses a size such as 512M, 1G, 65536 or 64K into bytes. */
export function parseSize(text: string, what: string): number {
  const m = /^(\d+)([KMGTkmgt]i?[Bb]?)?$/.exec(text.trim());
  if (!m) throw new UsageError(`${what}: '${text}' is not a size (examples: 512M, 1G, 65536)`);
  const n = Number(m[1]);
  const unit = (m[2] ?? "").charAt(0).toUpperCase();
  const mult = unit === "K" ? 1024 : unit === "M" ? 1024 ** 2 : unit === "G" ? 1024 ** 3 : unit === "T" ? 1024 ** 4 : 1;
  return n * mult;
}
