import { beforeAll, describe, expect, it } from "vitest";
import { SMALL_INPUT_MAX_LOGITS } from "../src/backends/small-inputs.js";
import { loadWasmKernels } from "../src/backends/embedded.js";
import { loadLogitKit } from "../src/index.js";
import type { LogitKit } from "../src/index.js";
import { createKit } from "../src/kit.js";
import {
  crossEntropyLabel64,
  entropyOfLogits64,
  jsDivergence64,
  klLogits64,
  logSoftmax64,
  logSumExp64,
  numericGrad,
  randomNormal,
  rowsOf,
  softmax64,
  worstRatio,
} from "./reference.js";

// Lengths around the vector width (4), the unroll of the maximum (8) and beyond.
const LENGTHS = [1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 31, 32, 33, 255, 4096, 65537];
const TEMPERATURES = [1, 0.5, 2.5];

// `wasm` runs the SIMD kernels on every size. loadLogitKit's wasm backend, `loaded`, sends
// inputs of at most SMALL_INPUT_MAX_LOGITS logits to the js kernels instead.
const kits: Record<string, LogitKit> = {};
beforeAll(async () => {
  kits.wasm = createKit((await loadWasmKernels()).kernels);
  kits.js = await loadLogitKit({ backend: "js" });
  kits.loaded = await loadLogitKit({ backend: "wasm" });
});

function flat(rows: number[][]): number[] {
  return rows.flat();
}

describe.each(["wasm", "js"])("%s backend against the float64 reference", (name) => {
  for (const classes of LENGTHS) {
    const rows = classes > 4096 ? 1 : 3;
    const z = randomNormal(rows * classes, classes, 3);
    const q = randomNormal(rows * classes, classes + 1000, 3);
    const zRows = rowsOf(z, classes);
    const qRows = rowsOf(q, classes);
    const labels = Int32Array.from({ length: rows }, (_, r) => (r * 7919) % classes);

    it(`softmax family at ${rows}x${classes}`, () => {
      const kit = kits[name];
      for (const temperature of TEMPERATURES) {
        const probs = kit.softmax(z, { classes, temperature });
        expect(worstRatio(probs, flat(zRows.map((r) => softmax64(r, temperature))), 1e-5, 1e-8)).toBeLessThanOrEqual(1);

        const logProbs = kit.logSoftmax(z, { classes, temperature });
        expect(worstRatio(logProbs, flat(zRows.map((r) => logSoftmax64(r, temperature))), 1e-6, 1e-5)).toBeLessThanOrEqual(1);

        const lse = kit.logSumExp(z, { classes, temperature });
        expect(worstRatio(lse, zRows.map((r) => logSumExp64(r, temperature)), 1e-6, 1e-6)).toBeLessThanOrEqual(1);
      }
    });

    it(`entropy of logits with gradient at ${rows}x${classes}`, () => {
      const result = kits[name].entropyOfLogitsWithGrad(z, { classes, temperature: 2, reduction: "none" });
      const expected = zRows.map((r) => entropyOfLogits64(r, 2));
      expect(worstRatio(result.loss, expected.map((e) => e.loss), 2e-5, 1e-6)).toBeLessThanOrEqual(1);
      expect(worstRatio(result.grad, flat(expected.map((e) => e.grad)), 2e-5, 1e-7)).toBeLessThanOrEqual(1);
    });

    it(`cross-entropy with smoothing and weights at ${rows}x${classes}`, () => {
      const weight = Float32Array.from({ length: classes }, (_, c) => 0.5 + ((c * 37) % 11) / 10);
      const options = { classes, temperature: 1.5, labelSmoothing: 0.1, weight, reduction: "sum" as const };
      const result = kits[name].crossEntropyWithGrad(z, labels, options);
      const expected = zRows.map((r, i) =>
        crossEntropyLabel64(r, labels[i], { temperature: 1.5, labelSmoothing: 0.1, weight: Array.from(weight) }),
      );
      const total = expected.reduce((s, e) => s + e.loss, 0);
      expect(Math.abs(result.loss - total)).toBeLessThanOrEqual(2e-5 * Math.abs(total) + 1e-6);
      expect(worstRatio(result.grad, flat(expected.map((e) => e.grad)), 2e-5, 1e-7)).toBeLessThanOrEqual(1);
    });

    it(`KL divergence with gradient at ${rows}x${classes}`, () => {
      const result = kits[name].klDivergenceWithGrad(z, q, { classes, temperature: 2, reduction: "none" });
      const expected = zRows.map((r, i) => klLogits64(r, qRows[i], 2));
      expect(worstRatio(result.loss, expected.map((e) => e.loss), 5e-5, 2e-6)).toBeLessThanOrEqual(1);
      expect(worstRatio(result.grad, flat(expected.map((e) => e.grad)), 2e-5, 1e-7)).toBeLessThanOrEqual(1);
    });

    it(`Jensen-Shannon divergence at ${rows}x${classes}`, () => {
      for (const beta of [0, 0.3, 1]) {
        const loss = kits[name].jsDivergence(z, q, { classes, beta, reduction: "none" });
        const expected = zRows.map((r, i) => jsDivergence64(r, qRows[i], beta));
        expect(worstRatio(loss, expected, 5e-5, 2e-6)).toBeLessThanOrEqual(1);
      }
    });

    // Finite differences of the float64 reference cost O(classes^2): small rows only.
    it.skipIf(classes > 33)(`Jensen-Shannon gradient at ${rows}x${classes}`, () => {
      for (const beta of [0, 0.3, 1]) {
        const { grad } = kits[name].jsDivergenceWithGrad(z, q, { classes, beta, temperature: 1.5, reduction: "sum" });
        const expected = flat(qRows.map((row, i) => numericGrad((x) => jsDivergence64(zRows[i], x, beta, 1.5), row)));
        expect(worstRatio(grad, expected, 1e-3, 1e-5)).toBeLessThanOrEqual(1);
      }
    });

    it(`distillation loss at ${rows}x${classes}`, () => {
      const temperature = 2;
      const alpha = 0.7;
      const result = kits[name].distillationLossWithGrad(q, z, { classes, temperature, alpha, labels });

      // alpha T^2 KL(teacher ‖ student) + (1 - alpha) CE, both averaged over rows.
      let loss = 0;
      const grad: number[] = [];
      qRows.forEach((student, i) => {
        const kl = klLogits64(zRows[i], student, temperature);
        const ce = crossEntropyLabel64(student, labels[i]);
        loss += (alpha * temperature * temperature * kl.loss + (1 - alpha) * ce.loss) / rows;
        kl.grad.forEach((g, c) => grad.push((alpha * temperature * temperature * g + (1 - alpha) * ce.grad[c]) / rows));
      });
      expect(Math.abs(result.loss - loss)).toBeLessThanOrEqual(5e-5 * Math.abs(loss) + 1e-6);
      expect(worstRatio(result.grad, grad, 5e-5, 1e-7)).toBeLessThanOrEqual(1);
    });
  }
});

