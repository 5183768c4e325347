import { beforeAll, describe, expect, it } from "vitest";
import { loadWasmKernels } from "../src/backends/embedded.js";
import { loadLogitKit, loadLogitKitWorker } from "../src/index.js";
import type { LogitKit } from "../src/index.js";
import { createKit } from "../src/kit.js";
import {
  firstDifference,
  logSoftmax64,
  numericGradMatrix,
  randomNormal,
  rowsOf,
  topKDistillationReduced64,
  type TopKOptions64,
  worstRatio,
} from "./reference.js";
import { expectError } from "./expect-error.js";

// `wasm` runs the SIMD kernels on every size. `loaded` is loadLogitKit's wasm backend, which sends
// inputs of at most 64 logits to the js kernels.
const kits: Record<string, LogitKit> = {};
beforeAll(async () => {
  kits.wasm = createKit((await loadWasmKernels()).kernels);
  kits.js = await loadLogitKit({ backend: "js" });
  kits.loaded = await loadLogitKit({ backend: "wasm" });
});

interface TopK {
  indices: Int32Array;
  logprobs: Float32Array;
  logits: Float32Array;
}

/**
 * Returns the k most probable tokens of each row of `teacher` in decreasing order, as a server
 * lists them, with their float32 log-probabilities over the full row and their logits.
 */
function topKOf(teacher: Float32Array, classes: number, k: number): TopK {
  const rows = teacher.length / classes;
  const indices = new Int32Array(rows * k);
  const logprobs = new Float32Array(rows * k);
  const logits = new Float32Array(rows * k);
  rowsOf(teacher, classes).forEach((row, r) => {
    const logP = logSoftmax64(row);
    const order = row.map((_, i) => i).sort((a, b) => row[b] - row[a] || a - b);
    for (let j = 0; j < k; j++) {
      indices[r * k + j] = order[j];
      logprobs[r * k + j] = logP[order[j]];
      logits[r * k + j] = row[order[j]];
    }
  });
  return { indices, logprobs, logits };
}

/** Splits a flat rows x k array into rows of plain numbers for the reference. */
function split(data: ArrayLike<number>, k: number): number[][] {
  const rows: number[][] = [];
  for (let r = 0; r < data.length / k; r++) rows.push(Array.from(data).slice(r * k, (r + 1) * k));
  return rows;
}

function reference(
  student: Float32Array,
  classes: number,
  teacher: { indices: ArrayLike<number>; values: ArrayLike<number> },
  k: number,
  options: Partial<TopKOptions64> = {},
  reduction: "none" | "sum" | "mean" = "mean",
  gradOutput?: number[],
) {
  const o: TopKOptions64 = { tail: "drop", temperature: 1, alpha: 0.5, ignoreIndex: -100, ...options };
  return topKDistillationReduced64(
    rowsOf(student, classes),
    split(teacher.indices, k),
    split(teacher.values, k),
    o,
    reduction,
    gradOutput,
  );
}

// Loss tolerance: relative 5e-5 of the value plus 2e-6 (float32 logits and exps). Gradient
// tolerance: relative 5e-5 plus 1e-7 / rows.
function expectLoss(actual: number, expected: number, label?: string): void {
  expect(Math.abs(actual - expected), label).toBeLessThanOrEqual(5e-5 * Math.abs(expected) + 2e-6);
}

function expectGrad(actual: Float32Array, expected: number[], rows: number, label?: string): void {
  expect(worstRatio(actual, expected, 5e-5, 1e-7 / Math.max(rows, 1)), label).toBeLessThanOrEqual(1);
}

