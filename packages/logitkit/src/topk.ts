/**
 * Argument checks and teacher targets of `topKDistillationLoss`. The teacher arrives as the k
 * tokens per row that an inference server returns, so its target distribution is built here,
 * once and in float64, and both backends receive the same targets.
 */
import { lengthOf, typedArrayKind } from "./intrinsics.js";
import { checkNotDetached, describe } from "./validate.js";

/** Kind of `teacherValues`: log-probabilities over the full vocabulary, or logits. */
export type TopKValues = "logprobs" | "logits";

/** Policy for the teacher's mass outside the top-k tokens. */
export type TopKTail = "drop" | "bucket";

/** Index that marks an unused entry of a row with fewer than k tokens. */
export const TOPK_PADDING = -1;

/**
 * Largest accepted log-probability, and the largest excess over 1 of a row's probabilities in
 * `bucket` mode. Float32 log-probabilities of a vocabulary whose logsumexp is near 30 carry
 * rounding errors of about 2e-6, so 1e-4 accepts them, while logits passed as log-probabilities
 * or log-probabilities of another temperature usually exceed it.
 */
export const LOGPROB_TOLERANCE = 1e-4;

/** Checks a string option against its allowed values; returns the default when absent. */
export function checkChoice<T extends string>(fn: string, name: string, value: unknown, fallback: T, allowed: readonly T[]): T {
  if (value === undefined) return fallback;
  if (typeof value !== "string" || !(allowed as readonly string[]).includes(value)) {
    const list = allowed.map((a) => `"${a}"`).join(", ");
    const message = `${fn}: options.${name} must be one of ${list}, got ${describe(value)}.`;
    throw typeof value === "string" ? new RangeError(message) : new TypeError(message);
  }
  return value as T;
}

/**
 * The teacher's token indices as checked: a copy in the caller's order, k per row, and `order`,
 * the positions of each row sorted by token (padding first, then ascending tokens).
 */
export interface TopKIndices {
  indices: Int32Array;
  k: number;
  order: Int32Array;
}

/**
 * Checks `teacherIndices`: an Int32Array or array of integers, k per row, each a token in
 * [0, classes) or TOPK_PADDING, with no token twice in a row. Every element is read once.
 */
export function checkTopKIndices(fn: string, value: unknown, rows: number, classes: number): TopKIndices {
  const kind = typedArrayKind(value);
  if (kind !== "Int32Array" && !Array.isArray(value)) {
    throw new TypeError(`${fn}: teacherIndices must be an Int32Array or an array of integers, got ${describe(value)}.`);
  }
  const source = value as ArrayLike<unknown>;
  const length = kind === "Int32Array" ? lengthOf(value as ArrayBufferView) : source.length;
  if (kind === "Int32Array") checkNotDetached(fn, "teacherIndices", value as ArrayBufferView, length);

  if (rows === 0 && length !== 0) {
    throw new RangeError(`${fn}: teacherIndices.length must be 0 for a batch of 0 rows, got ${length}.`);
  }
  if (rows > 0 && (length === 0 || length % rows !== 0)) {
    throw new RangeError(
      `${fn}: teacherIndices.length must be a positive multiple of the number of rows (${rows}), ` +
        `k tokens per row, got ${length}.`,
    );
  }
  const k = rows === 0 ? 0 : length / rows;

  const indices = new Int32Array(length);
  for (let i = 0; i < length; i++) {
    const index: unknown = source[i];
    if (typeof index !== "number") {
      throw new TypeError(`${fn}: teacherIndices[${i}] must be an integer, got ${describe(index)}.`);
    }
    if (!Number.isInteger(index) || index < TOPK_PADDING || index >= classes) {
      throw new RangeError(
        `${fn}: teacherIndices[${i}] must be a token in [0, ${classes}) or ${TOPK_PADDING} (padding), got ${describe(index)}.`,
      );
    }
    indices[i] = index;
  }

  // Sorting each row's positions by token puts a repeated token next to its first occurrence.
  const order = new Int32Array(length);
  for (let r = 0; r < rows; r++) {
    const base = r * k;
    const row = order.subarray(base, base + k);
    for (let j = 0; j < k; j++) row[j] = base + j;
    row.sort((a, b) => indices[a] - indices[b] || a - b);
    for (let j = 1; j < k; j++) {
      const token = indices[row[j]];
      if (token !== TOPK_PADDING && token === indices[row[j - 1]]) {
        throw new RangeError(
          `${fn}: teacherIndices[${row[j]}] repeats token ${token} of teacherIndices[${row[j - 1]}] in row ${r}; ` +
            `each row must list distinct tokens.`,
        );
      }
    }
  }
  return { indices, k, order };
}

/** Options that turn the teacher values into targets; see buildTopKTeacher. */
export interface TopKTeacherOptions {
  values: TopKValues;
  tail: TopKTail;
  temperature: number;
}

/**
 * Returns the 32-bit words of one row of teacher data for k tokens, in the layout of
 * `RowKernels.topKDistillationRows`:
 * - words [0, k): the row's tokens in ascending order, padding (-1) first;
 * - words [k, 2k): the float32 target probability of each token, 0 for padding;
 * - words [2k, 2k + 4): two float64, the tail mass r (0 in `drop` mode) and the teacher's term
 *   sum_j t_j log t_j + r log r + 1 - r - sum_j t_j over the float32 targets t_j. With it, the
 *   kernels need only the cross-entropy terms. The last part is 0 up to the rounding of t_j, and
 *   it makes the soft term the generalized KL of the rounded targets, which that rounding does
 *   not move when teacher and student are close.
 * The float64 stay 8-byte aligned because every row has an even number of words. One buffer
 * per row keeps the kernel within the thread pool's 12 arguments.
 */