describe("wasm and js backends", () => {
  it("agree on every operation at 5x1031", () => {
    const classes = 1031;
    const z = randomNormal(5 * classes, 11, 4);
    const q = randomNormal(5 * classes, 12, 4);
    const labels = [3, 1030, 0, 512, 7];
    const p = kits.js.softmax(z, { classes });
    const pq = kits.js.softmax(q, { classes });
    const calls: Array<[string, (kit: LogitKit) => number | Float32Array]> = [
      ["softmax", (k) => k.softmax(z, { classes, temperature: 0.7 })],
      ["logSoftmax", (k) => k.logSoftmax(z, { classes, temperature: 0.7 })],
      ["logSumExp", (k) => k.logSumExp(z, { classes })],
      ["entropy", (k) => k.entropy(p, { classes, reduction: "none" })],
      ["crossEntropyOfProbs", (k) => k.crossEntropyOfProbs(p, pq, { classes, reduction: "none" })],
      ["klDivergenceOfProbs", (k) => k.klDivergenceOfProbs(p, pq, { classes, reduction: "none" })],
      ["entropyOfLogitsWithGrad", (k) => k.entropyOfLogitsWithGrad(z, { classes }).grad],
      ["crossEntropyWithGrad", (k) => k.crossEntropyWithGrad(z, labels, { classes, labelSmoothing: 0.2 }).grad],
      ["crossEntropyWithGrad targets", (k) => k.crossEntropyWithGrad(z, pq, { classes }).grad],
      ["klDivergenceWithGrad", (k) => k.klDivergenceWithGrad(z, q, { classes }).grad],
      ["jsDivergenceWithGrad", (k) => k.jsDivergenceWithGrad(z, q, { classes }).grad],
      ["distillationLossWithGrad", (k) => k.distillationLossWithGrad(q, z, { classes, labels, temperature: 3 }).grad],
    ];
    for (const [call, run] of calls) {
      const a = run(kits.wasm);
      const b = run(kits.js);
      const av = typeof a === "number" ? [a] : a;
      const bv = typeof b === "number" ? [b] : b;
      expect(worstRatio(av, bv, 5e-5, 1e-7), call).toBeLessThanOrEqual(1);
    }
  });
});