describe.each(["wasm", "js", "loaded"])("%s backend: top-k distillation against the float64 reference", (name) => {
  // k around the vector width (4) and the 16-float unroll of the sum, at row lengths with and
  // without a partial vector.
  for (const classes of [7, 64, 257, 1031]) {
    for (const k of [1, 3, 4, 5, 15, 16, 17, 20, 33].filter((kk) => kk <= classes)) {
      it(`drop and bucket at 3x${classes}, k = ${k}`, () => {
        const kit = kits[name];
        const rows = 3;
        const student = randomNormal(rows * classes, classes * 100 + k, 2);
        const teacher = topKOf(randomNormal(rows * classes, classes * 100 + k + 1, 3), classes, k);

        for (const temperature of [1, 0.5, 2.5]) {
          for (const values of ["logprobs", "logits"] as const) {
            const teacherValues = values === "logprobs" ? teacher.logprobs : teacher.logits;
            const options = { classes, values, temperature };
            const result = kit.topKDistillationLossWithGrad(student, teacher.indices, teacherValues, options);
            const expected = reference(student, classes, { indices: teacher.indices, values: teacherValues }, k, { temperature });
            const label = `${values}, T = ${temperature}`;
            expectLoss(result.loss, expected.loss, label);
            expectGrad(result.grad, expected.grad, rows, label);
            expect(kit.topKDistillationLoss(student, teacher.indices, teacherValues, options), label).toBe(result.loss);
          }
        }

        const bucket = kit.topKDistillationLossWithGrad(student, teacher.indices, teacher.logprobs, { classes, tail: "bucket" });
        const expected = reference(student, classes, { indices: teacher.indices, values: teacher.logprobs }, k, { tail: "bucket" });
        expectLoss(bucket.loss, expected.loss, "bucket");
        expectGrad(bucket.grad, expected.grad, rows, "bucket");
      });
    }
  }

  it("matches at 2x50257 with k = 20 and k = 100", () => {
    const kit = kits[name];
    const classes = 50257;
    const student = randomNormal(2 * classes, 501, 2.5);
    for (const k of [20, 100]) {
      const teacher = topKOf(randomNormal(2 * classes, 502 + k, 3), classes, k);
      for (const tail of ["drop", "bucket"] as const) {
        const result = kit.topKDistillationLossWithGrad(student, teacher.indices, teacher.logprobs, { classes, tail });
        const expected = reference(student, classes, { indices: teacher.indices, values: teacher.logprobs }, k, { tail });
        expectLoss(result.loss, expected.loss, `${tail}, k = ${k}`);
        expectGrad(result.grad, expected.grad, 2, `${tail}, k = ${k}`);
      }
    }
  });

  it("equals distillationLoss with drop and k = classes", () => {
    const kit = kits[name];
    for (const classes of [5, 16, 67]) {
      const rows = 4;
      const student = randomNormal(rows * classes, 600 + classes, 2);
      const teacherLogits = randomNormal(rows * classes, 700 + classes, 3);
      const teacher = topKOf(teacherLogits, classes, classes);
      const labels = [0, classes - 1, -100, 2];
      for (const temperature of [1, 3]) {
        const options = { classes, temperature, alpha: 0.3, labels };
        const full = kit.distillationLossWithGrad(student, teacherLogits, options);
        for (const values of ["logprobs", "logits"] as const) {
          const teacherValues = values === "logprobs" ? teacher.logprobs : teacher.logits;
          const topK = kit.topKDistillationLossWithGrad(student, teacher.indices, teacherValues, { ...options, values });
          const label = `${classes} classes, ${values}, T = ${temperature}`;
          expectLoss(topK.loss, full.loss, label);
          expect(worstRatio(topK.grad, full.grad, 5e-5, 1e-7), label).toBeLessThanOrEqual(1);
        }

        // Bucket mode with every class listed has an empty tail and the same loss at T = 1.
        if (temperature === 1) {
          const bucket = kit.topKDistillationLoss(student, teacher.indices, teacher.logprobs, { ...options, tail: "bucket" });
          expectLoss(bucket, full.loss, `${classes} classes, bucket`);
        }
      }
    }
  });

  it("takes the hard term with labels and ignoreIndex", () => {
    const kit = kits[name];
    const classes = 131;
    const rows = 5;
    const k = 8;
    const student = randomNormal(rows * classes, 801, 2);
    const teacher = topKOf(randomNormal(rows * classes, 802, 3), classes, k);
    const labels = [3, 7, 130, 0, 55];
    teacher.indices.subarray(2 * k, 3 * k).set(teacher.indices.subarray(0, k)); // row 2 is ignored below

    for (const [alpha, temperature, tail, ignoreIndex] of [
      [0.3, 1, "drop", -100],
      [0.3, 2, "drop", -100],
      [0.7, 1, "bucket", 130],
      [0, 1.5, "drop", 130],
      [1, 1, "bucket", -100],
    ] as const) {
      const options = { classes, alpha, temperature, tail, labels, ignoreIndex };
      const result = kit.topKDistillationLossWithGrad(student, teacher.indices, teacher.logprobs, options);
      const expected = reference(student, classes, { indices: teacher.indices, values: teacher.logprobs }, k, options);
      const label = `alpha ${alpha}, T = ${temperature}, ${tail}, ignoreIndex ${ignoreIndex}`;
      expectLoss(result.loss, expected.loss, label);
      expectGrad(result.grad, expected.grad, rows, label);
      if (ignoreIndex === 130) expect(result.grad.subarray(2 * classes, 3 * classes).every((g) => g === 0), label).toBe(true);
    }
  });

  it("reduces with none, sum and mean, and takes gradOutput", () => {
    const kit = kits[name];
    const classes = 37;
    const rows = 4;
    const k = 6;
    const student = randomNormal(rows * classes, 901, 2);
    const teacher = topKOf(randomNormal(rows * classes, 902, 3), classes, k);
    const labels = [1, -100, 2, 36];
    const base = { classes, labels, alpha: 0.6, temperature: 2 };
    const values = { indices: teacher.indices, values: teacher.logprobs };

    const none = kit.topKDistillationLossWithGrad(student, teacher.indices, teacher.logprobs, {
      ...base,
      reduction: "none",
      gradOutput: [0.5, 2, -1, 3],
    });
    const expectedNone = reference(student, classes, values, k, base, "none", [0.5, 2, -1, 3]);
    expect(worstRatio(none.loss, expectedNone.rowLoss, 5e-5, 2e-6)).toBeLessThanOrEqual(1);
    expect(none.loss[1]).toBe(0);
    expectGrad(none.grad, expectedNone.grad, 1);

    const sum = kit.topKDistillationLossWithGrad(student, teacher.indices, teacher.logprobs, { ...base, reduction: "sum" });
    const expectedSum = reference(student, classes, values, k, base, "sum");
    expectLoss(sum.loss, expectedSum.loss);
    expectGrad(sum.grad, expectedSum.grad, 1);

    const mean = kit.topKDistillationLoss(student, teacher.indices, teacher.logprobs, base);
    expectLoss(mean, expectedSum.loss / 3);
  });

  it("matches central differences of the float64 loss", () => {
    const kit = kits[name];
    const classes = 11;
    const rows = 2;
    const k = 4;
    const student = randomNormal(rows * classes, 1001, 1.5);
    const teacher = topKOf(randomNormal(rows * classes, 1002, 2), classes, k);
    const labels = [2, 9];
    for (const [tail, temperature] of [
      ["drop", 1],
      ["drop", 2],
      ["bucket", 1],
    ] as const) {
      const o = { tail, temperature, alpha: 0.4, labels, ignoreIndex: -100 };
      const { grad } = kit.topKDistillationLossWithGrad(student, teacher.indices, teacher.logprobs, { classes, ...o });
      const loss = (s: number[][]) =>
        topKDistillationReduced64(s, split(teacher.indices, k), split(teacher.logprobs, k), o).loss;
      const numeric = numericGradMatrix(loss, rowsOf(student, classes), 1e-5);
      expect(worstRatio(grad, numeric, 1e-4, 1e-6), `${tail}, T = ${temperature}`).toBeLessThanOrEqual(1);
    }
  });

  it("reads padding as no token and ignores its values", () => {
    const kit = kits[name];
    const classes = 40;
    const k = 6;
    const student = randomNormal(3 * classes, 1101, 2);
    const teacher = topKOf(randomNormal(3 * classes, 1102, 3), classes, k);

    // Row 0 keeps 6 tokens, row 1 keeps 2 and row 2 keeps 1, with padding at either end or between.
    const indices = teacher.indices.slice();
    const values = teacher.logprobs.slice();
    for (const j of [k + 0, k + 3, k + 4, k + 5, 2 * k + 0, 2 * k + 1, 2 * k + 2, 2 * k + 4, 2 * k + 5]) {
      indices[j] = -1;
      values[j] = j % 2 === 0 ? NaN : 5;
    }
    for (const tail of ["drop", "bucket"] as const) {
      const result = kit.topKDistillationLossWithGrad(student, indices, values, { classes, tail, reduction: "none" });
      const expected = reference(student, classes, { indices, values }, k, { tail }, "none");
      expect(worstRatio(result.loss, expected.rowLoss, 5e-5, 2e-6), tail).toBeLessThanOrEqual(1);
      expectGrad(result.grad, expected.grad, 1, tail);
    }

    // A bucket row of only padding is all tail: loss 0 and gradient 0.
    const empty = new Int32Array(k).fill(-1);
    const single = kit.topKDistillationLossWithGrad(student.subarray(0, classes), empty, new Float32Array(k), {
      classes,
      tail: "bucket",
    });
    expect(single.loss).toBe(0);
    expect(single.grad.every((g) => Math.abs(g) < 1e-7)).toBe(true);
  });

  it("gives the same result in any order of the tokens", () => {
    const kit = kits[name];
    const classes = 300;
    const k = 12;
    const student = randomNormal(2 * classes, 1201, 2);
    const teacher = topKOf(randomNormal(2 * classes, 1202, 3), classes, k);

    // Each row's tokens in reverse order, and row 1 rotated by 5.
    const indices = teacher.indices.slice();
    const values = teacher.logprobs.slice();
    indices.subarray(0, k).reverse();
    values.subarray(0, k).reverse();
    for (let j = 0; j < k; j++) {
      indices[k + j] = teacher.indices[k + ((j + 5) % k)];
      values[k + j] = teacher.logprobs[k + ((j + 5) % k)];
    }
    for (const tail of ["drop", "bucket"] as const) {
      const options = { classes, tail, reduction: "none" as const };
      const a = kit.topKDistillationLossWithGrad(student, teacher.indices, teacher.logprobs, options);
      const b = kit.topKDistillationLossWithGrad(student, indices, values, options);
      expect(Array.from(b.loss), tail).toEqual(Array.from(a.loss));
      expect(Array.from(b.grad), tail).toEqual(Array.from(a.grad));
    }
  });

  it("keeps the tail gradient when the tail underflows exp", () => {
    // Tokens 100 above the tail: exp(x) of the tail underflows float32 (below exp(-87.3)), and
    // q_i / q_tail does not.
    const kit = kits[name];
    const classes = 50;
    const k = 5;
    const student = new Float32Array(classes).map((_, i) => (i < k ? 100 + i : -((i * 7) % 5)));
    const indices = Int32Array.from({ length: k }, (_, j) => j);
    const values = Float32Array.from([-1, -2, -3, -4, -4.5]);
    const result = kit.topKDistillationLossWithGrad(student, indices, values, { classes, tail: "bucket" });
    const expected = reference(student, classes, { indices, values }, k, { tail: "bucket" });
    expectLoss(result.loss, expected.loss);
    expectGrad(result.grad, expected.grad, 1);
    expect(result.grad[k]).toBeLessThan(0);
  });
});

