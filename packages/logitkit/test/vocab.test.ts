/**
 * The vocabulary accumulator: rows whose logits arrive in chunks of classes. Random splits, in any
 * order and merged through state() in any tree, must give the whole rows' results on every
 * backend, against the kit's own whole-row functions and a float64 reference.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { createKit } from "../src/kit.js";
import { loadWasmKernels } from "../src/backends/embedded.js";
import { loadLogitKit, type LogitKit, type VocabAccumulator, type VocabState } from "../src/index.js";
import { crossEntropyLabel64, entropyOfLogits64, klLogits64, logSumExp64, randomNormal, rowsOf } from "./reference.js";
import { expectError } from "./expect-error.js";

/** A deterministic generator of floats in [0, 1). */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state ^ (state >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return state / 2 ** 32;
  };
}

/** Cuts [0, classes) into random chunks, widths around 1 to 17 and multiples of 4 and 16. */
function randomCuts(classes: number, random: () => number): number[] {
  const widths = [1, 2, 3, 4, 5, 7, 8, 12, 15, 16, 17, 31, 32, 33, 64, 100];
  const cuts = [0];
  while (cuts[cuts.length - 1] < classes) {
    const width = widths[Math.floor(random() * widths.length)];
    cuts.push(Math.min(classes, cuts[cuts.length - 1] + width));
  }
  return cuts;
}

/** Returns the columns [start, end) of a row-major matrix as a new rows x (end - start) matrix. */
function columns(data: Float32Array, classes: number, start: number, end: number): Float32Array {
  const rows = data.length / classes;
  const width = end - start;
  const out = new Float32Array(rows * width);
  for (let r = 0; r < rows; r++) out.set(data.subarray(r * classes + start, r * classes + end), r * width);
  return out;
}

/** Shuffles a copy of `values`. */
function shuffled<T>(values: T[], random: () => number): T[] {
  const copy = values.slice();
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy;
}

/** Fails unless `actual` is within rtol * |expected| + atol of `expected`, NaN and infinities matching exactly. */
function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, atol: number, label: string): void {
  expect(actual.length, label).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const [a, e] = [actual[i], expected[i]];
    if (!Number.isFinite(e)) {
      expect(Object.is(a, e), `${label}[${i}]: ${a} vs ${e}`).toBe(true);
      continue;
    }
    expect(Math.abs(a - e), `${label}[${i}]: ${a} vs ${e}`).toBeLessThanOrEqual(rtol * Math.abs(e) + atol);
  }
}

interface Case {
  rows: number;
  classes: number;
  z: Float32Array;
  t: Float32Array;
  labels: Int32Array;
  temperature: number;
  labelSmoothing: number;
}

/** Feeds `c` to an accumulator in random chunks and order, through merged states of sub-accumulators. */
function accumulate(kit: LogitKit, c: Case, random: () => number, withTeacher: boolean): VocabAccumulator {
  const options = { rows: c.rows, classes: c.classes, labels: c.labels, temperature: c.temperature, labelSmoothing: c.labelSmoothing };
  const cuts = randomCuts(c.classes, random);
  const chunks = shuffled(
    cuts.slice(0, -1).map((start, i) => [start, cuts[i + 1]] as const),
    random,
  );

  // Each chunk goes to one of a few accumulators, which then merge pairwise in random order,
  // partly as copies of their state that went through structuredClone.
  const parts = Array.from({ length: 1 + Math.floor(random() * 4) }, () => kit.vocabAccumulator(options));
  for (const [start, end] of chunks) {
    const part = parts[Math.floor(random() * parts.length)];
    const teacher = withTeacher ? columns(c.t, c.classes, start, end) : undefined;
    part.add(columns(c.z, c.classes, start, end), { offset: start, ...(teacher ? { teacher } : {}) });
  }
  while (parts.length > 1) {
    const [a] = parts.splice(Math.floor(random() * parts.length), 1);
    const b = parts[Math.floor(random() * parts.length)];
    b.merge(random() < 0.5 ? a : (structuredClone(a.state()) as VocabState));
  }
  return parts[0];
}

const KITS: Array<[string, () => Promise<LogitKit>]> = [
  ["js", () => loadLogitKit({ backend: "js" })],
  ["wasm", () => loadLogitKit({ backend: "wasm" })],
  // Without the small-input routing, so chunks of a few classes reach the SIMD kernel.
  ["wasm kernels", async () => createKit((await loadWasmKernels()).kernels)],
];

