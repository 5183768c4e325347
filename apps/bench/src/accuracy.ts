/**
 * Accuracy of softmax, log-softmax and cross-entropy against a float64 reference, on the
 * benchmark's seeded random logits. Each logitkit backend is compared with a careful float32
 * computation in plain JavaScript, the baseline of the ratios: a backend meets the speed
 * requirement's accuracy bound when its maximum error is at most 2x that baseline's.
 */
import type { LogitKit } from "logitkit";
import type { BenchBackend, Shape } from "./args.js";
import { formatTable } from "./report.js";

/** Shape of the accuracy measurement: 8 rows of a GPT-2-sized vocabulary. */
export const ACCURACY_SHAPE: Shape = { rows: 8, classes: 50257 };

export const ACCURACY_OPS = ["softmax", "logSoftmax", "crossEntropy"] as const;
export type AccuracyOp = (typeof ACCURACY_OPS)[number];

/** Name of the careful float32 computation in the records. */
export const CAREFUL_FLOAT32 = "float32";

/** Errors of one operation computed one way, against the float64 reference. */
export interface AccuracyRecord {
  op: AccuracyOp;
  /** A logitkit backend, or `float32` for the careful float32 computation. */
  backend: BenchBackend | typeof CAREFUL_FLOAT32;
  /** Max |value - reference| over every output value (probabilities, log-probabilities or row losses). */
  maxAbsError: number;
  /** Max |value - reference| / |reference| over the outputs whose reference is not 0. */
  maxRelError: number;
  /** On backend records: maxAbsError / the careful float32 maxAbsError of the same operation. */
  absRatioVsFloat32?: number;
  /** On backend records: maxRelError / the careful float32 maxRelError of the same operation. */
  relRatioVsFloat32?: number;
}

/** Accuracy part of the JSON report. */
export interface AccuracyReport {
  rows: number;
  classes: number;
  records: AccuracyRecord[];
}

/** Outputs of the three operations on one matrix: row-major arrays, and one loss per row for cross-entropy. */
export interface AccuracyOutputs {
  softmax: ArrayLike<number>;
  logSoftmax: ArrayLike<number>;
  crossEntropy: ArrayLike<number>;
}

/** Returns the maximum of `logits[start .. start + classes)`, exact because it only compares. */
function rowMax(logits: Float32Array, start: number, classes: number): number {
  let max = -Infinity;
  for (let i = start; i < start + classes; i++) {
    if (logits[i] > max) max = logits[i];
  }
  return max;
}

/**
 * Computes the three operations in float64 from float32 logits: z - max, Math.exp, a float64
 * sum and Math.log, with no rounding to float32. This is the reference of every error below.
 */
export function float64Outputs(logits: Float32Array, labels: Int32Array, classes: number): AccuracyOutputs {
  const softmax = new Float64Array(logits.length);
  const logSoftmax = new Float64Array(logits.length);
  const crossEntropy = new Float64Array(labels.length);

  for (let row = 0; row < labels.length; row++) {
    const start = row * classes;
    const max = rowMax(logits, start, classes);

    let sum = 0;
    for (let i = start; i < start + classes; i++) sum += Math.exp(logits[i] - max);
    const lse = Math.log(sum);

    for (let i = start; i < start + classes; i++) {
      softmax[i] = Math.exp(logits[i] - max) / sum;
      logSoftmax[i] = logits[i] - max - lse;
    }
    crossEntropy[row] = lse - (logits[start + labels[row]] - max);
  }
  return { softmax, logSoftmax, crossEntropy };
}

/**
 * Computes the three operations the careful float32 way: each exponential, quotient, logarithm
 * and difference is rounded to float32 with Math.fround, as float32 hardware would return it.
 * Two steps stay exact, as careful float32 code makes them. z - max is kept in float64, where
 * it is exact unless the exponents of the two float32 values differ by more than 28. The sum of
 * the float32 exponentials is accumulated in float64.
 */