describe.each(["wasm", "js"])("%s backend: top-k distillation on non-finite values", (name) => {
  const classes = 23;
  const k = 5;
  const options = (extra: { tail?: "drop" | "bucket"; alpha?: number } = {}) => ({
    classes,
    reduction: "none" as const,
    labels: [1, 2, 3],
    alpha: 0.8,
    ...extra,
  });

  function setup(seed: number) {
    const student = randomNormal(3 * classes, seed, 2);
    const teacher = topKOf(randomNormal(3 * classes, seed + 1, 3), classes, k);
    return { student, teacher };
  }

  it("masks -Infinity student classes in the tail", () => {
    const kit = kits[name];
    const { student, teacher } = setup(1301);
    const masked = student.slice();
    const tailClass = Array.from({ length: classes }, (_, i) => i).find((i) => !teacher.indices.subarray(k, 2 * k).includes(i))!;
    masked[classes + tailClass] = -Infinity;
    for (const tail of ["drop", "bucket"] as const) {
      const result = kit.topKDistillationLossWithGrad(masked, teacher.indices, teacher.logprobs, options({ tail }));
      const expected = reference(masked, classes, { indices: teacher.indices, values: teacher.logprobs }, k, options({ tail }), "none");
      expect(worstRatio(result.loss, expected.rowLoss, 5e-5, 2e-6), tail).toBeLessThanOrEqual(1);
      expect(result.grad[classes + tailClass], tail).toBe(0);
      expectGrad(result.grad, expected.grad, 1, tail);
    }
  });

  it("gives +Infinity for a masked token with teacher mass", () => {
    const kit = kits[name];
    const { student, teacher } = setup(1401);
    const masked = student.slice();
    const token = teacher.indices[k + 2];
    masked[classes + token] = -Infinity;
    const result = kit.topKDistillationLossWithGrad(masked, teacher.indices, teacher.logprobs, options({ alpha: 1 }));
    expect(result.loss[1]).toBe(Infinity);
    expect(Number.isFinite(result.loss[0])).toBe(true);
    expect(Number.isFinite(result.loss[2])).toBe(true);

    // The gradient stays finite: -c P at the masked token, c Q elsewhere (c = 1 here).
    const p = Math.exp(teacher.logprobs[k + 2]) / teacher.logprobs.subarray(k, 2 * k).reduce((s, v) => s + Math.exp(v), 0);
    expect(result.grad[classes + token]).toBeCloseTo(-p, 6);
    expect(result.grad.subarray(classes, 2 * classes).every(Number.isFinite)).toBe(true);
  });

  it("gives +Infinity when the tail is all masked and has teacher mass", () => {
    const kit = kits[name];
    const indices = Int32Array.from([0, 1]);
    const values = Float32Array.from([Math.log(0.5), Math.log(0.3)]);
    const student = Float32Array.from([1, 2, -Infinity, -Infinity]);
    const bucket = kit.topKDistillationLossWithGrad(student, indices, values, { classes: 4, tail: "bucket" });
    expect(bucket.loss).toBe(Infinity);
    expect(bucket.grad[2]).toBe(0);
    expect(bucket.grad[3]).toBe(0);
    expect(bucket.grad.every(Number.isFinite)).toBe(true);

    // Without teacher mass in the tail (drop) the masked tail adds nothing.
    const drop = kit.topKDistillationLossWithGrad(student, indices, values, { classes: 4 });
    const expected = reference(student, 4, { indices, values }, 2);
    expectLoss(drop.loss, expected.loss);
    expect(drop.grad[2]).toBe(0);
  });

  it("poisons only the row of a NaN", () => {
    const kit = kits[name];
    const { student, teacher } = setup(1501);
    const clean = kit.topKDistillationLossWithGrad(student, teacher.indices, teacher.logprobs, options({ tail: "bucket" }));

    const cases: Array<[string, Float32Array, Float32Array]> = [];
    const studentInTail = student.slice();
    const tailClass = Array.from({ length: classes }, (_, i) => i).find((i) => !teacher.indices.subarray(k, 2 * k).includes(i))!;
    studentInTail[classes + tailClass] = NaN;
    cases.push(["student NaN in the tail", studentInTail, teacher.logprobs]);
    const studentOnToken = student.slice();
    studentOnToken[classes + teacher.indices[k + 1]] = NaN;
    cases.push(["student NaN on a token", studentOnToken, teacher.logprobs]);
    const teacherNaN = teacher.logprobs.slice();
    teacherNaN[k + 3] = NaN;
    cases.push(["teacher NaN", student, teacherNaN]);
    const plusInfinity = student.slice();
    plusInfinity[classes + tailClass] = Infinity;
    cases.push(["student +Infinity", plusInfinity, teacher.logprobs]);

    for (const [label, s, v] of cases) {
      for (const tail of ["drop", "bucket"] as const) {
        const result = kit.topKDistillationLossWithGrad(s, teacher.indices, v, options({ tail }));
        const reference = tail === "bucket" ? clean : kit.topKDistillationLossWithGrad(student, teacher.indices, teacher.logprobs, options({ tail }));
        expect(result.loss[1], `${label}, ${tail}`).toBeNaN();
        expect(result.loss[0], `${label}, ${tail}`).toBe(reference.loss[0]);
        expect(result.loss[2], `${label}, ${tail}`).toBe(reference.loss[2]);
        expect(result.grad.subarray(classes, 2 * classes).every(Number.isNaN), `${label}, ${tail}`).toBe(true);
        expect(Array.from(result.grad.subarray(0, classes)), `${label}, ${tail}`).toEqual(Array.from(reference.grad.subarray(0, classes)));
      }
    }
  });

  it("reads a -Infinity teacher value as probability 0", () => {
    const kit = kits[name];
    const { student, teacher } = setup(1551);
    const values = teacher.logprobs.slice();
    values[k + 4] = -Infinity;
    const padded = teacher.indices.slice();
    padded[k + 4] = -1;
    for (const tail of ["drop", "bucket"] as const) {
      const zero = kit.topKDistillationLossWithGrad(student, teacher.indices, values, options({ tail }));
      const expected = reference(student, classes, { indices: teacher.indices, values }, k, options({ tail }), "none");
      expect(worstRatio(zero.loss, expected.rowLoss, 5e-5, 2e-6), tail).toBeLessThanOrEqual(1);
      expectGrad(zero.grad, expected.grad, 1, tail);

      // With drop, a token of probability 0 and a class outside the tokens give the same loss.
      // With bucket they differ: the token's target is 0, while the tail shares r.
      if (tail === "drop") {
        const absent = kit.topKDistillationLossWithGrad(student, padded, values, options({ tail }));
        expect(worstRatio(zero.loss, Array.from(absent.loss), 1e-6, 1e-7)).toBeLessThanOrEqual(1);
        expect(worstRatio(zero.grad, Array.from(absent.grad), 1e-6, 1e-8)).toBeLessThanOrEqual(1);
      }
    }
  });

  it("makes the row of a +Infinity teacher logit NaN", () => {
    const kit = kits[name];
    const { student, teacher } = setup(1561);
    const logits = teacher.logits.slice();
    logits[2 * k + 1] = Infinity;
    const result = kit.topKDistillationLossWithGrad(student, teacher.indices, logits, { ...options({ alpha: 0.5 }), values: "logits" });
    expect(result.loss[2]).toBeNaN();
    expect(Number.isFinite(result.loss[0])).toBe(true);
    expect(Number.isFinite(result.loss[1])).toBe(true);
    expect(result.grad.subarray(2 * classes).every(Number.isNaN)).toBe(true);
  });

  it("does not read ignored rows", () => {
    const kit = kits[name];
    const { student, teacher } = setup(1601);
    const s = student.slice();
    s.fill(NaN, classes, 2 * classes);
    const v = teacher.logprobs.slice();
    v.fill(7, k, 2 * k);
    const labels = [1, -100, 3];
    const result = kit.topKDistillationLossWithGrad(s, teacher.indices, v, { classes, labels, tail: "bucket" });
    const expected = reference(student, classes, { indices: teacher.indices, values: teacher.logprobs }, k, { labels, tail: "bucket" });
    expectLoss(result.loss, expected.loss);
    expect(result.grad.subarray(classes, 2 * classes).every((g) => g === 0)).toBe(true);
  });
});