describe.each(KITS)("vocabAccumulator on %s", (_name, load) => {
  let kit: LogitKit;

  beforeAll(async () => {
    kit = await load();
  });

  it("matches whole rows for random splits", () => {
    for (let trial = 0; trial < 40; trial++) {
      const random = generator(100 + trial);
      const rows = 1 + Math.floor(random() * 5);
      const classes = [1, 3, 4, 5, 16, 17, 63, 64, 65, 257, 1000][trial % 11];
      const scale = [0.01, 1, 4, 30][trial % 4];
      const z = randomNormal(rows * classes, 10 + trial, scale);

      // The teacher is near the model in half of the trials, as a quantized copy is.
      const noise = randomNormal(rows * classes, 20 + trial, trial % 2 === 0 ? 1e-3 : scale);
      const t = Float32Array.from(z, (v, i) => (trial % 2 === 0 ? v : 0) + noise[i]);
      const labels = Int32Array.from({ length: rows }, (_, r) => (r === 1 ? -100 : Math.floor(random() * classes)));
      const c: Case = { rows, classes, z, t, labels, temperature: [1, 0.5, 2.5][trial % 3], labelSmoothing: [0, 0.1, 1][trial % 3] };
      const label = `trial ${trial} (${rows} x ${classes})`;
      const o = { classes, temperature: c.temperature };
      const acc = accumulate(kit, c, random, true);

      expect(acc.covered).toBe(classes);
      expectClose(acc.logSumExp(), kit.logSumExp(z, o), 2e-7, 1e-6, `${label} logSumExp`);
      expectClose(acc.entropy({ reduction: "none" }), kit.entropyOfLogits(z, { ...o, reduction: "none" }), 1e-5, 1e-6, `${label} entropy`);
      expectClose(
        acc.crossEntropy({ reduction: "none" }),
        kit.crossEntropy(z, labels, { ...o, labelSmoothing: c.labelSmoothing, reduction: "none" }),
        1e-5,
        1e-6,
        `${label} crossEntropy`,
      );
      expectClose(acc.klDivergence({ reduction: "none" }), kit.klDivergence(t, z, { ...o, reduction: "none" }), 1e-4, 1e-7, `${label} KL`);

      // Against float64 too, and the reductions against the per-row values.
      const zRows = rowsOf(z, classes);
      const tRows = rowsOf(t, classes);
      expectClose(acc.logSumExp(), zRows.map((row) => logSumExp64(row, c.temperature)), 1e-6, 1e-6, `${label} logSumExp64`);
      expectClose(
        acc.entropy({ reduction: "none" }),
        zRows.map((row) => entropyOfLogits64(row, c.temperature).loss),
        1e-5,
        1e-6,
        `${label} entropy64`,
      );
      const ce64 = zRows.map((row, r) =>
        labels[r] === -100 ? 0 : crossEntropyLabel64(row, labels[r], { temperature: c.temperature, labelSmoothing: c.labelSmoothing }).loss,
      );
      expectClose(acc.crossEntropy({ reduction: "none" }), ce64, 1e-5, 1e-6, `${label} crossEntropy64`);
      const kl64 = tRows.map((row, r) => klLogits64(row, zRows[r], c.temperature).loss);
      expectClose(acc.klDivergence({ reduction: "none" }), kl64, 1e-3, 1e-7, `${label} KL64`);
      const counted = labels.filter((l) => l !== -100).length;
      expectClose([acc.crossEntropy() as number], [ce64.reduce((s, v) => s + v, 0) / counted], 1e-5, 1e-6, `${label} mean`);
      expectClose([acc.klDivergence({ reduction: "sum" }) as number], [kl64.reduce((s, v) => s + v, 0)], 1e-5, 1e-7, `${label} sum`);
    }
  });

  it("keeps a small KL accurate", () => {
    // A model and a copy with logits 1e-4 apart: KL near 1e-9, where subtracting log-probabilities fails.
    const classes = 4096;
    const z = randomNormal(2 * classes, 7, 3);
    const noise = randomNormal(2 * classes, 8, 1e-4);
    const t = Float32Array.from(z, (v, i) => v + noise[i]);
    const c: Case = { rows: 2, classes, z, t, labels: new Int32Array(2), temperature: 1, labelSmoothing: 0 };
    const acc = accumulate(kit, c, generator(5), true);
    const kl64 = rowsOf(t, classes).map((row, r) => klLogits64(row, rowsOf(z, classes)[r]).loss);
    expect(kl64[0]).toBeLessThan(1e-7);
    expectClose(acc.klDivergence({ reduction: "none" }), kl64, 1e-3, 0, "KL");
  });

  it("follows the non-finite policy", () => {
    const classes = 12;
    const rows = 6;
    const z = randomNormal(rows * classes, 3, 2);
    const t = randomNormal(rows * classes, 4, 2);
    // Row 0: a NaN in one chunk. Row 1: +Infinity. Row 2: the label's class masked.
    // Row 3: the model's first chunk all masked, where the teacher has mass. Row 4: the teacher's
    // first chunk all masked. Row 5: every model logit masked.
    z[0 * classes + 9] = Number.NaN;
    z[1 * classes + 2] = Infinity;
    z[2 * classes + 5] = -Infinity;
    for (let i = 0; i < 4; i++) z[3 * classes + i] = -Infinity;
    for (let i = 0; i < 4; i++) t[4 * classes + i] = -Infinity;
    z.fill(-Infinity, 5 * classes, 6 * classes);
    const labels = Int32Array.of(1, 1, 5, 6, 6, 6);

    const acc = kit.vocabAccumulator({ rows, classes, labels });
    for (const [start, end] of [
      [8, 12],
      [0, 4],
      [4, 8],
    ]) {
      acc.add(columns(z, classes, start, end), { offset: start, teacher: columns(t, classes, start, end) });
    }
    const o = { classes };
    expectClose(acc.logSumExp(), kit.logSumExp(z, o), 2e-7, 1e-6, "logSumExp");
    expectClose(acc.entropy({ reduction: "none" }), kit.entropyOfLogits(z, { ...o, reduction: "none" }), 1e-5, 1e-6, "entropy");
    expectClose(acc.crossEntropy({ reduction: "none" }), kit.crossEntropy(z, labels, { ...o, reduction: "none" }), 1e-5, 1e-6, "crossEntropy");
    expectClose(acc.klDivergence({ reduction: "none" }), kit.klDivergence(t, z, { ...o, reduction: "none" }), 1e-4, 1e-7, "KL");

    // The policy itself, so that both sides cannot drift together.
    expect(acc.logSumExp()[1]).toBe(Infinity);
    expect(acc.logSumExp()[5]).toBe(-Infinity);
    expect(Number.isNaN(acc.logSumExp()[0])).toBe(true);
    expect((acc.crossEntropy({ reduction: "none" }) as Float32Array)[2]).toBe(Infinity);
    expect((acc.klDivergence({ reduction: "none" }) as Float32Array)[3]).toBe(Infinity);
    expect(Number.isFinite((acc.klDivergence({ reduction: "none" }) as Float32Array)[4])).toBe(true);
  });

  it("rejects invalid use and stays unchanged", () => {
    const acc = kit.vocabAccumulator({ rows: 2, classes: 10, labels: [1, 2] });
    const chunk = new Float32Array(2 * 4);
    acc.add(chunk, { offset: 2 });
    const before = acc.state();

    const cases: Array<[() => unknown, ErrorConstructor, string]> = [
      [() => kit.vocabAccumulator({ rows: 0, classes: 10 }), RangeError, "vocabAccumulator: options.rows must be an integer >= 1, got 0."],
      [() => kit.vocabAccumulator({ classes: 10 } as never), TypeError, "vocabAccumulator: options.rows must be an integer >= 1, got undefined."],
      [() => kit.vocabAccumulator({ rows: 2, classes: 10, labels: [1, 10] }), RangeError, "options.labels"],
      [() => kit.vocabAccumulator({ rows: 2, classes: 10, colour: 1 } as never), TypeError, 'unknown option "colour"'],
      [() => acc.add(new Float32Array(3), { offset: 0 }), RangeError, "add: logits.length must be a positive multiple of rows (2), got 3"],
      [() => acc.add(chunk, { offset: 7 }), RangeError, "add: options.offset must be an integer from 0 to 6 (classes - width), got 7."],
      [() => acc.add(chunk, { offset: 4 }), RangeError, "add: classes 4 to 7 overlap classes 2 to 5, which were added already"],
      [() => acc.add(chunk, { offset: 6, teacher: chunk }), RangeError, "every chunk must come with teacher logits or none"],
      [() => acc.add(chunk, { offset: 6, teacher: new Float32Array(4) }), RangeError, "options.teacher.length must be 8"],
      [() => acc.add(new Float64Array(8) as never, { offset: 6 }), TypeError, "add: logits must be a Float32Array, got Float64Array(8)"],
      [() => acc.logSumExp(), RangeError, "logSumExp: the chunks cover 4 of 10 classes (the first missing class is 0)"],
      [() => acc.entropy({ reduction: "avg" as never }), RangeError, 'entropy: options.reduction must be one of "none", "sum", "mean", "batchmean"'],
      [() => acc.klDivergence(), TypeError, "klDivergence: the chunks came without teacher logits"],
      [() => acc.merge({ ...before, rows: 3 }), RangeError, "merge: other.rows must be 2, as in this accumulator, got 3."],
      [() => acc.merge({ ...before, temperature: 2 }), RangeError, "merge: other.temperature must be 1"],
      [() => acc.merge(before), RangeError, "merge: other covers classes 2 to 5, which overlap classes 2 to 5"],
      [() => acc.merge({ ...before, sums: new Float64Array(3) }), TypeError, "merge: other.sums must be a Float64Array of 24 values"],
      [() => acc.merge(null as never), TypeError, "merge: other must be a VocabAccumulator or its state(), got null."],
      [() => kit.vocabAccumulator({ rows: 2, classes: 10 }).crossEntropy(), TypeError, "crossEntropy: the accumulator has no labels"],
      [() => acc.add(new Float32Array(2 * 11), { offset: 0 }), RangeError, "add: logits.length must be at most rows x classes (20), got 22"],
      [() => acc.merge(kit.vocabAccumulator({ rows: 2, classes: 10, labels: [1, 3] })), RangeError, "merge: other was created with other labels"],
      [() => acc.merge(kit.vocabAccumulator({ rows: 2, classes: 10 })), RangeError, "merge: other was created with other labels (or none)"],
      [() => acc.merge(kit.vocabAccumulator({ rows: 2, classes: 10, labels: [1, 2], ignoreIndex: 5 })), RangeError, "other labels"],
    ];
    for (const [run, type, text] of cases) expectError(run, type, [text]);

    const after = acc.state();
    expect(after.ranges).toEqual(before.ranges);
    expect(Array.from(after.sums)).toEqual(Array.from(before.sums));

    // The remaining chunks still complete the rows.
    acc.add(new Float32Array(2 * 2), { offset: 0 });
    acc.add(new Float32Array(2 * 4), { offset: 6 });
    expectClose(acc.logSumExp(), [Math.log(10), Math.log(10)], 1e-7, 0, "uniform rows");
    expectClose([acc.crossEntropy() as number], [Math.log(10)], 1e-7, 0, "uniform cross-entropy");
  });
});

