import { loadLogitKit } from "logitkit";
import { describe, expect, it } from "vitest";
import {
  ACCURACY_OPS,
  carefulFloat32Outputs,
  float64Outputs,
  formatAccuracyTable,
  maxErrors,
  measureAccuracy,
} from "../src/accuracy.js";
import { randomInput } from "../src/bench.js";

/** float32 ulp of |x| for normal x: 2^(exponent - 23). */
function ulp32(x: number): number {
  return 2 ** (Math.floor(Math.log2(Math.abs(x))) - 23);
}

const classes = 1000;
const input = randomInput({ rows: 3, classes }, 11);
const reference = float64Outputs(input.first, input.labels, classes);

describe("float64Outputs", () => {
  it("matches a hand-computed row", () => {
    const logits = new Float32Array([1, 2, 3]);
    const outputs = float64Outputs(logits, new Int32Array([0]), 3);
    const sum = Math.exp(-2) + Math.exp(-1) + 1;

    expect(outputs.softmax[2]).toBeCloseTo(1 / sum, 15);
    expect(outputs.logSoftmax[0]).toBeCloseTo(-2 - Math.log(sum), 15);
    expect(outputs.crossEntropy[0]).toBeCloseTo(Math.log(sum) + 2, 15);
  });

  it("sums each softmax row to 1", () => {
    for (let row = 0; row < 3; row++) {
      let sum = 0;
      for (let c = 0; c < classes; c++) sum += reference.softmax[row * classes + c];
      expect(Math.abs(sum - 1)).toBeLessThan(1e-13);
    }
  });
});

describe("carefulFloat32Outputs", () => {
  const careful = carefulFloat32Outputs(input.first, input.labels, classes);

  it("stays within 2 float32 ulp of float64", () => {
    for (const op of ACCURACY_OPS) {
      for (let i = 0; i < reference[op].length; i++) {
        const error = Math.abs(careful[op][i] - reference[op][i]);
        expect(error, `${op}[${i}]`).toBeLessThanOrEqual(2 * ulp32(reference[op][i]));
      }
    }
  });

  it("rounds every output to float32", () => {
    for (const op of ACCURACY_OPS) {
      for (let i = 0; i < careful[op].length; i++) expect(Math.fround(careful[op][i])).toBe(careful[op][i]);
    }
  });

  it("is less accurate than float64", () => {
    expect(maxErrors(careful.softmax, reference.softmax).maxRelError).toBeGreaterThan(1e-9);
  });
});

describe("maxErrors", () => {
  it("returns the largest absolute and relative errors", () => {
    const errors = maxErrors([1.5, 10, 0.001], [1, 9, 0]);

    expect(errors.maxAbsError).toBe(1);
    expect(errors.maxRelError).toBe(0.5);
  });

  it("reports NaN when an output is NaN", () => {
    const errors = maxErrors([NaN, 1], [1, 1]);

    expect(errors.maxAbsError).toBeNaN();
    expect(errors.maxRelError).toBeNaN();
  });

  it("rejects arrays of different lengths", () => {
    expect(() => maxErrors([1, 2], [1])).toThrow("cannot compare 2 values with a reference of 1");
  });
});

describe("measureAccuracy", () => {
  it("measures both backends against the careful float32 baseline", async () => {
    const kits = new Map([
      ["wasm" as const, await loadLogitKit({ backend: "wasm" })],
      ["js" as const, await loadLogitKit({ backend: "js" })],
    ]);
    const report = measureAccuracy(kits, input.first, input.labels, classes);

    expect(report.rows).toBe(3);
    expect(report.records.map((r) => `${r.op} ${r.backend}`)).toEqual(
      ACCURACY_OPS.flatMap((op) => [`${op} float32`, `${op} wasm`, `${op} js`]),
    );
    for (const record of report.records) {
      // Every way of computing is within a few float32 ulp of float64.
      expect(record.maxRelError, `${record.op} ${record.backend}`).toBeLessThan(1e-5);
      if (record.backend === "float32") continue;

      const baseline = report.records.find((r) => r.op === record.op && r.backend === "float32")!;
      expect(record.relRatioVsFloat32).toBeCloseTo(record.maxRelError / baseline.maxRelError, 12);
      expect(record.absRatioVsFloat32).toBeCloseTo(record.maxAbsError / baseline.maxAbsError, 12);
    }

    const table = formatAccuracyTable(report);
    expect(table).toContain("careful float32 (baseline)");
    expect(table.split("\n")).toHaveLength(2 + report.records.length);
  });

  it("keeps the js backend as accurate as careful float32 on log-softmax", async () => {
    const kits = new Map([["js" as const, await loadLogitKit({ backend: "js" })]]);
    const report = measureAccuracy(kits, input.first, input.labels, classes);
    const js = report.records.find((r) => r.op === "logSoftmax" && r.backend === "js")!;

    // The js backend rounds its float64 result once, the baseline after each step.
    expect(js.absRatioVsFloat32).toBeLessThanOrEqual(1);
  });
});