describe("wasm and js backends on top-k distillation", () => {
  it("agree at 6x5003 with k = 64, handles and gradOut", () => {
    const classes = 5003;
    const k = 64;
    const student = randomNormal(6 * classes, 1701, 3);
    const teacher = topKOf(randomNormal(6 * classes, 1702, 3), classes, k);
    const labels = [0, 4, 5002, -100, 77, 1];
    for (const options of [
      { classes, labels, temperature: 2, alpha: 0.3 },
      { classes, labels, tail: "bucket" as const },
    ]) {
      const js = kits.js.topKDistillationLossWithGrad(student, teacher.indices, teacher.logprobs, options);
      const wasm = kits.loaded.topKDistillationLossWithGrad(student, teacher.indices, teacher.logprobs, options);
      expectLoss(wasm.loss, js.loss);
      expect(worstRatio(wasm.grad, js.grad, 5e-5, 1e-8)).toBeLessThanOrEqual(1);

      const uploaded = kits.loaded.upload(student, { classes });
      const gradOut = kits.loaded.alloc(student.length, { classes });
      const resident = kits.loaded.topKDistillationLossWithGrad(uploaded, teacher.indices, teacher.logprobs, { ...options, gradOut });
      expect(resident.grad).toBe(gradOut);
      expect(resident.loss).toBe(wasm.loss);
      expect(Array.from(gradOut.toArray())).toEqual(Array.from(wasm.grad));
      uploaded.free();
      gradOut.free();
    }
  });

  it("give the same result on two threads", async () => {
    // 64 x 32000 logits (8 MiB) are enough for the pool to split the rows and stage the copies.
    const classes = 32000;
    const rows = 64;
    const k = 50;
    const student = randomNormal(rows * classes, 1901, 3);
    const teacher = topKOf(randomNormal(rows * classes, 1902, 3), classes, k);
    const labels = Int32Array.from({ length: rows }, (_, r) => (r % 9 === 4 ? -100 : (r * 7919) % classes));
    const threaded = await loadLogitKit({ backend: "wasm", threads: 2 });
    try {
      expect(threaded.threads).toBe(2);
      for (const options of [
        { classes, labels, tail: "bucket" as const },
        { classes, labels, temperature: 2 },
      ]) {
        const one = kits.wasm.topKDistillationLossWithGrad(student, teacher.indices, teacher.logprobs, options);
        const two = threaded.topKDistillationLossWithGrad(student, teacher.indices, teacher.logprobs, options);
        expect(two.loss).toBe(one.loss);
        const mismatch = firstDifference(two.grad, one.grad);
        expect(mismatch).toBe(-1);
      }
    } finally {
      threaded.dispose();
    }
  });

  it("give the same result on a LogitKitWorker", async () => {
    const classes = 97;
    const k = 10;
    const student = randomNormal(3 * classes, 1801, 2);
    const teacher = topKOf(randomNormal(3 * classes, 1802, 3), classes, k);
    const remote = await loadLogitKitWorker({ backend: "js" });
    try {
      const options = { classes, tail: "bucket" as const, labels: [1, 2, 3] };
      const local = kits.js.topKDistillationLossWithGrad(student, Array.from(teacher.indices), teacher.logprobs, options);
      const result = await remote.topKDistillationLossWithGrad(student, Array.from(teacher.indices), teacher.logprobs, options);
      expect(result.loss).toBe(local.loss);
      expect(Array.from(result.grad)).toEqual(Array.from(local.grad));
      await expect(remote.topKDistillationLoss(student, [0], teacher.logprobs, { classes })).rejects.toThrow(RangeError);
    } finally {
      await remote.dispose();
    }
  });
});