describe.each(["wasm", "js"])("%s backend on views and non-finite logits", (name) => {
  it("reads views with a non-zero byteOffset", () => {
    const classes = 17;
    const storage = randomNormal(4 * classes + 3, 5, 2);
    const view = storage.subarray(3, 3 + 4 * classes);
    const copy = view.slice();
    const kit = kits[name];
    expect(Array.from(kit.softmax(view, { classes }))).toEqual(Array.from(kit.softmax(copy, { classes })));
    expect(kit.crossEntropy(view, [0, 1, 2, 16], { classes })).toBe(kit.crossEntropy(copy, [0, 1, 2, 16], { classes }));
    expect(Array.from(kit.klDivergenceWithGrad(view, copy.reverse(), { classes }).grad)).toEqual(
      Array.from(kit.klDivergenceWithGrad(view.slice(), view.slice().reverse(), { classes }).grad),
    );
  });

  for (const classes of [5, 8, 17]) {
    for (const position of [0, 1, 2, 3, classes - 1]) {
      it(`NaN at ${position} of ${classes} poisons only its row`, () => {
        const kit = kits[name];
        const clean = randomNormal(3 * classes, 40 + classes, 2);
        const z = clean.slice();
        z[classes + position] = NaN;
        const labels = [0, 1, 2];

        const probs = kit.softmax(z, { classes });
        const reference = kit.softmax(clean, { classes });
        for (let i = 0; i < 3 * classes; i++) {
          if (i >= classes && i < 2 * classes) expect(probs[i]).toBeNaN();
          else expect(probs[i]).toBe(reference[i]);
        }

        const ce = kit.crossEntropyWithGrad(z, labels, { classes, reduction: "none" });
        expect(ce.loss[1]).toBeNaN();
        expect(Number.isFinite(ce.loss[0])).toBe(true);
        expect(Number.isFinite(ce.loss[2])).toBe(true);
        expect(ce.grad.subarray(classes, 2 * classes).every(Number.isNaN)).toBe(true);
        expect(kit.logSumExp(z, { classes })[1]).toBeNaN();
        expect(kit.klDivergence(clean, z, { classes, reduction: "none" })[1]).toBeNaN();
      });

      it(`-Infinity at ${position} of ${classes} is a masked class`, () => {
        const kit = kits[name];
        const z = randomNormal(2 * classes, 60 + classes, 2);
        z[position] = -Infinity;
        const label = position === 0 ? 1 % classes : 0;

        expect(kit.softmax(z, { classes })[position]).toBe(0);
        expect(kit.logSoftmax(z, { classes })[position]).toBe(-Infinity);
        expect(kit.entropyOfLogitsWithGrad(z, { classes }).grad[position]).toBe(0);
        expect(kit.crossEntropyWithGrad(z, [label, 0], { classes }).grad[position]).toBe(0);
        expect(kit.klDivergenceWithGrad(z, z, { classes }).grad[position]).toBe(0);
        expect(kit.jsDivergenceWithGrad(z, z, { classes }).grad[position]).toBe(0);
        if (classes > 1) expect(Number.isFinite(kit.klDivergence(z, z, { classes }))).toBe(true);
      });

      it(`+Infinity at ${position} of ${classes} gives NaN, and +Infinity logsumexp`, () => {
        const kit = kits[name];
        const z = randomNormal(2 * classes, 80 + classes, 2);
        z[classes + position] = Infinity;
        const probs = kit.softmax(z, { classes });
        expect(probs.subarray(classes).every(Number.isNaN)).toBe(true);
        expect(probs.subarray(0, classes).some(Number.isNaN)).toBe(false);
        expect(kit.logSumExp(z, { classes })[1]).toBe(Infinity);
      });

      it(`NaN at ${position} of ${classes} beside +Infinity gives NaN`, () => {
        const kit = kits[name];
        const z = randomNormal(2 * classes, 90 + classes, 2);
        z[classes + ((position + 1) % classes)] = Infinity;
        z[classes + ((position + classes - 1) % classes)] = Infinity;
        z[classes + position] = NaN;
        const lse = kit.logSumExp(z, { classes });
        expect(lse[1]).toBeNaN();
        expect(lse[0]).toBe(kit.logSumExp(z.subarray(0, classes), { classes })[0]);
        expect(kit.entropyOfLogits(z, { classes, reduction: "none" })[1]).toBeNaN();
      });
    }
  }

  // The js kernels scan long rows in blocks of 2048 elements; these rows span three blocks.
  it("finds NaN and +Infinity in any block of a long row", () => {
    const kit = kits[name];
    const classes = 4100;
    const clean = randomNormal(2 * classes, 77, 2);

    const withNaN = clean.slice();
    withNaN[classes + 3000] = NaN;
    expect(kit.logSumExp(withNaN, { classes })[1]).toBeNaN();
    expect(kit.softmax(withNaN, { classes }).subarray(classes).every(Number.isNaN)).toBe(true);
    expect(kit.crossEntropy(withNaN, [0, 1], { classes, reduction: "none" })[1]).toBeNaN();

    const withInfinity = clean.slice();
    withInfinity[classes + 4099] = Infinity;
    expect(kit.logSumExp(withInfinity, { classes })[1]).toBe(Infinity);
    withInfinity[classes + 5] = NaN;
    expect(kit.logSumExp(withInfinity, { classes })[1]).toBeNaN();

    // The maximum in the last block sets the shift of the whole row.
    const peaked = clean.slice();
    peaked[4099] = 60;
    expect(kit.logSumExp(peaked, { classes })[0]).toBeCloseTo(logSumExp64(Array.from(peaked.subarray(0, classes))), 4);
  });

  it("does not read the logits of ignored rows", () => {
    const kit = kits[name];
    const z = new Float32Array([NaN, 1, 2, 0.5, 1, 1.5, Infinity, 1, 2]);
    const result = kit.crossEntropyWithGrad(z, [-100, 2, -100], { classes: 3 });
    expect(result.loss).toBeCloseTo(crossEntropyLabel64([0.5, 1, 1.5], 2).loss, 6);
    expect(Array.from(result.grad.subarray(0, 3))).toEqual([0, 0, 0]);
    expect(Array.from(result.grad.subarray(6))).toEqual([0, 0, 0]);

    const distilled = kit.distillationLossWithGrad(z, z, { classes: 3, labels: [-100, 0, -100] });
    expect(distilled.loss).toBeCloseTo(0.5 * crossEntropyLabel64([0.5, 1, 1.5], 0).loss, 6);
    expect(Array.from(distilled.grad.subarray(0, 3))).toEqual([0, 0, 0]);
  });

  it("gives a NaN entropy gradient for a +Infinity row", () => {
    const kit = kits[name];
    const { loss, grad } = kit.entropyOfLogitsWithGrad(new Float32Array([1, Infinity, 2, 0.5, 1, 2, 3, 4]), {
      classes: 4,
      reduction: "none",
    });
    expect(loss[0]).toBeNaN();
    expect(grad.subarray(0, 4).every(Number.isNaN)).toBe(true);
    expect(grad.subarray(4).some(Number.isNaN)).toBe(false);
  });

  it("keeps divergences within their mathematical range", () => {
    const kit = kits[name];
    const disjoint = new Float32Array([0, -Infinity, -Infinity, 0, 5, -Infinity, -Infinity, 5]);
    const other = new Float32Array([-Infinity, 0, 0, -Infinity, -Infinity, 5, 5, -Infinity]);
    const jsd = kit.jsDivergence(disjoint, other, { classes: 4, reduction: "none" });
    for (const value of jsd) expect(value).toBeLessThanOrEqual(Math.LN2);
    expect(jsd[0]).toBeCloseTo(Math.LN2, 6);

    const z = randomNormal(3 * 50, 21, 3);
    for (const value of kit.klDivergence(z, z, { classes: 50, reduction: "none" })) expect(value).toBeGreaterThanOrEqual(0);
    for (const value of kit.jsDivergence(z, z, { classes: 50, reduction: "none" })) expect(value).toBeGreaterThanOrEqual(0);
  });

  it("keeps KL accurate between close distributions", () => {
    const kit = kits[name];
    const classes = 1000;
    const p = randomNormal(4 * classes, 31, 2);
    const noise = randomNormal(4 * classes, 32, 1);
    for (const eps of [1e-2, 1e-3, 1e-4]) {
      const q = p.map((v, i) => v + eps * noise[i]);
      const expected = rowsOf(p, classes).reduce((sum, row, r) => sum + klLogits64(row, rowsOf(q, classes)[r]).loss, 0) / 4;

      // The sum of P (log P - log Q) in float32 is off by ~1e-8 absolute; this form is not.
      const kl = kit.klDivergence(p, q, { classes });
      expect(Math.abs(kl - expected) / expected).toBeLessThan(1e-4);
      const distilled = kit.distillationLoss(q, p, { classes, temperature: 1 });
      expect(Math.abs(distilled - expected) / expected).toBeLessThan(1e-4);
    }
  });

  it("lets a NaN in q poison its row where p is 0", () => {
    const kit = kits[name];
    const p = new Float32Array([0, 0.5, 0.5, 0.2, 0.3, 0.5]);
    const q = new Float32Array([NaN, 0.5, 0.5, 0.2, 0.3, 0.5]);
    expect(kit.klDivergenceOfProbs(p, q, { classes: 3, reduction: "none" })[0]).toBeNaN();
    expect(kit.crossEntropyOfProbs(p, q, { classes: 3, reduction: "none" })[0]).toBeNaN();
    expect(kit.klDivergenceOfProbs(p, q, { classes: 3, reduction: "none" })[1]).toBeCloseTo(0, 7);
  });

  it("gives -Infinity logsumexp and NaN softmax for an all-masked row", () => {
    const kit = kits[name];
    const z = new Float32Array([-Infinity, -Infinity, -Infinity, -Infinity, -Infinity, 1, 2, 3, 4, 5]);
    expect(kit.logSumExp(z, { classes: 5 })[0]).toBe(-Infinity);
    expect(kit.softmax(z, { classes: 5 }).subarray(0, 5).every(Number.isNaN)).toBe(true);
    expect(kit.softmax(z, { classes: 5 })[9]).toBeCloseTo(softmax64([1, 2, 3, 4, 5])[4], 6);
  });
});

