/**
 * The vocabulary accumulator of `kit.vocabAccumulator`: rows whose logits arrive in chunks of
 * classes (a vocabulary split across workers, shards or messages). Each chunk is reduced by the
 * backend's `vocabStatsRows` to sums taken relative to the chunk's own maxima. Merging two sets
 * of sums rescales them to the larger maxima, which is exact in real arithmetic, associative and
 * commutative, so chunks and states merge in any order. The results then follow from the sums
 * with the formulas of the whole-row kernels.
 */
import type { VocabAccumulator } from "./api.js";
import { type HalfLogits, type Logits, type RowKernels, VOCAB_STATS } from "./backend.js";
import { log1pMinusX } from "./backends/js.js";
import { halfToNumber } from "./backends/widen.js";
import { clampRows, reduce } from "./reduce.js";
import type { Labels, Reduction, VocabAccumulatorOptions, VocabState } from "./types.js";
import {
  type CheckedLogits,
  checkFloat32,
  checkHalf,
  logitsLength,
  settleDtype,
  checkIgnoreIndex,
  checkLabels,
  checkLabelSmoothing,
  checkOptions,
  checkReduction,
  checkTemperature,
  describe,
} from "./validate.js";

// Fields per row of a state's `sums`: the chunk sums of vocabStatsRows (0 to 8), then the
// reference rho of the teacher sums and the label's logit.
const MZ = 0;
const SZ = 1;
const AZ = 2;
const ZSUM = 3;
const MT = 4;
const ST = 5;
const UT = 6;
const VT = 7;
const WT = 8;
const MISS = 9;
const RHO = 10;
const LABEL_LOGIT = 11;

/** Float64 values per row of `VocabState.sums`. */
export const STATE_FIELDS = 12;

/**
 * Largest reference shift |D| for which vt moves by its own update; beyond it vt is rebuilt from
 * wt. Both are exact in real arithmetic. The first keeps a small vt accurate when D is small, and
 * the second avoids e^D (vt + st + ut) - ..., where vt + st + ut cancels to wt when D is large.
 */
const SMALL_SHIFT = 0.5;

const ALL_REDUCTIONS: readonly Reduction[] = ["none", "sum", "mean", "batchmean"];

/** Returns h(x) = e^x - 1 - x without cancellation for small |x|. */
function expm1MinusX(x: number): number {
  if (Math.abs(x) < 1e-4) return x * x * (0.5 + x / 6);
  return Math.expm1(x) - x;
}

/** Returns exp((m - top) * invT), the factor that moves sums taken relative to m to the maximum top. */
function rescale(m: number, top: number, invT: number): number {
  if (m === -Infinity) return 0;
  return m === top ? 1 : Math.exp((m - top) * invT);
}

/**
 * Merges the row sums at b[bi ..] into those at a[ai ..]. Model sums move to the larger model
 * maximum. Teacher sums move to the larger teacher maximum and to one reference rho, the one of
 * the side with more teacher mass: with d' = d + D for D = rho_side - rho, the sums become
 * ut' = ut + st D, wt' = e^D wt and vt' = e^D vt + h(D) st + (e^D - 1) ut = wt' - st - ut'.
 */
