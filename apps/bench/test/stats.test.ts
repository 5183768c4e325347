import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadLogitKit } from "logitkit";
import { beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_DATA_DIR, loadRealData } from "../src/data.js";
import { argmaxRows, compareOutputs, computeBackendDiffs, computeRealStats, maxAbsDiff, top1Agreement, type RealStats } from "../src/stats.js";

const ROWS = 1024;
const CLASSES = 512;
const SEQUENCE_LENGTH = 128;

/** Reads a little-endian float32 file into float64 values, independently of src/data.ts. */
function readFloat64(name: string): Float64Array {
  const bytes = readFileSync(join(DEFAULT_DATA_DIR, name));
  const values = new Float64Array(bytes.byteLength / 4);
  for (let i = 0; i < values.length; i++) {
    values[i] = bytes.readFloatLE(i * 4);
  }
  return values;
}

/** Log-softmax of each row of z / temperature, in float64. */
function logSoftmax64(logits: Float64Array, temperature: number): Float64Array {
  const result = new Float64Array(logits.length);
  for (let row = 0; row < ROWS; row++) {
    const offset = row * CLASSES;
    let max = -Infinity;
    for (let c = 0; c < CLASSES; c++) {
      max = Math.max(max, logits[offset + c] / temperature);
    }
    let sum = 0;
    for (let c = 0; c < CLASSES; c++) {
      sum += Math.exp(logits[offset + c] / temperature - max);
    }
    const logSumExp = max + Math.log(sum);
    for (let c = 0; c < CLASSES; c++) {
      result[offset + c] = logits[offset + c] / temperature - logSumExp;
    }
  }
  return result;
}

/** KL(P ‖ Q) of each row from log-probabilities. */
function klRows(logP: Float64Array, logQ: Float64Array): Float64Array {
  const result = new Float64Array(ROWS);
  for (let i = 0; i < logP.length; i++) {
    result[Math.floor(i / CLASSES)] += Math.exp(logP[i]) * (logP[i] - logQ[i]);
  }
  return result;
}

function mean(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    sum += values[i];
  }
  return sum / values.length;
}

/** Statistics of the real data computed in float64 from the raw files. */
function referenceStats(): RealStats {
  const teacher = readFloat64("teacher.f32");
  const student = readFloat64("student-q8.f32");
  const tokenBytes = readFileSync(join(DEFAULT_DATA_DIR, "tokens.i32"));

  const logP1 = logSoftmax64(teacher, 1);
  const logQ1 = logSoftmax64(student, 1);
  const logP2 = logSoftmax64(teacher, 2);
  const logQ2 = logSoftmax64(student, 2);

  const entropy = (logP: Float64Array) => {
    let sum = 0;
    for (let i = 0; i < logP.length; i++) {
      sum -= Math.exp(logP[i]) * logP[i];
    }
    return sum / ROWS;
  };

  // Rows at the last position of a sequence have no next token.
  const labelledRows: number[] = [];
  const labels: number[] = [];
  for (let row = 0; row < ROWS; row++) {
    if (row % SEQUENCE_LENGTH !== SEQUENCE_LENGTH - 1) {
      labelledRows.push(row);
      labels.push(tokenBytes.readInt32LE((row + 1) * 4));
    }
  }
  const crossEntropy = (logQ: Float64Array) =>
    mean(labelledRows.map((row, index) => -logQ[row * CLASSES + labels[index]]));

  const jsRows = new Float64Array(ROWS);
  for (let i = 0; i < logP1.length; i++) {
    const p = Math.exp(logP1[i]);
    const q = Math.exp(logQ1[i]);
    const m = 0.5 * p + 0.5 * q;
    jsRows[Math.floor(i / CLASSES)] += 0.5 * p * Math.log(p / m) + 0.5 * q * Math.log(q / m);
  }

  let agreeing = 0;
  for (let row = 0; row < ROWS; row++) {
    let bestTeacher = 0;
    let bestStudent = 0;
    for (let c = 1; c < CLASSES; c++) {
      if (teacher[row * CLASSES + c] > teacher[row * CLASSES + bestTeacher]) bestTeacher = c;
      if (student[row * CLASSES + c] > student[row * CLASSES + bestStudent]) bestStudent = c;
    }
    if (bestTeacher === bestStudent) agreeing++;
  }

  const klT2Rows = klRows(logP2, logQ2);
  const crossEntropyTeacher = crossEntropy(logP1);
  const crossEntropyStudent = crossEntropy(logQ1);

  return {
    klTeacherStudentT1: mean(klRows(logP1, logQ1)),
    klTeacherStudentT2: mean(klT2Rows),
    entropyTeacher: entropy(logP1),
    entropyStudent: entropy(logQ1),
    crossEntropyTeacher,
    crossEntropyStudent,
    perplexityTeacher: Math.exp(crossEntropyTeacher),
    perplexityStudent: Math.exp(crossEntropyStudent),
    top1Agreement: agreeing / ROWS,
    jsDivergence: mean(jsRows),
    // Both terms average over the labelled rows; the soft term at T = 2 is scaled by T^2.
    distillationLoss: 0.5 * 4 * mean(labelledRows.map((row) => klT2Rows[row])) + 0.5 * crossEntropyStudent,
    labelledRows: labelledRows.length,
  };
}