export function carefulFloat32Outputs(logits: Float32Array, labels: Int32Array, classes: number): AccuracyOutputs {
  const softmax = new Float32Array(logits.length);
  const logSoftmax = new Float32Array(logits.length);
  const crossEntropy = new Float32Array(labels.length);
  const exps = new Float32Array(classes);

  for (let row = 0; row < labels.length; row++) {
    const start = row * classes;
    const max = rowMax(logits, start, classes);

    let sum = 0;
    for (let c = 0; c < classes; c++) {
      exps[c] = Math.fround(Math.exp(logits[start + c] - max));
      sum += exps[c];
    }
    const lse = Math.fround(Math.log(sum));

    for (let c = 0; c < classes; c++) {
      softmax[start + c] = Math.fround(exps[c] / sum);
      logSoftmax[start + c] = Math.fround(logits[start + c] - max - lse);
    }
    crossEntropy[row] = Math.fround(lse - (logits[start + labels[row]] - max));
  }
  return { softmax, logSoftmax, crossEntropy };
}

/** Returns logitkit's outputs: softmax, log-softmax and the per-row cross-entropy (`reduction: "none"`). */
export function kitOutputs(kit: LogitKit, logits: Float32Array, labels: Int32Array, classes: number): AccuracyOutputs {
  return {
    softmax: kit.softmax(logits, { classes }),
    logSoftmax: kit.logSoftmax(logits, { classes }),
    crossEntropy: kit.crossEntropy(logits, labels, { classes, reduction: "none" }),
  };
}

/** Returns the max absolute and max relative error of `values` against `reference`. */
export function maxErrors(values: ArrayLike<number>, reference: ArrayLike<number>): { maxAbsError: number; maxRelError: number } {
  if (values.length !== reference.length) {
    throw new RangeError(`cannot compare ${values.length} values with a reference of ${reference.length}`);
  }

  let maxAbsError = 0;
  let maxRelError = 0;
  for (let i = 0; i < values.length; i++) {
    // A NaN error becomes the result and stays, so that a broken output cannot look accurate.
    const error = Math.abs(values[i] - reference[i]);
    if (error > maxAbsError || error !== error) maxAbsError = error;
    if (reference[i] !== 0) {
      const relative = error / Math.abs(reference[i]);
      if (relative > maxRelError || relative !== relative) maxRelError = relative;
    }
  }
  return { maxAbsError, maxRelError };
}

/**
 * Measures every operation on the careful float32 computation and on each kit, against the
 * float64 reference, and sets the ratios of each backend's errors to the float32 ones.
 */
export function measureAccuracy(
  kits: ReadonlyMap<BenchBackend, LogitKit>,
  logits: Float32Array,
  labels: Int32Array,
  classes: number,
): AccuracyReport {
  const reference = float64Outputs(logits, labels, classes);
  const careful = carefulFloat32Outputs(logits, labels, classes);
  const outputsByBackend: [AccuracyRecord["backend"], AccuracyOutputs][] = [[CAREFUL_FLOAT32, careful]];
  for (const [backend, kit] of kits) outputsByBackend.push([backend, kitOutputs(kit, logits, labels, classes)]);

  const records: AccuracyRecord[] = [];
  for (const op of ACCURACY_OPS) {
    const baseline = maxErrors(careful[op], reference[op]);
    for (const [backend, outputs] of outputsByBackend) {
      const errors = maxErrors(outputs[op], reference[op]);
      const record: AccuracyRecord = { op, backend, ...errors };
      if (backend !== CAREFUL_FLOAT32) {
        record.absRatioVsFloat32 = errors.maxAbsError / baseline.maxAbsError;
        record.relRatioVsFloat32 = errors.maxRelError / baseline.maxRelError;
      }
      records.push(record);
    }
  }
  return { rows: labels.length, classes, records };
}

/** Formats the accuracy records as a text table. */
export function formatAccuracyTable(report: AccuracyReport): string {
  const ratio = (value: number | undefined) => (value === undefined ? "" : `${value.toFixed(2)}x`);
  return formatTable(
    ["op", "computed by", "max abs error", "max rel error", "abs / float32", "rel / float32"],
    report.records.map((record) => [
      record.op,
      record.backend === CAREFUL_FLOAT32 ? "careful float32 (baseline)" : record.backend,
      record.maxAbsError.toExponential(2),
      record.maxRelError.toExponential(2),
      ratio(record.absRatioVsFloat32),
      ratio(record.relRatioVsFloat32),
    ]),
    [false, false, true, true, true, true],
  );
}