describe("vocabAccumulator labels across merges", () => {
  it("takes each label's logit from the shard that holds it", async () => {
    const kit = await loadLogitKit({ backend: "js" });
    const z = Float32Array.of(1, 2, 3, 4, 0.5, -1, 2, 7);
    const labels = [0, 3];
    const left = kit.vocabAccumulator({ rows: 2, classes: 4, labels });
    left.add(columns(z, 4, 0, 2), { offset: 0 });
    const right = kit.vocabAccumulator({ rows: 2, classes: 4, labels });
    right.add(columns(z, 4, 2, 4), { offset: 2 });
    right.merge(structuredClone(left.state()));
    expectClose(right.crossEntropy({ reduction: "none" }) as Float32Array, kit.crossEntropy(z, labels, { classes: 4, reduction: "none" }), 1e-7, 1e-7, "CE");

    // Without labels of its own, an accumulator merges labelled shards and still gives the other results.
    const plain = kit.vocabAccumulator({ rows: 2, classes: 4 });
    plain.merge(right);
    expectClose(plain.logSumExp(), kit.logSumExp(z, { classes: 4 }), 1e-7, 1e-7, "logSumExp");
  });
});

describe("vocabAccumulator across backends", () => {
  it("merges the states of a js and a wasm accumulator", async () => {
    const [js, wasm] = [await loadLogitKit({ backend: "js" }), await loadLogitKit({ backend: "wasm" })];
    const classes = 300;
    const z = randomNormal(3 * classes, 1, 5);
    const a = js.vocabAccumulator({ rows: 3, classes });
    const b = wasm.vocabAccumulator({ rows: 3, classes });
    a.add(columns(z, classes, 0, 120), { offset: 0 });
    b.add(columns(z, classes, 120, 300), { offset: 120 });
    b.merge(a.state());
    expectClose(b.logSumExp(), js.logSumExp(z, { classes }), 2e-7, 1e-6, "logSumExp");
  });
});