type Invalid = [description: string, call: (kit: LogitKit) => unknown, type: typeof TypeError, pieces: string[]];

const s6 = new Float32Array([1, 2, 3, 4, 5, 6]);
const i4 = Int32Array.from([0, 2, 1, 0]);
const v4 = Float32Array.from([-0.5, -1.5, -0.2, -2]);

// Each case: the call, the error type and fragments its message must contain.
const INVALID: Invalid[] = [
  ["indices a Float32Array", (k) => k.topKDistillationLoss(s6, new Float32Array(4) as never, v4, { classes: 3 }), TypeError, ["teacherIndices", "Int32Array or an array of integers", "Float32Array(4)"]],
  ["indices not a multiple of rows", (k) => k.topKDistillationLoss(s6, [0, 1, 2], Float32Array.from([-1, -1, -1]), { classes: 3 }), RangeError, ["teacherIndices.length", "multiple of the number of rows (2)", "got 3"]],
  ["indices empty for rows", (k) => k.topKDistillationLoss(s6, [], new Float32Array(0), { classes: 3 }), RangeError, ["teacherIndices.length", "positive multiple", "got 0"]],
  ["indices for an empty batch", (k) => k.topKDistillationLoss(new Float32Array(0), [0], Float32Array.from([-1]), { classes: 3 }), RangeError, ["teacherIndices.length", "0 for a batch of 0 rows", "got 1"]],
  ["index out of range", (k) => k.topKDistillationLoss(s6, [0, 3, 1, 0], v4, { classes: 3 }), RangeError, ["teacherIndices[1]", "[0, 3) or -1", "got 3"]],
  ["index below -1", (k) => k.topKDistillationLoss(s6, [0, -2, 1, 0], v4, { classes: 3 }), RangeError, ["teacherIndices[1]", "got -2"]],
  ["index fractional", (k) => k.topKDistillationLoss(s6, [0, 0.5, 1, 0], v4, { classes: 3 }), RangeError, ["teacherIndices[1]", "got 0.5"]],
  ["index a string", (k) => k.topKDistillationLoss(s6, [0, "1", 1, 0] as never, v4, { classes: 3 }), TypeError, ["teacherIndices[1]", "integer", 'got "1"']],
  ["index repeated in a row", (k) => k.topKDistillationLoss(s6, [0, 2, 1, 1], v4, { classes: 3 }), RangeError, ["teacherIndices[3] repeats token 1 of teacherIndices[2] in row 1", "distinct"]],
  ["values of the wrong length", (k) => k.topKDistillationLoss(s6, i4, new Float32Array(6), { classes: 3 }), RangeError, ["teacherValues.length", "teacherIndices.length (4)", "got 6"]],
  ["values a number[]", (k) => k.topKDistillationLoss(s6, i4, [-1, -1, -1, -1] as never, { classes: 3 }), TypeError, ["teacherValues must be a Float32Array", "got Array(4)"]],
  ["values unknown", (k) => k.topKDistillationLoss(s6, i4, v4, { classes: 3, values: "probs" as never }), RangeError, ["options.values", '"logprobs", "logits"', 'got "probs"']],
  ["tail unknown", (k) => k.topKDistillationLoss(s6, i4, v4, { classes: 3, tail: 1 as never }), TypeError, ["options.tail", '"drop", "bucket"', "got 1"]],
  ["bucket with logits", (k) => k.topKDistillationLoss(s6, i4, v4, { classes: 3, tail: "bucket", values: "logits" }), RangeError, ['options.tail "bucket" requires options.values "logprobs"', 'got values "logits"']],
  ["bucket at another temperature", (k) => k.topKDistillationLoss(s6, i4, v4, { classes: 3, tail: "bucket", temperature: 2 }), RangeError, ['options.tail "bucket" requires options.temperature 1', "got 2"]],
  ["positive log-probability", (k) => k.topKDistillationLoss(s6, i4, Float32Array.from([-0.5, 2.5, -0.2, -2]), { classes: 3 }), RangeError, ["teacherValues[1]", "log-probability <= 0", "got 2.5", 'values: "logits"']],
  ["bucket probabilities above 1", (k) => k.topKDistillationLoss(s6, i4, Float32Array.from([-0.1, -0.2, -0.2, -2]), { classes: 3, tail: "bucket" }), RangeError, ["row 0 sum to", "above 1", "temperature 1"]],
  ["drop row of only padding", (k) => k.topKDistillationLoss(s6, [0, 1, -1, -1], v4, { classes: 3 }), RangeError, ["row 1 of teacherIndices has no token", 'tail: "bucket"', "ignoreIndex"]],
  ["reduction batchmean", (k) => k.topKDistillationLoss(s6, i4, v4, { classes: 3, reduction: "batchmean" as never }), RangeError, ["options.reduction", '"none", "sum", "mean"', 'got "batchmean"']],
  ["label out of range", (k) => k.topKDistillationLossWithGrad(s6, i4, v4, { classes: 3, labels: [0, 3] }), RangeError, ["options.labels[1]", "[0, 3)", "got 3"]],
  ["alpha above 1", (k) => k.topKDistillationLoss(s6, i4, v4, { classes: 3, alpha: 1.5 }), RangeError, ["options.alpha", "[0, 1]", "got 1.5"]],
  ["temperature zero", (k) => k.topKDistillationLoss(s6, i4, v4, { classes: 3, temperature: 0 }), RangeError, ["options.temperature", "got 0"]],
  ["gradOut on the forward call", (k) => k.topKDistillationLoss(s6, i4, v4, { classes: 3, gradOut: new Float32Array(6) } as never), TypeError, ['unknown option "gradOut"']],
  ["gradOut of the wrong length", (k) => k.topKDistillationLossWithGrad(s6, i4, v4, { classes: 3, gradOut: new Float32Array(5) }), RangeError, ["options.gradOut.length", "must be 6", "got 5"]],
  ["gradOut overlapping the student", (k) => k.topKDistillationLossWithGrad(s6, i4, v4, { classes: 3, gradOut: s6 }), RangeError, ["options.gradOut overlaps studentLogits"]],
  ["gradOutput without none", (k) => k.topKDistillationLossWithGrad(s6, i4, v4, { classes: 3, gradOutput: [1, 1] }), RangeError, ["options.gradOutput", 'reduction "none"']],
  ["student not a multiple of classes", (k) => k.topKDistillationLoss(s6, i4, v4, { classes: 4 }), RangeError, ["studentLogits.length", "multiple of options.classes (4)"]],
  ["classes missing", (k) => k.topKDistillationLoss(s6, i4, v4, {} as never), TypeError, ["options.classes is missing"]],
];

