// `typevisor dtb`: writes the device tree of a machine configuration, exactly the blob `run` would
// hand the guest with the same flags, so it can be checked with `dtc -I dtb -O dts`.
import { writeFileSync } from "node:fs";
import type { Command } from "../Command.js";
import { UsageError, parseCommandArgs } from "../Command.js";
import { MACHINE_FLAGS_USAGE, machineOptions, readMachineSpec } from "./run.js";
import { buildVirtDtb } from "../../vmm/VirtBoard.js";

const usage = `Usage: typevisor dtb [machine flags] -o FILE

Writes the flattened device tree (DTB) that 'typevisor run' would give the guest with the same
machine flags. Check it with: dtc -I dtb -O dts FILE

Options:
  -o, --output FILE        where to write the DTB (required)
${MACHINE_FLAGS_USAGE}`;

export const command: Command = {
  name: "dtb",
  summary: "write the device tree of a machine configuration",
  usage,
  async run(argv) {
    const { values } = parseCommandArgs(
      "dtb",
      argv,
      {
        ...machineOptions,
        output: { type: "string", short: "o" },
      },
      false,
    );
    if (!values.output) throw new UsageError("dtb: give the output file with -o FILE (see 'typevisor dtb --help')");
    const cfg = readMachineSpec("dtb", values, false);
    const dtb = buildVirtDtb(cfg);
    try {
      writeFileSync(values.output, dtb);
    } catch (e) {
      throw new UsageError(`dtb: cannot write '${values.output}': ${(e as Error).message}`, 1);
    }
    return 0;
  },
};
