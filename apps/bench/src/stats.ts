/**
 * Statistics of the real teacher and student logits, and the agreement between backends.
 */
import type { LogitKit, UploadedLogits } from "logitkit";
import { IGNORE_INDEX, type RealData } from "./real-data.js";
import { DISTILLATION_ALPHA, DISTILLATION_TEMPERATURE, JS_BETA, OPS, type OpInput, type OpOutput } from "./ops.js";

/** Statistics of the teacher (float32 model) and student (int8 model) on the sampled tokens, in nats. */
export interface RealStats {
  /** Mean over rows of KL(teacher ‖ student) at temperature 1. */
  klTeacherStudentT1: number;
  /** Mean over rows of KL(softmax(teacher / 2) ‖ softmax(student / 2)), without the T^2 factor. */
  klTeacherStudentT2: number;
  /** Mean entropy of the next-token distributions. */
  entropyTeacher: number;
  entropyStudent: number;
  /** Mean cross-entropy of the next tokens over the rows that have one. */
  crossEntropyTeacher: number;
  crossEntropyStudent: number;
  /** exp(mean cross-entropy). */
  perplexityTeacher: number;
  perplexityStudent: number;
  /** Fraction of rows where the teacher's and the student's argmax agree. */
  top1Agreement: number;
  /** Mean Jensen-Shannon divergence at beta 0.5, in [0, log 2]. */
  jsDivergence: number;
  /** Distillation loss of the student at T = 2, alpha = 0.5 with the next tokens as labels. */
  distillationLoss: number;
  /** Rows with a next-token label (the others are ignored by the cross-entropy). */
  labelledRows: number;
}

/** Returns the index of the largest value of each row; the first one on ties, and -1 for a row of NaN. */
export function argmaxRows(logits: Float32Array, classes: number): Int32Array {
  const rows = logits.length / classes;
  const result = new Int32Array(rows);

  for (let row = 0; row < rows; row++) {
    const offset = row * classes;
    let best = -1;
    let bestValue = -Infinity;

    for (let c = 0; c < classes; c++) {
      const value = logits[offset + c];
      if (value > bestValue || (best < 0 && value === -Infinity)) {
        best = c;
        bestValue = value;
      }
    }
    result[row] = best;
  }
  return result;
}

/** Returns the fraction of rows where `a` and `b` have the same argmax. */
export function top1Agreement(a: Float32Array, b: Float32Array, classes: number): number {
  const argmaxA = argmaxRows(a, classes);
  const argmaxB = argmaxRows(b, classes);

  let agreeing = 0;
  for (let row = 0; row < argmaxA.length; row++) {
    if (argmaxA[row] === argmaxB[row] && argmaxA[row] >= 0) {
      agreeing++;
    }
  }
  return agreeing / argmaxA.length;
}

/** Computes the statistics of the real data with one backend. */
export function computeRealStats(kit: LogitKit, data: RealData): RealStats {
  const { teacher, student, labels, classes } = data;
  const crossEntropyOptions = { classes, ignoreIndex: IGNORE_INDEX };

  const crossEntropyTeacher = kit.crossEntropy(teacher, labels, crossEntropyOptions);
  const crossEntropyStudent = kit.crossEntropy(student, labels, crossEntropyOptions);

  return {
    klTeacherStudentT1: kit.klDivergence(teacher, student, { classes, temperature: 1 }),
    klTeacherStudentT2: kit.klDivergence(teacher, student, { classes, temperature: 2 }),
    entropyTeacher: kit.entropyOfLogits(teacher, { classes }),
    entropyStudent: kit.entropyOfLogits(student, { classes }),
    crossEntropyTeacher,
    crossEntropyStudent,
    perplexityTeacher: Math.exp(crossEntropyTeacher),
    perplexityStudent: Math.exp(crossEntropyStudent),
    top1Agreement: top1Agreement(teacher, student, classes),
    jsDivergence: kit.jsDivergence(teacher, student, { classes, beta: JS_BETA }),
    distillationLoss: kit.distillationLoss(student, teacher, {
      classes,
      temperature: DISTILLATION_TEMPERATURE,
      alpha: DISTILLATION_ALPHA,
      labels,
      ignoreIndex: IGNORE_INDEX,
    }),
    labelledRows: labels.reduce((count, label) => (label === IGNORE_INDEX ? count : count + 1), 0),
  };
}