describe("small-input dispatch of the wasm backend", () => {
  /** Runs every kernel once on `rows x classes` logits and returns all outputs, in order. */
  function allOutputs(kit: LogitKit, rows: number, classes: number): number[] {
    const z = randomNormal(rows * classes, 90 + classes, 3);
    const q = randomNormal(rows * classes, 91 + classes, 3);
    const labels = Array.from({ length: rows }, (_, r) => (r * 5) % classes);
    const p = kits.js.softmax(z, { classes });
    const pq = kits.js.softmax(q, { classes });
    const outputs: Array<number | Float32Array> = [
      kit.softmax(z, { classes, temperature: 0.7 }),
      kit.logSoftmax(z, { classes }),
      kit.logSumExp(z, { classes }),
      kit.entropy(p, { classes, reduction: "none" }),
      kit.klDivergenceOfProbs(p, pq, { classes, reduction: "none" }),
      kit.entropyOfLogitsWithGrad(z, { classes }).grad,
      kit.crossEntropyWithGrad(z, labels, { classes, labelSmoothing: 0.1 }).grad,
      kit.crossEntropyWithGrad(z, pq, { classes }).grad,
      kit.klDivergenceWithGrad(z, q, { classes }).grad,
      kit.jsDivergenceWithGrad(z, q, { classes }).grad,
      kit.distillationLossWithGrad(q, z, { classes, labels, temperature: 2 }).grad,
      kit.crossEntropy(z, labels, { classes }),
    ];
    return outputs.flatMap((output) => (typeof output === "number" ? [output] : Array.from(output)));
  }

  it("runs inputs up to the limit on the js kernels", () => {
    for (const [rows, classes] of [[1, 8], [3, 17], [1, SMALL_INPUT_MAX_LOGITS], [8, 8]]) {
      const loaded = allOutputs(kits.loaded, rows, classes);
      expect(loaded, `${rows}x${classes}`).toEqual(allOutputs(kits.js, rows, classes));
      expect(loaded, `${rows}x${classes} differs from the wasm kernels`).not.toEqual(allOutputs(kits.wasm, rows, classes));
    }
  });

  it("runs larger inputs on the wasm kernels", () => {
    for (const [rows, classes] of [[1, SMALL_INPUT_MAX_LOGITS + 1], [5, 13], [2, 1000]]) {
      const loaded = allOutputs(kits.loaded, rows, classes);
      expect(loaded, `${rows}x${classes}`).toEqual(allOutputs(kits.wasm, rows, classes));
      expect(loaded, `${rows}x${classes} differs from the js kernels`).not.toEqual(allOutputs(kits.js, rows, classes));
    }
  });

  it("keeps results within the float64 tolerances", () => {
    const classes = 8;
    const z = randomNormal(2 * classes, 95, 3);
    const probs = kits.loaded.softmax(z, { classes });
    const expected = flat(rowsOf(z, classes).map((row) => softmax64(row)));
    expect(worstRatio(probs, expected, 1e-5, 1e-8)).toBeLessThanOrEqual(1);
  });
});