function mergeRow(a: Float64Array, ai: number, b: Float64Array, bi: number, invT: number, teacher: boolean): void {
  const mz = Math.max(a[ai + MZ], b[bi + MZ]);
  const fa = rescale(a[ai + MZ], mz, invT);
  const fb = rescale(b[bi + MZ], mz, invT);

  // az is taken relative to the maximum, so moving it adds sz times the shift.
  const shiftA = fa === 0 ? 0 : (a[ai + MZ] - mz) * invT;
  const shiftB = fb === 0 ? 0 : (b[bi + MZ] - mz) * invT;
  a[ai + AZ] = (a[ai + AZ] + a[ai + SZ] * shiftA) * fa + (b[bi + AZ] + b[bi + SZ] * shiftB) * fb;
  a[ai + SZ] = a[ai + SZ] * fa + b[bi + SZ] * fb;
  a[ai + MISS] = a[ai + MISS] * fa + b[bi + MISS] * fb;
  a[ai + ZSUM] += b[bi + ZSUM];
  a[ai + MZ] = mz;
  if (!teacher) return;

  const mt = Math.max(a[ai + MT], b[bi + MT]);
  const ga = rescale(a[ai + MT], mt, invT);
  const gb = rescale(b[bi + MT], mt, invT);
  const massA = a[ai + ST] * ga;
  const massB = b[bi + ST] * gb;

  // Teacher mass where the model is all -Infinity makes KL infinite, so only the sum still counts.
  // A NaN in either side's teacher sum still makes the row NaN.
  if (a[ai + VT] === Infinity || b[bi + VT] === Infinity) {
    a[ai + ST] = massA + massB;
    a[ai + UT] = 0;
    a[ai + VT] = Number.isNaN(massA + massB) ? NaN : Infinity;
    a[ai + WT] = a[ai + WT] * ga + b[bi + WT] * gb;
    a[ai + MT] = mt;
    return;
  }

  const rho = massB > massA ? b[bi + RHO] : a[ai + RHO];
  let ut = 0;
  let vt = 0;
  let wt = 0;
  for (const [sums, at, g, mass] of [
    [a, ai, ga, massA],
    [b, bi, gb, massB],
  ] as const) {
    // A side without teacher mass has no reference and adds nothing.
    if (mass === 0) continue;
    const shift = sums[at + RHO] - rho;
    const movedUt = sums[at + UT] + sums[at + ST] * shift;
    const movedWt = Math.exp(shift) * sums[at + WT];
    ut += movedUt * g;
    wt += movedWt * g;
    if (Math.abs(shift) <= SMALL_SHIFT) {
      vt += (Math.exp(shift) * sums[at + VT] + expm1MinusX(shift) * sums[at + ST] + Math.expm1(shift) * sums[at + UT]) * g;
    } else {
      vt += Math.max(0, movedWt - sums[at + ST] - movedUt) * g;
    }
  }
  a[ai + ST] = massA + massB;
  a[ai + UT] = ut;
  a[ai + VT] = vt;
  a[ai + WT] = wt;
  a[ai + RHO] = rho;
  a[ai + MT] = mt;
}

/** Returns logsumexp of a row from its merged sums; a masked or +Infinity maximum is its own result. */
function rowLogSumExp(sums: Float64Array, at: number, invT: number): number {
  const mz = sums[at + MZ];
  if (mz === -Infinity || mz === Infinity) return mz;
  return mz * invT + Math.log(sums[at + SZ]);
}

/**
 * Returns KL(teacher ‖ model) of a row from its merged sums, as kl_from_sums does for a whole
 * row: with u = ut / st, v = vt / st and m the model mass where the teacher has none, in the same
 * units, and w = u + v + m, KL = -u + log1p(w) = v + m + (log1p(w) - w). The second form keeps a
 * small KL accurate. Merged chunks can leave a reference far from the row's, where v and w reach
 * 1e33 and the second form loses everything to rounding, so large w takes the first.
 */
function rowKl(sums: Float64Array, at: number, invT: number): number {
  // A model row that is all -Infinity is a NaN row, as in klDivergence.
  if (sums[at + MZ] === -Infinity) return NaN;

  const st = sums[at + ST];
  const miss = sums[at + MISS];
  const missing = miss === 0 ? 0 : miss * Math.exp((sums[at + MZ] - sums[at + MT]) * invT - sums[at + RHO]);
  const u = sums[at + UT] / st;
  const v = sums[at + VT] / st;
  const m = missing / st;
  if (v === Infinity) return Infinity;
  const w = u + v + m;
  return w > 1 ? Math.log1p(w) - u : v + m + log1pMinusX(w);
}

/** A sorted list of disjoint [start, end) ranges of classes. */
type Ranges = number[];

/** Returns the first range of `ranges` that overlaps [start, end), or -1. */
function overlapping(ranges: Ranges, start: number, end: number): number {
  for (let i = 0; i < ranges.length; i += 2) {
    if (ranges[i] < end && start < ranges[i + 1]) return i;
  }
  return -1;
}

/** Inserts [start, end) into `ranges`, joining neighbours; the range overlaps none of them. */
function insertRange(ranges: Ranges, start: number, end: number): void {
  let i = 0;
  while (i < ranges.length && ranges[i] < start) i += 2;
  ranges.splice(i, 0, start, end);
  for (let k = ranges.length - 2; k > 0; k -= 2) {
    if (ranges[k - 1] === ranges[k]) ranges.splice(k - 1, 2);
  }
}

/** Returns the number of classes in `ranges`. */
function coveredBy(ranges: Ranges): number {
  let total = 0;
  for (let i = 0; i < ranges.length; i += 2) total += ranges[i + 1] - ranges[i];
  return total;
}

const ADD_OPTIONS = ["offset", "teacher", "dtype"];