describe("argmaxRows", () => {
  it("returns the first maximum of each row", () => {
    const logits = Float32Array.from([1, 3, 3, 0, -Infinity, -Infinity, -Infinity, -Infinity, 2, NaN, 5, 1]);

    expect(Array.from(argmaxRows(logits, 4))).toEqual([1, 0, 2]);
  });

  it("returns -1 for a row of NaN", () => {
    expect(Array.from(argmaxRows(Float32Array.from([NaN, NaN]), 2))).toEqual([-1]);
  });
});

describe("top1Agreement", () => {
  it("counts rows with the same argmax", () => {
    const a = Float32Array.from([1, 2, 5, 0, 0, 1]);
    const b = Float32Array.from([0, 9, 1, 4, 2, 3]);

    expect(top1Agreement(a, b, 2)).toBeCloseTo(2 / 3, 12);
  });
});

describe("maxAbsDiff", () => {
  it("returns the largest difference", () => {
    expect(maxAbsDiff([1, 2, 3], [1, 2.5, 2.75])).toBe(0.5);
  });

  it("counts equal infinities and two NaN as equal", () => {
    expect(maxAbsDiff([-Infinity, NaN, 1], [-Infinity, NaN, 1])).toBe(0);
  });

  it("reports a NaN against a number as Infinity", () => {
    expect(maxAbsDiff([NaN, 0], [1, 0])).toBe(Infinity);
    expect(maxAbsDiff([0, 0.5], [0, NaN])).toBe(Infinity);
    expect(maxAbsDiff([Infinity], [-Infinity])).toBe(Infinity);
  });

  it("rejects different lengths", () => {
    expect(() => maxAbsDiff([1], [1, 2])).toThrow(/lengths 1 and 2/);
  });
});

describe("compareOutputs", () => {
  it("splits loss and gradient differences", () => {
    const a = { loss: 1, grad: Float32Array.from([0, 0.25]) };
    const b = { loss: 1.125, grad: Float32Array.from([0, 0]) };

    expect(compareOutputs(a, b)).toEqual({ maxAbsDiff: 0.25, lossAbsDiff: 0.125, arrayMaxAbsDiff: 0.25 });
  });

  it("compares a loss alone", () => {
    expect(compareOutputs(2, 2.5)).toEqual({ maxAbsDiff: 0.5, lossAbsDiff: 0.5, arrayMaxAbsDiff: null });
  });

  it("compares an array alone", () => {
    expect(compareOutputs(Float32Array.from([1, 2]), Float32Array.from([1, 2.5]))).toEqual({
      maxAbsDiff: 0.5,
      lossAbsDiff: null,
      arrayMaxAbsDiff: 0.5,
    });
  });

  it("rejects outputs of different kinds", () => {
    expect(() => compareOutputs(1, Float32Array.from([1]))).toThrow(TypeError);
  });
});

describe("computeBackendDiffs", () => {
  it("is zero for one backend against itself", async () => {
    const kit = await loadLogitKit({ backend: "js" });
    const data = loadRealData();
    // The first sequence alone keeps the test fast on the js backend.
    const rows = data.length;
    const firstSequence = {
      ...data,
      rows,
      sequences: 1,
      teacher: data.teacher.subarray(0, rows * data.classes),
      student: data.student.subarray(0, rows * data.classes),
      tokens: data.tokens.subarray(0, rows),
      labels: data.labels.subarray(0, rows),
    };
    const diffs = computeBackendDiffs(kit, kit, firstSequence);

    expect(diffs.map((diff) => diff.op)).toContain("crossEntropyWithGrad (student)");
    expect(diffs.every((diff) => diff.maxAbsDiff === 0)).toBe(true);
  });
});

describe("computeRealStats against float64", () => {
  const reference = referenceStats();
  const data = loadRealData();
  let stats: RealStats;

  beforeAll(async () => {
    stats = computeRealStats(await loadLogitKit({ backend: "js" }), data);
  });

  it("reference values are plausible for a small model", () => {
    expect(reference.perplexityTeacher).toBeGreaterThan(2);
    expect(reference.perplexityTeacher).toBeLessThan(100);
    expect(reference.top1Agreement).toBeGreaterThan(0.5);
    expect(reference.klTeacherStudentT1).toBeGreaterThan(0);
  });

  it("counts the labelled rows", () => {
    expect(stats.labelledRows).toBe(1016);
    expect(reference.labelledRows).toBe(1016);
  });

  it("top-1 agreement matches exactly", () => {
    expect(stats.top1Agreement).toBe(reference.top1Agreement);
  });

  it("perplexity of the teacher matches", () => {
    expect(Math.abs(stats.perplexityTeacher / reference.perplexityTeacher - 1)).toBeLessThan(1e-4);
  });

  it("perplexity of the student matches", () => {
    expect(Math.abs(stats.perplexityStudent / reference.perplexityStudent - 1)).toBeLessThan(1e-4);
  });

  it.each([
    ["entropyTeacher", 1e-4],
    ["entropyStudent", 1e-4],
    ["crossEntropyTeacher", 1e-4],
    ["crossEntropyStudent", 1e-4],
    ["klTeacherStudentT1", 1e-5],
    ["klTeacherStudentT2", 1e-5],
    ["jsDivergence", 1e-5],
    ["distillationLoss", 1e-4],
  ] as const)("%s matches within %s nats", (key, tolerance) => {
    expect(Math.abs(stats[key] - reference[key])).toBeLessThan(tolerance);
  });
});