describe.each(["wasm", "js"])("%s backend: top-k distillation rejects invalid input", (name) => {
  for (const [description, call, type, pieces] of INVALID) {
    it(description, () => {
      const kit = kits[name];
      expectError(() => call(kit), type, pieces);

      // The object stays usable: a valid call right after gives the reference value.
      const loss = kit.topKDistillationLoss(s6, i4, v4, { classes: 3 });
      expectLoss(loss, reference(s6, 3, { indices: i4, values: v4 }, 2).loss);
    });
  }

  it("accepts padding values, rounding above 0 and ignored rows", () => {
    const kit = kits[name];
    // A log-probability of 5e-5 (rounding) is accepted and a bucket sum up to 1 + 1e-4 is renormalised.
    const rounded = Float32Array.from([5e-5, -20, -0.2, -2]);
    const bucket = kit.topKDistillationLoss(s6, i4, rounded, { classes: 3, tail: "bucket" });
    expectLoss(bucket, reference(s6, 3, { indices: i4, values: rounded }, 2, { tail: "bucket" }).loss);

    // Checks on values skip ignored rows: row 1 has a positive log-probability and no token.
    const loss = kit.topKDistillationLoss(s6, [0, 2, -1, -1], Float32Array.from([-0.5, -1.5, 9, 9]), {
      classes: 3,
      labels: [1, -100],
      alpha: 1,
    });
    expectLoss(loss, reference(s6.subarray(0, 3), 3, { indices: [0, 2], values: [-0.5, -1.5] }, 2).loss);
  });

  it("gives NaN for an empty batch and 0 with sum", () => {
    const kit = kits[name];
    const empty = new Float32Array(0);
    expect(kit.topKDistillationLoss(empty, [], empty, { classes: 3 })).toBeNaN();
    expect(kit.topKDistillationLoss(empty, [], empty, { classes: 3, reduction: "sum" })).toBe(0);
    expect(kit.topKDistillationLossWithGrad(empty, [], empty, { classes: 3 }).grad.length).toBe(0);
  });
});
