import { join } from "node:path";
import { loadLogitKit, type LogitKit } from "logitkit";
import { beforeAll, describe, expect, it } from "vitest";
import {
  compareLogits,
  KL_HISTOGRAM_RANGE,
  openCompareInputs,
  PROBABILITY_CHANGE_HISTOGRAM_RANGE,
  resolvePercentileMethod,
  type CompareFiles,
  type CompareSettings,
} from "../src/compare.js";
import { PERCENTILES, SummaryAccumulator, type Summary } from "../src/compare-summary.js";
import { DEFAULT_DATA_DIR, loadRealData } from "../src/data.js";
import { HISTOGRAM_RELATIVE_ERROR, ValueHistogram } from "../src/value-histogram.js";
import { referenceStats } from "./compare-oracle.js";

const TEACHER = join(DEFAULT_DATA_DIR, "teacher.f32");
const STUDENT = join(DEFAULT_DATA_DIR, "student-q8.f32");
const TOKENS = join(DEFAULT_DATA_DIR, "tokens.i32");
const ROWS = 1024;
const VOCAB = 512;
const storiesFiles: CompareFiles = { base: TEACHER, test: STUDENT, tokens: TOKENS, vocab: VOCAB, sequenceLength: 128 };

/** Width of the underflow buckets of both ranges, which bounds the absolute error below the bins. */
const UNDERFLOW_WIDTH = 2 ** KL_HISTOGRAM_RANGE.minExponent;

/** Bytes of a histogram over [2^min, 2^(max + 1)): 1024 bins per octave and sign, 7 other buckets, 8 edge values. */
function histogramBytes(range: { minExponent: number; maxExponent: number }): number {
  return (2 * (range.maxExponent - range.minExponent + 1) * 1024 + 7) * 8 + 8 * 8;
}
const HISTOGRAM_STORAGE_BYTES = histogramBytes(KL_HISTOGRAM_RANGE) + histogramBytes(PROBABILITY_CHANGE_HISTOGRAM_RANGE);