/**
 * Returns the largest |a[i] - b[i]|. Equal values count 0, and so do equal infinities and two
 * NaN. A NaN against a number, or unequal infinities, give Infinity so that the mismatch shows.
 */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) {
    throw new RangeError(`cannot compare arrays of lengths ${a.length} and ${b.length}: expected equal lengths`);
  }

  let max = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (x === y || (Number.isNaN(x) && Number.isNaN(y))) {
      continue;
    }

    const diff = Math.abs(x - y);
    max = Number.isNaN(diff) || diff === Infinity ? Infinity : Math.max(max, diff);
  }
  return max;
}

/** Output of an operation split into its loss and its array (probabilities or gradient); either may be absent. */
interface OutputParts {
  loss: number | null;
  array: Float32Array | null;
}

/** Returns the values of an array result, copied out of backend memory for a handle. */
function arrayValues(array: Float32Array | UploadedLogits): Float32Array {
  return array instanceof Float32Array ? array : array.toArray();
}

function outputParts(output: OpOutput): OutputParts {
  if (typeof output === "number") {
    return { loss: output, array: null };
  }
  if (output instanceof Float32Array || !("loss" in output)) {
    return { loss: null, array: arrayValues(output) };
  }
  return { loss: output.loss, array: arrayValues(output.grad) };
}

/** Largest differences between two outputs of the same operation; null for a part the operation does not return. */
export interface OutputDiff {
  /** Over every value: the loss and every element of the array. */
  maxAbsDiff: number;
  lossAbsDiff: number | null;
  arrayMaxAbsDiff: number | null;
}

/** Compares two outputs of the same operation, such as the results of two backends. */
export function compareOutputs(a: OpOutput, b: OpOutput): OutputDiff {
  const partsA = outputParts(a);
  const partsB = outputParts(b);

  if ((partsA.loss === null) !== (partsB.loss === null) || (partsA.array === null) !== (partsB.array === null)) {
    throw new TypeError("cannot compare outputs of different kinds: expected the same operation on both backends");
  }

  const lossAbsDiff = partsA.loss === null ? null : maxAbsDiff([partsA.loss], [partsB.loss as number]);
  const arrayMaxAbsDiff = partsA.array === null ? null : maxAbsDiff(partsA.array, partsB.array as Float32Array);
  return {
    maxAbsDiff: Math.max(lossAbsDiff ?? 0, arrayMaxAbsDiff ?? 0),
    lossAbsDiff,
    arrayMaxAbsDiff,
  };
}

/** Largest differences between two backends on one operation and input. */
export interface BackendDiff extends OutputDiff {
  /** Operation name, with `(student)` when it ran on the student logits. */
  op: string;
}

/**
 * Runs every operation once on each of the two backends, on the teacher logits, and once more
 * on the student logits for the single-matrix losses. Returns the largest differences of each
 * operation's loss and array (probabilities or gradient).
 */
export function computeBackendDiffs(kitA: LogitKit, kitB: LogitKit, data: RealData): BackendDiff[] {
  const teacherInput: OpInput = {
    rows: data.rows,
    classes: data.classes,
    first: data.teacher,
    second: data.student,
    labels: data.labels,
  };
  const studentInput: OpInput = { ...teacherInput, first: data.student, second: data.teacher };
  const studentOps = new Set(["entropyOfLogits", "entropyOfLogitsWithGrad", "crossEntropy", "crossEntropyWithGrad"]);

  const cases = [
    ...OPS.map((op) => ({ op, label: op.name, input: teacherInput })),
    ...OPS.filter((op) => studentOps.has(op.name)).map((op) => ({ op, label: `${op.name} (student)`, input: studentInput })),
  ];

  return cases.map(({ op, label, input }) => ({
    op: label,
    ...compareOutputs(op.bind(kitA, input)(), op.bind(kitB, input)()),
  }));
}