/** Checks the teacher logits of a chunk: float32 or 16-bit, of the chunk's length. */
function checkTeacher(fn: string, value: unknown, length: number): CheckedLogits {
  const half = checkHalf(fn, "options.teacher", value);
  if (half === undefined) return checkFloat32(fn, "options.teacher", value, length, "the length of logits");

  if (half.bits.length !== length) {
    throw new RangeError(`${fn}: options.teacher.length must be ${length} (the length of logits), got ${half.bits.length}.`);
  }
  return half;
}

/** Returns the logit at `index` as a number. */
function logitAt(z: Logits, index: number): number {
  if (ArrayBuffer.isView(z)) return z[index];
  return halfToNumber(z.bits[index], (z as HalfLogits).dtype);
}
const RESULT_OPTIONS = ["reduction"];
const ACCUMULATOR_OPTIONS = ["rows", "classes", "temperature", "labels", "ignoreIndex", "labelSmoothing"];

/** Returns whether a state's labels (from `state()`, possibly cloned) equal `labels`. */
function sameLabels(labels: Int32Array, ignoreIndex: number, other: unknown, otherIgnoreIndex: unknown): boolean {
  if (!(other instanceof Int32Array) || other.length !== labels.length || otherIgnoreIndex !== ignoreIndex) return false;
  for (let i = 0; i < labels.length; i++) if (other[i] !== labels[i]) return false;
  return true;
}

