// Test helper: two identical machines (RAM with the translator's engine area) running the same
// assembled program, one with the binary translator attached.
import { GuestMemory } from "../../src/memory/GuestMemory.js";
import { IoBus } from "../../src/memory/IoBus.js";
import { Hart, PRIV_M } from "../../src/riscv/Hart.js";
import { attachDbt, DBT_ENGINE_BYTES, type Dbt, type DbtOptions } from "../../src/dbt/Dbt.js";
import { ManualTimer, RAM_BASE, assemble } from "../riscv/asm.js";
import { gpa } from "../../src/memory/Address.js";

export interface DbtMachine {
  memory: GuestMemory;
  bus: IoBus;
  hart: Hart;
  timer: ManualTimer;
  dbt: Dbt | undefined;
}

export function dbtMachine(
  code: Uint8Array,
  withDbt: boolean,
  opts: DbtOptions = { hotThreshold: 1 },
  ramSize = 4 << 20,
): DbtMachine {
  const memory = new GuestMemory({ base: RAM_BASE, size: ramSize, shared: false, engineBytes: DBT_ENGINE_BYTES });
  memory.write(gpa(RAM_BASE), code);
  const bus = new IoBus("test");
  bus.log = () => {};
  const timer = new ManualTimer();
  const hart = new Hart({ memory, bus, hartId: 0, timer });
  hart.priv = PRIV_M;
  hart.setPc(BigInt(RAM_BASE));
  const dbt = withDbt ? attachDbt(hart, opts) : undefined;
  return { memory, bus, hart, timer, dbt };
}

/** The program assembled once, loaded on a translating and an interpreting machine. */
export function pair(src: string, opts?: DbtOptions): { a: DbtMachine; b: DbtMachine } {
  const code = assemble(src);
  return { a: dbtMachine(code, true, opts), b: dbtMachine(code, false) };
}
