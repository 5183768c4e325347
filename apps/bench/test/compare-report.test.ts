import { describe, expect, it } from "vitest";
import type { CompareResult } from "../src/compare.js";
import { summarize, SummaryAccumulator } from "../src/compare-summary.js";
import { buildCompareReport, describePercentiles, formatCompareTable, formatValue, type CompareContext } from "../src/compare-report.js";
import type { MatrixLayout } from "../src/logit-files.js";

const layout: MatrixLayout = {
  path: "/data/run/base.npy",
  format: "npy",
  dtype: "f16",
  headerDtype: "<f2",
  shape: [2, 3, 4],
  rows: 6,
  classes: 4,
  tensor: null,
  sequenceLength: 3,
  dataOffset: 128,
};

const context: CompareContext = {
  command: "pnpm compare base.npy test.npy",
  backend: "js",
  threads: 1,
  temperature: 1,
  rowsPerChunk: 6,
  base: layout,
  test: { ...layout, path: "/elsewhere/test.npy" },
  tokens: null,
  sequenceLength: 3,
};

/** Result of 6 rows, of which rows 2 and 4 are invalid, without tokens. */
function resultWithoutTokens(): CompareResult {
  const kl = summarize(Float64Array.of(0.5, 0.001, 0.25, 2e-5))!;
  return {
    rows: 6,
    classes: 4,
    invalidRows: 2,
    firstInvalidRow: 2,
    kl: { ...kl, maxRow: 0 },
    top1Agreeing: 3,
    top1Agreement: 0.75,
    tokenStats: null,
    percentileMethod: "exact",
    percentileStorageBytes: 48,
  };
}

describe("formatCompareTable", () => {
  it("shows one column without tokens", () => {
    const text = formatCompareTable(buildCompareReport(resultWithoutTokens(), context), "/data");

    expect(text).toContain("base:   run/base.npy (npy, <f2 read as f16, shape 2 x 3 x 4)");
    expect(text).toContain("test:   /elsewhere/test.npy (npy, <f2 read as f16, shape 2 x 3 x 4)");
    expect(text).toContain("tokens: none (pass --tokens FILE for the perplexity and the probability of the correct token)");
    expect(text).toMatch(/^statistic +KL\(base ‖ test\), nats$/m);
    expect(text).toMatch(/^max +0\.50000$/m);
    expect(text).toMatch(/^min +2\.0000e-5$/m);
    expect(text).toMatch(/^rows +4$/m);
    expect(text).toContain("Top-1 agreement: 75.00% (3 of 4 rows with the same argmax)");
    expect(text).not.toContain("Perplexity");
  });

  it("warns about invalid rows", () => {
    const text = formatCompareTable(buildCompareReport(resultWithoutTokens(), context));

    expect(text).toContain("warning: 2 rows have a NaN KL (a NaN or +Infinity logit, or only -Infinity) and are left out of every statistic; the first is row 2");
  });
});

describe("describePercentiles", () => {
  it("names the method and its bound", () => {
    const histogram = SummaryAccumulator.histogram({ minExponent: -40, maxExponent: 13 });
    histogram.add(0.25);

    expect(describePercentiles(summarize([0.25]))).toBe("Percentiles: exact, from every row's value.");
    expect(describePercentiles(histogram.summary())).toBe(
      "Percentiles: histogram, relative error <= 4.8828e-4 (--percentiles exact sorts every row's value instead).",
    );
    expect(describePercentiles(null)).toBeNull();
  });

  it("appears under the table", () => {
    const text = formatCompareTable(buildCompareReport(resultWithoutTokens(), context));

    expect(text).toMatch(/^rows +4\n\nPercentiles: exact, from every row's value\.\nMax KL at row 0\.$/m);
  });
});

describe("buildCompareReport", () => {
  it("counts only valid rows for top-1", () => {
    const report = buildCompareReport(resultWithoutTokens(), context);

    expect(report.top1Agreement).toEqual({ fraction: 0.75, agreeingRows: 3, rows: 4 });
    expect(report.invalidRows).toEqual({ count: 2, firstRow: 2 });
    expect(report.perplexity).toBeNull();
    expect(report.correctTokenProbability).toBeNull();
    expect(report.tokens).toBeNull();
  });

  it("records the percentile method in each summary", () => {
    const report = buildCompareReport(resultWithoutTokens(), context);

    expect(report.kl).toMatchObject({ percentileMethod: "exact", percentileRelativeError: 0 });
  });
});

describe("formatValue", () => {
  it.each([
    [0.022747881, "0.022748"],
    [16.87868613, "16.879"],
    [-0.000052153, "-5.2153e-5"],
    [1234567, "1.2346e+6"],
    [0, "0"],
    [Infinity, "Infinity"],
    [NaN, "NaN"],
    [null, "-"],
  ])("formats %s", (value, text) => {
    expect(formatValue(value)).toBe(text);
  });
});