/** Checks an integer option in [min, max]. */
function checkInteger(fn: string, name: string, value: unknown, min: number, max: number, expected: string): number {
  if (typeof value !== "number") throw new TypeError(`${fn}: options.${name} must be ${expected}, got ${describe(value)}.`);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${fn}: options.${name} must be ${expected}, got ${describe(value)}.`);
  }
  return value;
}

/** Creates the accumulator of `kit.vocabAccumulator` on `kernels`; see VocabAccumulator. */
export function createVocabAccumulator(kernels: RowKernels, options: VocabAccumulatorOptions): VocabAccumulator {
  const fn = "vocabAccumulator";
  const o = checkOptions(fn, options, ACCUMULATOR_OPTIONS, "{ rows: 8, classes: 50257 }");
  const rows = checkInteger(fn, "rows", o.rows, 1, 2 ** 31 - 1, "an integer >= 1");
  const classes = checkInteger(fn, "classes", o.classes, 1, 2 ** 31 - 1, "an integer >= 1");
  const temperature = checkTemperature(fn, o.temperature);
  const labelSmoothing = checkLabelSmoothing(fn, o.labelSmoothing);
  const ignoreIndex = checkIgnoreIndex(fn, o.ignoreIndex);
  const labels = o.labels === undefined ? null : checkLabels(fn, "options.labels", o.labels as Labels, rows, classes, ignoreIndex);
  const invT = 1 / temperature;

  // Rows start as an empty chunk: no mass, an all -Infinity sum of logits, and no teacher mass.
  const sums = new Float64Array(rows * STATE_FIELDS);
  for (let r = 0; r < rows; r++) {
    sums.set([-Infinity, 0, 0, 0, -Infinity, 0, 0, 0, 0, 0, 0, NaN], r * STATE_FIELDS);
  }
  const labelSeen = new Uint8Array(rows);
  const ranges: Ranges = [];
  let teacher: boolean | null = null;

  /** Merges the sums of a chunk or another state, both laid out like `sums`. */
  const mergeAll = (other: Float64Array, otherSeen: Uint8Array, otherTeacher: boolean) => {
    for (let r = 0; r < rows; r++) {
      mergeRow(sums, r * STATE_FIELDS, other, r * STATE_FIELDS, invT, otherTeacher);
      if (otherSeen[r] === 1) {
        sums[r * STATE_FIELDS + LABEL_LOGIT] = other[r * STATE_FIELDS + LABEL_LOGIT];
        labelSeen[r] = 1;
      }
    }
  };

  /** Throws unless every class is covered, so that no result comes from part of a row. */
  const checkComplete = (name: string) => {
    const covered = coveredBy(ranges);
    if (covered === classes) return;
    const gap = ranges[0] !== 0 ? 0 : ranges[1];
    throw new RangeError(
      `${name}: the chunks cover ${covered} of ${classes} classes (the first missing class is ${gap}); ` +
        "add the other chunks first.",
    );
  };

  const checkTeacherUse = (name: string, withTeacher: boolean) => {
    if (teacher === null || teacher === withTeacher) return;
    throw new RangeError(
      `${name}: every chunk must come with teacher logits or none, but earlier chunks came ` +
        `${teacher ? "with" : "without"} them; pass options.teacher ${teacher ? "with" : "without"} every chunk.`,
    );
  };

  const resultReduction = (name: string, value: unknown, fallback: Reduction): Reduction => {
    if (value === undefined) return fallback;
    const o2 = checkOptions(name, value, RESULT_OPTIONS, '{ reduction: "none" }');
    return checkReduction(name, o2.reduction, fallback, ALL_REDUCTIONS);
  };

  const accumulator: VocabAccumulator = {
    rows,
    classes,

    get covered() {
      return coveredBy(ranges);
    },

    add(logits, addOptions) {
      const name = "add";
      const a = checkOptions(name, addOptions, ADD_OPTIONS, "{ offset: 0 }");
      const z = checkHalf(name, "logits", logits) ?? checkFloat32(name, "logits", logits);
      const length = logitsLength(z);
      if (length === 0 || length % rows !== 0) {
        throw new RangeError(
          `${name}: logits.length must be a positive multiple of rows (${rows}), got ${length}; a chunk is rows x width.`,
        );
      }
      const width = length / rows;
      if (width > classes) {
        throw new RangeError(
          `${name}: logits.length must be at most rows x classes (${rows * classes}), got ${length}; the chunk is ${width} classes wide.`,
        );
      }
      const offset = checkInteger(name, "offset", a.offset, 0, classes - width, `an integer from 0 to ${classes - width} (classes - width)`);
      const t = a.teacher === undefined ? null : checkTeacher(name, a.teacher, length);
      settleDtype(name, a.dtype, [["logits", z], ["options.teacher", t]]);
      checkTeacherUse(name, t !== null);
      const clash = overlapping(ranges, offset, offset + width);
      if (clash >= 0) {
        throw new RangeError(
          `${name}: classes ${offset} to ${offset + width - 1} overlap classes ${ranges[clash]} to ${ranges[clash + 1] - 1}, ` +
            "which were added already; each class must come in exactly one chunk.",
        );
      }

      // The chunk's sums, laid out like `sums`, with its reference rho and the labels it holds.
      const stats = new Float64Array(rows * VOCAB_STATS);
      kernels.vocabStatsRows(z as Logits, t as Logits | null, rows, width, invT, stats);
      const chunk = new Float64Array(rows * STATE_FIELDS);
      const seen = new Uint8Array(rows);
      for (let r = 0; r < rows; r++) {
        const at = r * STATE_FIELDS;
        chunk.set(stats.subarray(r * VOCAB_STATS, (r + 1) * VOCAB_STATS), at);
        chunk[at + RHO] = (chunk[at + MZ] - chunk[at + MT]) * invT;
        const label = labels === null ? ignoreIndex : labels[r];
        if (label !== ignoreIndex && label >= offset && label < offset + width) {
          chunk[at + LABEL_LOGIT] = logitAt(z as Logits, r * width + label - offset);
          seen[r] = 1;
        }
      }

      mergeAll(chunk, seen, t !== null);
      teacher = t !== null;
      insertRange(ranges, offset, offset + width);
    },

    merge(other) {
      const name = "merge";
      const state = (other !== null && typeof other === "object" && typeof (other as VocabAccumulator).state === "function"
        ? (other as VocabAccumulator).state()
        : other) as VocabState;
      if (state === null || typeof state !== "object") {
        throw new TypeError(`${name}: other must be a VocabAccumulator or its state(), got ${describe(state)}.`);
      }
      for (const [key, expected] of [
        ["rows", rows],
        ["classes", classes],
        ["temperature", temperature],
      ] as const) {
        if (state[key] !== expected) {
          throw new RangeError(`${name}: other.${key} must be ${expected}, as in this accumulator, got ${describe(state[key])}.`);
        }
      }
      if (!(state.sums instanceof Float64Array) || state.sums.length !== rows * STATE_FIELDS) {
        throw new TypeError(`${name}: other.sums must be a Float64Array of ${rows * STATE_FIELDS} values, got ${describe(state.sums)}.`);
      }
      if (!(state.labelSeen instanceof Uint8Array) || state.labelSeen.length !== rows) {
        throw new TypeError(`${name}: other.labelSeen must be a Uint8Array of ${rows} values, got ${describe(state.labelSeen)}.`);
      }
      const otherRanges = Array.from(state.ranges ?? [], Number);
      if (otherRanges.length % 2 !== 0 || otherRanges.some((v, i) => !Number.isInteger(v) || v < 0 || v > classes || (i % 2 === 1 && v <= otherRanges[i - 1]))) {
        throw new RangeError(`${name}: other.ranges must list [start, end) pairs of classes within [0, ${classes}].`);
      }
      if (state.teacher !== null && state.teacher !== true && state.teacher !== false) {
        throw new TypeError(`${name}: other.teacher must be true, false or null, got ${describe(state.teacher)}.`);
      }
      if (state.teacher !== null) checkTeacherUse(name, state.teacher);

      // Each accumulator records the logit of its own labels, so the labels must agree.
      if (labels !== null && !sameLabels(labels, ignoreIndex, state.labels, state.ignoreIndex)) {
        throw new RangeError(
          `${name}: other was created with other labels (or none), and crossEntropy needs the label's logit from ` +
            "the chunk that holds it; create every accumulator with the same labels and ignoreIndex.",
        );
      }
      for (let i = 0; i < otherRanges.length; i += 2) {
        const clash = overlapping(ranges, otherRanges[i], otherRanges[i + 1]);
        if (clash >= 0) {
          throw new RangeError(
            `${name}: other covers classes ${otherRanges[i]} to ${otherRanges[i + 1] - 1}, which overlap classes ` +
              `${ranges[clash]} to ${ranges[clash + 1] - 1} of this accumulator; each class must come in exactly one chunk.`,
          );
        }
      }

      mergeAll(state.sums, labels === null ? new Uint8Array(rows) : state.labelSeen, state.teacher === true);
      if (state.teacher !== null) teacher = state.teacher;
      for (let i = 0; i < otherRanges.length; i += 2) insertRange(ranges, otherRanges[i], otherRanges[i + 1]);
    },

    state() {
      return {
        rows,
        classes,
        temperature,
        teacher,
        labels: labels === null ? null : labels.slice(),
        ignoreIndex,
        ranges: ranges.slice(),
        sums: sums.slice(),
        labelSeen: labelSeen.slice(),
      };
    },

    logSumExp() {
      checkComplete("logSumExp");
      const out = new Float32Array(rows);
      for (let r = 0; r < rows; r++) out[r] = rowLogSumExp(sums, r * STATE_FIELDS, invT);
      return out;
    },

    entropy(resultOptions?: { reduction?: Reduction }) {
      const reduction = resultReduction("entropy", resultOptions, "batchmean");
      checkComplete("entropy");
      const rowLoss = new Float64Array(rows);
      for (let r = 0; r < rows; r++) {
        const at = r * STATE_FIELDS;
        rowLoss[r] = Math.log(sums[at + SZ]) - sums[at + AZ] / sums[at + SZ];
      }
      clampRows(rowLoss, 0, Math.log(classes));
      return reduce(rowLoss, reduction, rows * classes);
    },

    crossEntropy(resultOptions?: { reduction?: Reduction }) {
      const reduction = resultReduction("crossEntropy", resultOptions, "mean");
      if (labels === null) {
        throw new TypeError("crossEntropy: the accumulator has no labels; pass options.labels to vocabAccumulator().");
      }
      checkComplete("crossEntropy");
      const rowLoss = new Float64Array(rows);
      let counted = 0;
      for (let r = 0; r < rows; r++) {
        if (labels[r] === ignoreIndex) continue;
        counted++;

        // L - x_y from the maximum, so a confident row keeps its small loss accurate.
        const at = r * STATE_FIELDS;
        const logSum = Math.log(sums[at + SZ]);
        const labelTerm = (sums[at + MZ] - sums[at + LABEL_LOGIT]) * invT + logSum;
        const smoothTerm = sums[at + MZ] * invT + logSum - (sums[at + ZSUM] * invT) / classes;

        // A term of weight 0 adds 0 even when it is infinite, as in crossEntropy.
        let loss = 0;
        if (labelSmoothing < 1) loss += (1 - labelSmoothing) * labelTerm;
        if (labelSmoothing > 0) loss += labelSmoothing * smoothTerm;
        rowLoss[r] = loss;
      }
      return reduce(rowLoss, reduction, counted);
    },

    klDivergence(resultOptions?: { reduction?: Reduction }) {
      const reduction = resultReduction("klDivergence", resultOptions, "batchmean");
      if (teacher !== true) {
        throw new TypeError("klDivergence: the chunks came without teacher logits; pass options.teacher to add().");
      }
      checkComplete("klDivergence");
      const rowLoss = new Float64Array(rows);
      for (let r = 0; r < rows; r++) rowLoss[r] = rowKl(sums, r * STATE_FIELDS, invT);
      clampRows(rowLoss, 0, Infinity);
      return reduce(rowLoss, reduction, rows * classes);
    },
  } as VocabAccumulator;
  return Object.freeze(accumulator);
}
