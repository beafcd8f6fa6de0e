// Command-line differential fuzzer (docs/TESTING.md):
//   node dist/test/differential/fuzz.js --count 1000000 --seed 1 [--length 40] [--sequences 100]
//   node dist/test/differential/fuzz.js --seed S --batch B   (re-run one batch from a report)
//   ... --engine dbt --passes 3   (attach the binary translator, run each batch 3 times so it is hot)
// Runs batches of random sequences on qemu-riscv64 and on Typevisor, stops at the first batch
// with a mismatch (printing the report) unless --keep-going. Exit status 0 = no mismatch.
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import {
  compare,
  cleanupQemuDir,
  makeBatch,
  runQemu,
  runTypevisor,
  loadDbtEngine,
  type EngineOptions,
} from "./Differential.js";
import { ALL_CLASSES, type InsnClass } from "./Generator.js";

export async function fuzzMain(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      count: { type: "string", default: "10000" },
      seed: { type: "string", default: "1" },
      batch: { type: "string" },
      length: { type: "string", default: "40" },
      sequences: { type: "string", default: "100" },
      classes: { type: "string" },
      "keep-going": { type: "boolean", default: false },
      passes: { type: "string", default: "1" },
      engine: { type: "string", default: "interp" },
    },
  });
  const seed = Number(values.seed);
  const length = Number(values.length);
  const perBatch = Number(values.sequences);
  const classes = (values.classes?.split(",") ?? ALL_CLASSES) as InsnClass[];
  for (const c of classes)
    if (!ALL_CLASSES.includes(c)) throw new Error(`unknown class '${c}' (known: ${ALL_CLASSES.join(", ")})`);
  const passes = Number(values.passes);
  let engine: EngineOptions = {};
  if (values.engine === "dbt") {
    const e = await loadDbtEngine();
    if (typeof e === "string") throw new Error(e);
    engine = e;
  } else if (values.engine !== "interp") throw new Error(`--engine must be interp or dbt, not '${values.engine}'`);
  const first = values.batch === undefined ? 0 : Number(values.batch);
  const batches = values.batch === undefined ? Math.ceil(Number(values.count) / perBatch) : 1;
  let failures = 0;
  const t0 = Date.now();
  for (let k = first; k < first + batches; k++) {
    const b = makeBatch({ seed, batch: k, sequences: perBatch, length, classes, passes });
    const q = runQemu(b.program);
    const t = runTypevisor(b.program, engine);
    const m = compare(b, q, t);
    if (m.length) {
      failures++;
      for (const x of m) process.stdout.write(x.report + "\n\n");
      if (!values["keep-going"]) break;
    }
    if ((k - first + 1) % 10 === 0) {
      process.stderr.write(
        `fuzz: ${(k - first + 1) * perBatch} sequences, ${failures} failing batches, ${((Date.now() - t0) / 1000).toFixed(1)} s\n`,
      );
    }
  }
  cleanupQemuDir();
  process.stderr.write(`fuzz: done, ${failures} failing batch(es)\n`);
  return failures ? 1 : 0;
}

// Run only when invoked directly, not when the test runner loads every file under dist/test/.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href && !process.env.NODE_TEST_CONTEXT) {
  process.exitCode = await fuzzMain(process.argv.slice(2));
}
