/**
 * KL divergence where P has classes of probability 0 (masked, or exp underflowed to 0) while Q
 * gives them mass. Their terms are 0, but Q's normalizer still includes that mass, so a kernel
 * that skips those classes entirely returns a KL that is too small (0 for a one-hot P).
 */
import { describe, expect, it } from "vitest";
import { loadWasmKernels } from "../src/backends/embedded.js";
import { loadLogitKit, type LogitKit } from "../src/index.js";
import { createKit } from "../src/kit.js";
import { klLogits64, rowsOf } from "./reference.js";

/** Rows of `classes` logits: P is near one-hot, masked in part, or underflows at a low T. */
function cases(classes: number): { name: string; p: Float32Array; q: Float32Array; temperature: number }[] {
  const oneHot = new Float32Array(classes);
  oneHot[3] = 200;
  const masked = new Float32Array(classes).map((_, i) => (i % 3 === 0 ? -Infinity : Math.sin(i)));
  const steep = new Float32Array(classes).map((_, i) => (i === 1 ? 10.385 : Math.cos(i)));
  const q = new Float32Array(classes).map((_, i) => Math.sin(i * 0.7) * 2);
  return [
    { name: "near one-hot P", p: oneHot, q: new Float32Array(classes), temperature: 1 },
    { name: "masked P classes", p: masked, q, temperature: 1 },
    { name: "P underflowing at T = 0.1189", p: steep, q, temperature: 0.1189 },
  ];
}

describe.each([
  ["js", () => loadLogitKit({ backend: "js" })],
  ["wasm kernels", async () => createKit((await loadWasmKernels()).kernels)],
])("KL with zero-probability P classes on %s", (_name, load) => {
  it.each([4, 7, 80, 131])("matches float64 with %i classes", async (classes) => {
    const kit: LogitKit = await load();

    for (const { name, p, q, temperature } of cases(classes)) {
      const expected = klLogits64(rowsOf(p, classes)[0], rowsOf(q, classes)[0], temperature);
      const actual = kit.klDivergenceWithGrad(p, q, { classes, temperature });
      expect(Math.abs(actual.loss - expected.loss), `${name}: loss ${actual.loss} vs ${expected.loss}`).toBeLessThanOrEqual(
        2e-5 * Math.abs(expected.loss) + 1e-6,
      );
      for (let c = 0; c < classes; c++) {
        expect(Math.abs(actual.grad[c] - expected.grad[c]), `${name}: grad[${c}]`).toBeLessThanOrEqual(2e-5 * Math.abs(expected.grad[c]) + 1e-6);
      }
    }
  });
});
