// The list of subcommands, in the order `typevisor --help` shows them. One file per command.
import type { Command } from "../Command.js";
import { command as start } from "./start.js";
import { command as run } from "./run.js";
import { command as runElf } from "./runElf.js";
import { command as exec } from "./exec.js";
import { command as image } from "./image.js";
import { command as dtb } from "./dtb.js";
import { command as serve } from "./serve.js";
import { command as vm } from "./vm.js";
import { command as web } from "./web.js";

export const commands: readonly Command[] = [start, run, exec, runElf, image, dtb, serve, vm, web];