export function topKRowWords(k: number): number {
  return 2 * k + 4;
}

/**
 * Builds the teacher data (see topKRowWords) from the checked indices and `values` (read once
 * each), and checks the values of every row that counts. `counted(r)` returns whether row r is
 * not ignored. Rows whose values have a NaN, or no finite softmax, get NaN targets and terms.
 * Ignored rows get zero targets and terms, and the kernels do not read them.
 *
 * - drop: t_j = softmax over the row's tokens of v_j / T, for logits and log-probabilities alike
 *   (they differ by a constant per row). r = 0.
 * - bucket (log-probabilities at temperature 1 only): t_j = exp(v_j) and r = 1 - sum_j t_j. When
 *   the sum reaches 1 (rounding) or the row lists every class, the t_j are divided by their sum
 *   and r = 0.
 */
export function buildTopKTeacher(
  fn: string,
  checked: TopKIndices,
  values: Float32Array,
  rows: number,
  classes: number,
  counted: (row: number) => boolean,
  options: TopKTeacherOptions,
): Int32Array {
  const { indices, k, order } = checked;
  const words = topKRowWords(k);
  const teacher = new Int32Array(rows * words);
  const targets = new Float32Array(teacher.buffer);
  const terms = new Float64Array(teacher.buffer);
  const probs = new Float64Array(k);

  for (let r = 0; r < rows; r++) {
    const base = r * k;
    const row = r * words;
    for (let j = 0; j < k; j++) teacher[row + j] = indices[order[base + j]];
    if (!counted(r)) continue;

    const tokens = countTokens(teacher, row, k);
    if (tokens === 0 && options.tail === "drop") {
      throw new RangeError(
        `${fn}: row ${r} of teacherIndices has no token, only padding (${TOPK_PADDING}); tail "drop" needs at least ` +
          `one token per row. Pass tail: "bucket", or give the row the label ignoreIndex to skip it.`,
      );
    }

    // Positions of `order` before the first token are padding, whose values are not read.
    const first = k - tokens;
    for (let j = first; j < k; j++) {
      const v = values[order[base + j]];
      if (options.values === "logprobs" && v > LOGPROB_TOLERANCE) {
        throw new RangeError(
          `${fn}: teacherValues[${order[base + j]}] must be a log-probability <= 0 (options.values is "logprobs"), got ${v}; ` +
            `pass values: "logits" if the teacher returned logits.`,
        );
      }
      probs[j] = v;
    }

    let tail = 0;
    if (options.tail === "drop") {
      softmaxInPlace(probs, first, k, 1 / options.temperature);
    } else {
      tail = bucketInPlace(fn, r, probs, first, k, tokens === classes);
    }

    let teacherTerm = tail > 0 ? tail * Math.log(tail) : 0;
    let mass = 0;
    for (let j = first; j < k; j++) {
      const t = Math.fround(probs[j]);
      targets[row + k + j] = t;
      mass += t;
      if (t !== 0) teacherTerm += t * Math.log(t);
    }
    teacherTerm += 1 - tail - mass;

    // A NaN target (from a NaN value) must reach every output of the row, the tail's included.
    const term = (row + 2 * k) / 2;
    terms[term] = Number.isNaN(teacherTerm) ? NaN : tail;
    terms[term + 1] = teacherTerm;
  }
  return teacher;
}

/** Returns the number of entries that are not padding in a sorted row (padding sorts first). */
function countTokens(sortedIndices: Int32Array, base: number, k: number): number {
  let tokens = 0;
  for (let j = 0; j < k; j++) if (sortedIndices[base + j] !== TOPK_PADDING) tokens++;
  return tokens;
}

/**
 * Replaces x[from .. to) by softmax(x * invT). A NaN, a +Infinity or a row of -Infinity gives
 * NaN everywhere, as the softmax of logits does.
 */
function softmaxInPlace(x: Float64Array, from: number, to: number, invT: number): void {
  let max = -Infinity;
  for (let j = from; j < to; j++) max = Math.max(max, x[j] * invT);

  let sum = 0;
  for (let j = from; j < to; j++) {
    x[j] = Math.exp(x[j] * invT - max);
    sum += x[j];
  }
  for (let j = from; j < to; j++) x[j] /= sum;
}

/**
 * Replaces the log-probabilities x[from .. to) by probabilities and returns the tail mass
 * 1 - sum, or 0 after dividing by the sum when it reaches 1 or the row lists every class.
 * A sum above 1 + LOGPROB_TOLERANCE is rejected, because such values are no log-probabilities
 * of one distribution at temperature 1.
 */
function bucketInPlace(fn: string, row: number, x: Float64Array, from: number, to: number, everyClass: boolean): number {
  let sum = 0;
  for (let j = from; j < to; j++) {
    x[j] = Math.exp(x[j]);
    sum += x[j];
  }
  if (sum > 1 + LOGPROB_TOLERANCE) {
    throw new RangeError(
      `${fn}: the probabilities exp(teacherValues) of row ${row} sum to ${sum}, above 1; tail "bucket" needs the ` +
        `teacher's log-probabilities over the full vocabulary at temperature 1.`,
    );
  }
  if (sum < 1 && !everyClass) return 1 - sum;

  for (let j = from; j < to; j++) x[j] /= sum;
  return 0;
}
