/**
 * Non-finite cases of the README's policy that property tests found broken: a label term of
 * weight 0 on a masked label, and a NaN row in the Jensen-Shannon gradient.
 */
import { describe, expect, it } from "vitest";
import { loadWasmKernels } from "../src/backends/embedded.js";
import { loadLogitKit, type LogitKit } from "../src/index.js";
import { createKit } from "../src/kit.js";

const CLASSES = 80;

/** Two rows of smooth logits; class 5 of the first row is masked. */
function logits(): Float32Array {
  const z = new Float32Array(2 * CLASSES).map((_, i) => Math.sin(i * 0.3) * 2);
  z[5] = -Infinity;
  return z;
}

describe.each([
  ["js", () => loadLogitKit({ backend: "js" })],
  ["wasm kernels", async () => createKit((await loadWasmKernels()).kernels)],
])("non-finite rows on %s", (_name, load) => {
  it("gives Infinity for smoothing 1 on a masked label", async () => {
    const kit: LogitKit = await load();
    const loss = kit.crossEntropy(logits(), new Int32Array([5, 1]), { classes: CLASSES, labelSmoothing: 1, reduction: "none" });

    // The uniform target puts mass on the masked class, so the first row's loss is infinite.
    expect(loss[0]).toBe(Infinity);
    expect(Number.isFinite(loss[1])).toBe(true);
  });

  it("skips a zero-weight label term on a masked label", async () => {
    const kit: LogitKit = await load();
    const weight = new Float32Array(CLASSES).fill(1);
    weight[5] = 0;
    const loss = kit.crossEntropy(logits(), new Int32Array([5, 1]), { classes: CLASSES, weight, reduction: "none" });

    expect(loss[0]).toBe(0);
    expect(Number.isFinite(loss[1])).toBe(true);
  });

  it("keeps NaN in a zero-weight label row", async () => {
    const kit: LogitKit = await load();
    const z = logits();
    z[CLASSES + 9] = NaN;
    const weight = new Float32Array(CLASSES).fill(1);
    weight[1] = 0;
    const loss = kit.crossEntropy(z, new Int32Array([0, 1]), { classes: CLASSES, weight, reduction: "none" });

    expect(Number.isFinite(loss[0])).toBe(true);
    expect(loss[1]).toBeNaN();
  });

  it("makes the whole JSD gradient row NaN", async () => {
    const kit: LogitKit = await load();
    const p = logits().map((v, i) => (i === 7 ? NaN : Number.isFinite(v) ? v * 0.5 : 0));
    const q = logits();
    const { loss, grad } = kit.jsDivergenceWithGrad(p, q, { classes: CLASSES, beta: 0.3, reduction: "none" });

    expect(loss[0]).toBeNaN();
    expect(grad.subarray(0, CLASSES).every(Number.isNaN)).toBe(true);
    expect(Number.isFinite(loss[1])).toBe(true);
    expect(grad.subarray(CLASSES).every(Number.isFinite)).toBe(true);
  });
});

describe("labelSmoothing below 1e-30", () => {
  it("is rejected on every backend", async () => {
    for (const kit of [await loadLogitKit({ backend: "js" }), await loadLogitKit({ backend: "wasm" })]) {
      const z = logits();
      expect(() => kit.crossEntropy(z, new Int32Array([0, 1]), { classes: CLASSES, labelSmoothing: 1e-45 })).toThrow(RangeError);
      expect(() => kit.crossEntropy(z, new Int32Array([0, 1]), { classes: CLASSES, labelSmoothing: 1e-45 })).toThrow(
        "crossEntropy: options.labelSmoothing must be 0 or a number in [1e-30, 1], got 1e-45.",
      );

      // The smallest accepted value puts mass on the masked class, so the loss is +Infinity.
      expect(kit.crossEntropy(z, new Int32Array([0, 1]), { classes: CLASSES, labelSmoothing: 1e-30, reduction: "none" })[0]).toBe(Infinity);
    }
  });
});
