/**
 * Fuzz runner: runs every property of properties.ts in rounds of `--runs` cases, each round
 * with a fresh seed, until `--minutes` have passed. Prints the cases run per property, and on
 * the first failure the property, seed, path and shrunk counterexample, then exits 1.
 * Started by scripts/fuzz.mjs, which bundles this file for Node.js.
 */
import fc from "fast-check";
import { loadWasmKernels } from "../src/backends/embedded.js";
import { loadLogitKit } from "../src/index.js";
import { createKit } from "../src/kit.js";
import { buildProperties } from "./properties.js";

function parseArgs(argv: string[]): { minutes: number; runs: number } {
  const options = { minutes: 1, runs: 500 };
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i];
    if (name === "--") continue;
    if (name === "--help") {
      console.log("Usage: pnpm fuzz [--minutes M] [--runs N]\n  --minutes  time to fuzz, in minutes (default 1)\n  --runs     cases per property per round (default 500)");
      process.exit(0);
    }
    const value = Number(argv[++i]);
    if ((name !== "--minutes" && name !== "--runs") || !(value > 0)) {
      console.error(`fuzz: invalid option ${name} ${argv[i]}; expected --minutes M or --runs N with a positive number.`);
      process.exit(2);
    }
    options[name === "--minutes" ? "minutes" : "runs"] = value;
  }
  return options;
}

const { minutes, runs } = parseArgs(process.argv.slice(2));
const kits = { js: await loadLogitKit({ backend: "js" }), wasm: createKit((await loadWasmKernels()).kernels) };
const properties = buildProperties(kits);
const cases = new Map(properties.map((p) => [p.name, 0]));
const deadline = Date.now() + minutes * 60_000;
console.log(`fuzz: ${properties.length} properties, ${runs} cases per property per round, for ${minutes} min`);

for (let round = 1; Date.now() < deadline; round++) {
  for (const p of properties) {
    if (Date.now() >= deadline) break;
    const seed = (Math.random() * 2 ** 31) | 0;
    const details = fc.check(p.property, { numRuns: runs, seed });
    cases.set(p.name, cases.get(p.name)! + details.numRuns);

    if (details.failed) {
      console.error(`\nFAILED: ${p.name}`);
      console.error(`seed ${details.seed}, path "${details.counterexamplePath}"`);
      console.error(`error: ${details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance)}`);
      console.error(`shrunk counterexample (after ${details.numShrinks} shrinks): ${fc.stringify(details.counterexample)}`);
      console.error(`replay: fc.assert(property, { seed: ${details.seed}, path: "${details.counterexamplePath}" })`);
      process.exit(1);
    }
  }
  const left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
  console.log(`round ${round} done, ${left} s left; cases per property:`);
  for (const [name, count] of cases) console.log(`  ${String(count).padStart(8)}  ${name}`);
}
console.log("fuzz: no failure");
