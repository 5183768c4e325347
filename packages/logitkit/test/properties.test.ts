import fc from "fast-check";
import { beforeAll, describe, it } from "vitest";
import { loadWasmKernels } from "../src/backends/embedded.js";
import { loadLogitKit } from "../src/index.js";
import { createKit } from "../src/kit.js";
import { buildProperties, KNOWN_GAPS, type Kits, SINGLE_BACKEND_PROPERTIES } from "./properties.js";

// At least 1000 cases per property in Node.js. Chromium runs the same properties with fewer
// cases: there they check that the kernels behave the same in the browser's engine, and Node.js
// covers the case count. PROPERTY_RUNS overrides both.
const IN_NODE = typeof process !== "undefined" && process.versions?.node !== undefined;
const RUNS = Number((IN_NODE ? process.env.PROPERTY_RUNS : undefined) ?? (IN_NODE ? 1000 : 200));

// CI runs a fixed seed, so that a red run replays and a green one stays green; PROPERTY_SEED
// overrides it. Elsewhere every run draws a new seed, which fast-check prints on a failure.
const CI = IN_NODE && (process.env.CI === "true" || process.env.CI === "1");
const SEED_TEXT = IN_NODE ? process.env.PROPERTY_SEED : undefined;
let SEED: number | undefined;
if (SEED_TEXT !== undefined) SEED = Number(SEED_TEXT);
else if (CI) SEED = 20261205;

// `wasm` is the raw SIMD kernels: loadLogitKit's wasm backend sends inputs of at most 64
// logits to the js kernels, and most cases here are smaller. backends.test.ts checks that
// routing.
const kits = {} as Kits;
beforeAll(async () => {
  kits.js = await loadLogitKit({ backend: "js" });
  kits.wasm = createKit((await loadWasmKernels()).kernels);
});

describe("properties", () => {
  const names = buildProperties({} as Kits).map((p) => p.name);
  for (const name of names) {
    it(name, () => {
      const property = buildProperties(kits).find((p) => p.name === name)!;
      fc.assert(property.property, { numRuns: RUNS, ...(SEED === undefined ? {} : { seed: SEED }) });
    });
  }

  // Shown as skipped, so that the gap stays visible in every test run.
  for (const name of KNOWN_GAPS) it.skip(`${name} (known gap)`, () => {});

  it("cover every single-backend check on both backends", () => {
    if (names.length !== 2 * (SINGLE_BACKEND_PROPERTIES.length - KNOWN_GAPS.length) + 1) throw new Error(`${names.length} properties`);
  });
});
