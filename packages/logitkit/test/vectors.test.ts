import { describe, expect, it } from "vitest";
import { jsKernels } from "../src/backends/js.js";
import { loadWasmKernels } from "../src/backends/embedded.js";
import { createKit } from "../src/kit.js";
import { loadLogitKit } from "../src/index.js";
import type { LogitKit } from "../src/index.js";
import { mismatch, runCase } from "./run-case.js";
import { parseVectors } from "./vectors-format.js";
import source from "virtual:logitkit-vectors";

// The vectors sit beside the repository. CI always has them, so there a missing directory
// fails the run, as does a LOGITKIT_VECTORS that names a missing one. A clone without them
// skips this file with a message. The Node.js side reads the files (see vectors.ts), so the
// same checks run in the browser.
const available = source.files !== null;
if (!available && source.required) {
  throw new Error(
    `reference vectors not found at ${source.directory}; put them there or set LOGITKIT_VECTORS to their directory`,
  );
}
if (!available) {
  console.warn(
    `reference vectors not found at ${source.directory}: skipping the vector tests; set LOGITKIT_VECTORS to their directory`,
  );
}

const cases = source.files !== null ? parseVectors(source.files) : [];
// "wasm kernels" runs the SIMD kernels on every case. loadLogitKit's wasm backend sends the
// small cases, most of the vectors, to the js kernels.
const backends: Array<[string, () => Promise<LogitKit>]> = [
  ["js", async () => createKit(jsKernels)],
  ["wasm", () => loadLogitKit({ backend: "wasm" })],
  ["wasm kernels", async () => createKit((await loadWasmKernels()).kernels)],
];

describe.skipIf(!available)("reference vectors", () => {
  it("cover every operation", () => {
    const ops = new Set(cases.map((c) => c.op));
    expect([...ops].sort()).toEqual(
      [
        "cross_entropy",
        "cross_entropy_probs",
        "distillation_loss",
        "entropy",
        "entropy_logits",
        "js_divergence",
        "kl_div_logits",
        "kl_div_probs",
        "log_softmax",
        "logsumexp",
        "softmax",
      ].sort(),
    );
  });

  for (const [name, load] of backends) {
    describe(`${name} backend`, () => {
      for (const c of cases) {
        it(`${c.file} ${c.id}`, async () => {
          const kit = await load();
          const outcomes = runCase(kit, c);
          for (const key of Object.keys(c.expected)) {
            expect(outcomes.some((o) => o.field === key), `${key} has no outcome`).toBe(true);
          }
          for (const o of outcomes) {
            if (!(o.field in c.expected)) continue;
            const problem = mismatch(o.actual, c.expected[o.field], c.tolerance);
            expect(problem, `${o.call} -> ${o.field}`).toBeNull();
          }
        });
      }
    });
  }
});