/** Deterministic uniform numbers in [0, 1), so that failures repeat. */
function uniformSource(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

function accumulate(accumulator: SummaryAccumulator, values: readonly number[]): Summary {
  for (const value of values) {
    accumulator.add(value);
  }
  return accumulator.summary()!;
}

/**
 * Returns the documented error bound of percentile `p` from a histogram: the relative error of
 * the two closest-rank values that it interpolates between, weighted as they are, plus the
 * width of the underflow bucket. `sorted` contains the exact values in ascending order.
 */
function percentileBound(sorted: ArrayLike<number>, p: number, slack = 0): number {
  const rank = ((sorted.length - 1) * p) / 100;
  const lower = Math.floor(rank);
  const fraction = rank - lower;
  const upper = Math.min(lower + 1, sorted.length - 1);
  const magnitude = (1 - fraction) * (Math.abs(sorted[lower]) + slack) + fraction * (Math.abs(sorted[upper]) + slack);
  return HISTOGRAM_RELATIVE_ERROR * magnitude + UNDERFLOW_WIDTH;
}

/** Checks that every histogram percentile is within its bound of the exact one, and returns the largest relative error. */
function expectPercentilesWithinBound(histogram: Summary, exact: Summary, sorted: ArrayLike<number>, slack = 0): number {
  let largestRelativeError = 0;
  for (const p of PERCENTILES) {
    const key = `p${p}`;
    const estimate = histogram.percentiles[key];
    const expected = exact.percentiles[key];
    if (!Number.isFinite(expected)) {
      expect(estimate, key).toBe(expected);
      continue;
    }

    const error = Math.abs(estimate - expected);
    expect(error, `${key}: histogram ${estimate}, exact ${expected}`).toBeLessThanOrEqual(percentileBound(sorted, p, slack));
    if (expected !== 0) {
      largestRelativeError = Math.max(largestRelativeError, error / Math.abs(expected));
    }
  }
  return largestRelativeError;
}

/** Checks that two summaries of the same values agree on everything but the percentiles. */
function expectSameMoments(histogram: Summary, exact: Summary): void {
  for (const key of ["count", "mean", "standardError", "rms", "min", "max"] as const) {
    expect(histogram[key], key).toBe(exact[key]);
  }
  expect(histogram.percentileMethod).toBe("histogram");
  expect(histogram.percentileRelativeError).toBe(2 ** -11);
  expect(exact.percentileMethod).toBe("exact");
  expect(exact.percentileRelativeError).toBe(0);
}

/** Summarizes `values` both ways and checks the histogram against the exact summary. */
function compareMethods(values: number[], range = KL_HISTOGRAM_RANGE): { histogram: Summary; exact: Summary; largestRelativeError: number } {
  const exact = accumulate(SummaryAccumulator.exact(values.length), values);
  const histogram = accumulate(SummaryAccumulator.histogram(range), values);
  const sorted = Float64Array.from(values).sort();

  expectSameMoments(histogram, exact);
  return { histogram, exact, largestRelativeError: expectPercentilesWithinBound(histogram, exact, sorted) };
}

describe("ValueHistogram", () => {
  it("bins every magnitude within half a bin", () => {
    const random = uniformSource(1);
    // Each case allocates a histogram of 0.9 MB, so the cases are few but cover every octave.
    for (let i = 0; i < 3000; i++) {
      // Magnitudes from 2^-40 to 2^14, both signs, and exact powers of two at bin edges.
      const exponent = Math.floor(random() * 54) - 40;
      const magnitude = i % 10 === 0 ? 2 ** exponent : 2 ** (exponent + random());
      const value = i % 2 === 0 ? magnitude : -magnitude;

      // The sentinels take ranks 0 and 2, so rank 1 is the estimate from the value's bin.
      const histogram = new ValueHistogram(KL_HISTOGRAM_RANGE);
      histogram.add(-1e300);
      histogram.add(value);
      histogram.add(1e300);
      const estimate = histogram.valueAtRank(1);

      expect(Math.abs(estimate - value), `value ${value}`).toBeLessThanOrEqual(HISTOGRAM_RELATIVE_ERROR * magnitude);
    }
  });

  it("returns exact zeros, infinities, min and max", () => {
    const histogram = new ValueHistogram(KL_HISTOGRAM_RANGE);
    for (const value of [0.3, -Infinity, 0, 0, -0, Infinity, 0.7, 0.5]) {
      histogram.add(value);
    }

    expect(histogram.valueAtRank(0)).toBe(-Infinity);
    expect(histogram.valueAtRank(1)).toBe(0);
    expect(histogram.valueAtRank(3)).toBe(0);
    expect(histogram.valueAtRank(7)).toBe(Infinity);
    expect(histogram.valueAtRank(6)).not.toBe(0.7);
    expect(Math.abs(histogram.valueAtRank(6) - 0.7)).toBeLessThanOrEqual(HISTOGRAM_RELATIVE_ERROR * 0.7);
  });

  it("keeps underflow and overflow values within their exact range", () => {
    const histogram = new ValueHistogram(KL_HISTOGRAM_RANGE);
    for (const value of [0, 1e-20, 2e-20, 7e-20, 1, 2e5, 3e5, 9e5, 1e300]) {
      histogram.add(value);
    }

    // Underflow bucket 1e-20 .. 7e-20 at ranks 1 to 3: its min and max are exact, and the
    // middle rank lies evenly between them.
    expect(histogram.valueAtRank(1)).toBe(1e-20);
    expect(Math.abs(histogram.valueAtRank(2) - 4e-20)).toBeLessThanOrEqual(1e-35);
    expect(histogram.valueAtRank(3)).toBe(7e-20);
    // Overflow bucket 2e5 .. 1e300 at ranks 5 to 8.
    expect(histogram.valueAtRank(5)).toBe(2e5);
    expect(histogram.valueAtRank(8)).toBe(1e300);
    expect(histogram.valueAtRank(6)).toBeGreaterThanOrEqual(2e5);
    expect(histogram.valueAtRank(6)).toBeLessThanOrEqual(1e300);
  });

  it("merges as if every value were added to one", () => {
    const random = uniformSource(2);
    const values = Array.from({ length: 5000 }, (_, i) => (i % 7 === 0 ? 0 : (random() - 0.5) * 2 ** (random() * 30 - 20)));
    const whole = new ValueHistogram(PROBABILITY_CHANGE_HISTOGRAM_RANGE);
    const first = new ValueHistogram(PROBABILITY_CHANGE_HISTOGRAM_RANGE);
    const second = new ValueHistogram(PROBABILITY_CHANGE_HISTOGRAM_RANGE);
    values.forEach((value, i) => {
      whole.add(value);
      (i < 1234 ? first : second).add(value);
    });

    first.merge(second);
    expect(first.count).toBe(whole.count);
    expect(first.min).toBe(whole.min);
    expect(first.max).toBe(whole.max);
    for (let rank = 0; rank < values.length; rank += 37) {
      expect(first.valueAtRank(rank), `rank ${rank}`).toBe(whole.valueAtRank(rank));
    }
  });

  it("rejects NaN, other ranges and invalid ranks", () => {
    const histogram = new ValueHistogram(KL_HISTOGRAM_RANGE);
    histogram.add(1);

    expect(() => histogram.add(NaN)).toThrow("cannot add NaN to a histogram");
    expect(() => histogram.merge(new ValueHistogram(PROBABILITY_CHANGE_HISTOGRAM_RANGE))).toThrow(/expected the same range/);
    expect(() => histogram.valueAtRank(1)).toThrow("invalid rank 1: expected an integer from 0 to 0");
    expect(() => new ValueHistogram({ minExponent: 3, maxExponent: 2 })).toThrow(/invalid histogram range/);
  });

  it("does not grow with the values added", () => {
    const histogram = new ValueHistogram(KL_HISTOGRAM_RANGE);
    const bytes = histogram.byteLength;
    const random = uniformSource(3);
    for (let i = 0; i < 200000; i++) {
      histogram.add(random() * 100);
    }

    expect(bytes).toBe(histogramBytes(KL_HISTOGRAM_RANGE));
    expect(histogram.byteLength).toBe(bytes);
  });
});

describe("histogram percentiles on synthetic values", () => {
  it("KL-like values with zeros, ties, tiny, huge and infinite ones", () => {
    const random = uniformSource(4);
    const values: number[] = [];
    for (let i = 0; i < 10000; i++) {
      values.push(10 ** (random() * 10 - 9));
    }
    values.push(...new Array(150).fill(0), ...new Array(500).fill(0.0123), 1e-15, 3e-14, 5e-324, 1e6, 1e30, Infinity, Infinity);

    const { histogram, exact, largestRelativeError } = compareMethods(values);
    expect(exact.percentiles["p0.1"]).toBe(0);
    expect(histogram.percentiles["p0.1"]).toBe(0);
    expect(histogram.max).toBe(Infinity);
    expect(largestRelativeError).toBeGreaterThan(0);
    expect(largestRelativeError).toBeLessThanOrEqual(HISTOGRAM_RELATIVE_ERROR);
  });

  it("probability changes of both signs", () => {
    const random = uniformSource(5);
    const values: number[] = [];
    for (let i = 0; i < 8000; i++) {
      // A heavy-tailed spread around 0, clamped to [-1, 1] as a probability change is.
      const magnitude = Math.min(1, 0.01 * Math.tan(random() * 1.5));
      values.push(random() < 0.5 ? -magnitude : magnitude);
    }
    values.push(...new Array(3000).fill(0), ...new Array(200).fill(0.25), ...new Array(200).fill(-0.25), -1, 1, 1e-14, -2e-13);

    const { histogram, exact } = compareMethods(values, PROBABILITY_CHANGE_HISTOGRAM_RANGE);
    expect(exact.percentiles.p50).toBe(0);
    expect(histogram.percentiles.p50).toBe(0);
    expect(histogram.min).toBe(-1);
    expect(histogram.max).toBe(1);
  });

  it("ties at one value are exact", () => {
    const { histogram } = compareMethods(new Array(1000).fill(0.3));

    for (const p of PERCENTILES) {
      expect(histogram.percentiles[`p${p}`]).toBe(0.3);
    }
  });

  it("tiny values below the bins stay within the underflow width", () => {
    const random = uniformSource(6);
    const values = Array.from({ length: 2000 }, () => random() * 1e-13);

    const { histogram } = compareMethods(values);
    expect(histogram.percentiles.p50).toBeLessThan(UNDERFLOW_WIDTH);
  });

  it("one value has no standard error", () => {
    const { histogram } = compareMethods([0.02]);

    expect(histogram.standardError).toBeNull();
    expect(histogram.percentiles.p50).toBe(0.02);
  });
});

describe("SummaryAccumulator storage", () => {
  it("histogram storage does not grow", () => {
    const accumulator = SummaryAccumulator.histogram(KL_HISTOGRAM_RANGE);
    const bytes = accumulator.storageBytes;
    for (let i = 0; i < 100000; i++) {
      accumulator.add(i / 1000);
    }

    expect(accumulator.method).toBe("histogram");
    expect(bytes).toBe(histogramBytes(KL_HISTOGRAM_RANGE));
    expect(accumulator.storageBytes).toBe(bytes);
  });

  it("exact storage is fixed at its capacity", () => {
    const accumulator = SummaryAccumulator.exact(3);
    accumulator.add(1);
    accumulator.add(2);
    accumulator.add(3);

    expect(accumulator.method).toBe("exact");
    expect(accumulator.storageBytes).toBe(24);
    expect(() => accumulator.add(4)).toThrow("cannot store more than 3 values for exact percentiles");
  });
});

describe("resolvePercentileMethod", () => {
  it("switches from exact to histogram past the cap", () => {
    expect(resolvePercentileMethod("auto", 100, 100)).toBe("exact");
    expect(resolvePercentileMethod("auto", 101, 100)).toBe("histogram");
    expect(resolvePercentileMethod("exact", 101, 100)).toBe("exact");
    expect(resolvePercentileMethod("histogram", 1, 100)).toBe("histogram");
  });
});

describe("compareLogits percentiles on stories260K", () => {
  const data = loadRealData();
  const reference = referenceStats(data.teacher, data.student, data.tokens, VOCAB, 128);
  let kit: LogitKit;

  beforeAll(async () => {
    kit = await loadLogitKit({ backend: "wasm" });
  });

  async function run(settings: Partial<CompareSettings>, files = storiesFiles) {
    const inputs = await openCompareInputs(files);
    try {
      return await compareLogits(kit, inputs, { temperature: 1, rowsPerChunk: 100, ...settings });
    } finally {
      await inputs.close();
    }
  }

  it("histogram agrees with exact within the bound", async () => {
    const exact = await run({ percentiles: "exact" });
    const histogram = await run({ percentiles: "histogram" });

    expect(exact.percentileMethod).toBe("exact");
    expect(histogram.percentileMethod).toBe("histogram");
    expect(histogram.kl!.maxRow).toBe(exact.kl!.maxRow);
    expect(histogram.top1Agreeing).toBe(exact.top1Agreeing);
    expectSameMoments(histogram.kl!, exact.kl!);
    expectSameMoments(histogram.tokenStats!.probabilityChange, exact.tokenStats!.probabilityChange);

    // The neighbours come from the float64 reference, whose rows differ from the kernels' by at
    // most 5e-7 (see compare.test.ts), so the bound widens by that much per neighbour.
    const slack = 5e-7;
    const klSorted = Float64Array.from(reference.klRows).sort();
    const changeSorted = Float64Array.from(reference.probabilityChangeRows).sort();
    expectPercentilesWithinBound(histogram.kl!, exact.kl!, klSorted, slack);
    expectPercentilesWithinBound(histogram.tokenStats!.probabilityChange, exact.tokenStats!.probabilityChange, changeSorted, slack);
    expect(histogram.kl!.percentiles.p50).not.toBe(exact.kl!.percentiles.p50);
  });

  it("auto switches to the histogram past the cap", async () => {
    const atCap = await run({ exactPercentileMaxRows: ROWS });
    const pastCap = await run({ exactPercentileMaxRows: ROWS - 1 });
    const byDefault = await run({});

    expect(atCap.percentileMethod).toBe("exact");
    expect(atCap.kl!.percentileMethod).toBe("exact");
    expect(pastCap.percentileMethod).toBe("histogram");
    expect(pastCap.kl!.percentileMethod).toBe("histogram");
    expect(pastCap.tokenStats!.probabilityChange.percentileMethod).toBe("histogram");
    expect(byDefault.percentileMethod).toBe("exact");
  });

  it("histogram keeps no per-row storage", async () => {
    const exact = await run({ percentiles: "exact" });
    const histogram = await run({ percentiles: "histogram" });
    const noTokens = await run({ percentiles: "exact" }, { ...storiesFiles, tokens: undefined, sequenceLength: undefined });
    const fewRows = await run(
      { percentiles: "histogram" },
      { base: TEACHER, test: STUDENT, vocab: VOCAB * 256, tokens: undefined, sequenceLength: undefined },
    );

    // Exact: one float64 KL and one float64 change per row, and no change without tokens.
    expect(exact.percentileStorageBytes).toBe(16 * ROWS);
    expect(noTokens.percentileStorageBytes).toBe(8 * ROWS);
    // Histogram: the same bytes for 1024 rows and for 4 rows, set by the ranges alone.
    expect(fewRows.rows).toBe(4);
    expect(histogram.percentileStorageBytes).toBe(HISTOGRAM_STORAGE_BYTES);
    expect(fewRows.percentileStorageBytes).toBe(HISTOGRAM_STORAGE_BYTES);
  });
});
