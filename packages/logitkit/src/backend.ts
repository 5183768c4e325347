import type { BackendName } from "./types.js";

/**
 * Logits given as 16-bit floats: the raw bits of bfloat16 (the upper half of a float32) or of
 * IEEE binary16. Backends widen them to float32 exactly, a chunk of rows at a time, so the row
 * kernels and every result are those of a float32 copy of the whole input.
 */
export interface HalfLogits {
  readonly bits: Uint16Array;
  readonly dtype: "bf16" | "f16";
}

/** Logits of a row kernel: float32, or 16-bit bits to widen first. */
export type Logits = Float32Array | HalfLogits;

/**
 * Row kernels that a backend provides. The public layer validates every argument, computes
 * the per-row gradient scales of the requested reduction and reduces the per-row losses, so a
 * backend only maps rows to rows and the two backends share one definition of each option.
 *
 * Conventions of every kernel:
 * - `invTemperature` is 1 / T; logits are scaled as (z - max z) * invTemperature, which is the
 *   shifted z / T without overflow.
 * - `rowLoss` receives one float64 loss per row.
 * - `gradScale` (one float32 per row) is d(total) / d(rowLoss[i]); when it is `null` no gradient
 *   is computed and `grad` is not touched. The gradient includes the factor 1 / T.
 * - A `NaN` anywhere in an input row makes that row's outputs `NaN`; a row's outputs never
 *   depend on another row.
 * - Logits (type `L`) may be 16-bit (`HalfLogits`); `RowKernels<Float32Array>` takes float32
 *   logits only. Probabilities, targets and outputs are always float32.
 */
export interface RowKernels<L extends Logits = Logits> {
  readonly name: BackendName;

  /** Number of threads that run a call, the calling thread included (1 without a thread pool). */
  threads(): number;

  /** Terminates the backend's worker threads, if any; later calls run on the calling thread. */
  dispose(): void;

  /** Reason why the worker threads stopped by themselves (such as a stalled worker), or undefined. */
  threadsStoppedReason?(): string | undefined;

  /** Whether `data` is a view of a block kept by `store` or `reserve` of this backend. */
  isStoredView(data: L): boolean;

  /** Size in bytes of the backend's WebAssembly memory (0 for `js`), for tests and diagnostics. */
  memoryBytes(): number;

  /**
   * Keeps a copy of `data` in the backend's memory until `release()`. `view()` returns an array
   * over that copy to pass to the row kernels in place of a caller's array. The wasm backend
   * recognizes such a view and reads it in place instead of copying it in, and a kernel's
   * output given as such a view is written in place instead of copied out.
   */
  store(data: L): StoredBlock;

  /** Keeps `length` zeros in the backend's memory, as `store` does, for a call to write into. */
  reserve(length: number): StoredBlock;

  softmaxRows(logits: L, rows: number, classes: number, invTemperature: number, out: Float32Array): void;

  logSoftmaxRows(logits: L, rows: number, classes: number, invTemperature: number, out: Float32Array): void;

  logSumExpRows(logits: L, rows: number, classes: number, invTemperature: number, out: Float32Array): void;

  /** Kind 0: H(P) = -sum p log p; kind 1: H(P, Q) = -sum p log q; kind 2: D_KL(P ‖ Q). */
  probsRows(
    kind: ProbsKind,
    p: Float32Array,
    q: Float32Array | null,
    rows: number,
    classes: number,
    rowLoss: Float64Array,
  ): void;

  entropyLogitsRows(
    logits: L,
    rows: number,
    classes: number,
    invTemperature: number,
    rowLoss: Float64Array,
    gradScale: Float32Array | null,
    grad: Float32Array | null,
  ): void;

  /** Rows whose label equals `ignoreIndex` get loss 0 and a zero gradient. */
  crossEntropyLabelsRows(
    logits: L,
    labels: Int32Array,
    rows: number,
    classes: number,
    invTemperature: number,
    weight: Float32Array | null,
    ignoreIndex: number,
    labelSmoothing: number,
    rowLoss: Float64Array,
    gradScale: Float32Array | null,
    grad: Float32Array | null,
  ): void;

  crossEntropyTargetsRows(
    logits: L,
    targets: Float32Array,
    rows: number,
    classes: number,
    invTemperature: number,
    weight: Float32Array | null,
    labelSmoothing: number,
    rowLoss: Float64Array,
    gradScale: Float32Array | null,
    grad: Float32Array | null,
  ): void;

  /** D_KL(softmax(p / T) ‖ softmax(q / T)); the gradient is with respect to `qLogits`. */
  klLogitsRows(
    pLogits: L,
    qLogits: L,
    rows: number,
    classes: number,
    invTemperature: number,
    rowLoss: Float64Array,
    gradScale: Float32Array | null,
    grad: Float32Array | null,
  ): void;

  /** Generalized Jensen-Shannon divergence; beta 0 and 1 are the forward and reverse KL. */
  jsDivergenceRows(
    pLogits: L,
    qLogits: L,
    rows: number,
    classes: number,
    invTemperature: number,
    beta: number,
    rowLoss: Float64Array,
    gradScale: Float32Array | null,
    grad: Float32Array | null,
  ): void;

  /**
   * Per row: alpha T^2 KL(P_T ‖ Q_T) + (1 - alpha) CE(Q_1, label); without labels alpha must be
   * 1. Ignored rows get loss 0 and a zero gradient.
   */
  distillationRows(
    studentLogits: L,
    teacherLogits: L,
    labels: Int32Array | null,
    ignoreIndex: number,
    rows: number,
    classes: number,
    invTemperature: number,
    alpha: number,
    rowLoss: Float64Array,
    gradScale: Float32Array | null,
    grad: Float32Array | null,
  ): void;

  /**
   * Sums of each row of one vocabulary chunk, VOCAB_STATS float64 values per row in `stats`, from
   * which vocab.ts merges chunks: the model's maximum mz, sz = sum e_z with e_z = exp((z - mz) / T),
   * az = sum e_z (z - mz) / T, the sum of z; with teacher logits also the teacher's maximum mt,
   * st = sum e_t, ut = sum e_t d, vt = sum e_t h(d) and wt = sum e_z over e_t != 0 with
   * d = (z - t - (mz - mt)) / T and h(d) = e^d - 1 - d, and the model mass e_z where e_t = 0.
   * A chunk that is all -Infinity gets zero sums; a teacher with mass where the model is all
   * -Infinity gets st = 1, vt = Infinity.
   */
  vocabStatsRows(
    logits: L,
    teacherLogits: L | null,
    rows: number,
    classes: number,
    invTemperature: number,
    stats: Float64Array,
  ): void;

  /**
   * Per row: alpha T^2 KL(P ‖ Q_T) + (1 - alpha) CE(Q_1, label), where Q_T = softmax(z / T) over
   * every class and P is the teacher's target: probabilities on the row's k tokens and the tail
   * mass r on the other classes as one bucket, matched by the student's mass there. `teacher`
   * has 2k + 4 words per row, its tokens, targets and terms (see topKRowWords in topk.ts).
   * Without labels alpha must be 1. Ignored rows get loss 0 and a zero gradient.
   */
  topKDistillationRows(
    studentLogits: L,
    teacher: Int32Array,
    k: number,
    labels: Int32Array | null,
    ignoreIndex: number,
    rows: number,
    classes: number,
    invTemperature: number,
    alpha: number,
    rowLoss: Float64Array,
    gradScale: Float32Array | null,
    grad: Float32Array | null,
  ): void;
}

/** Float64 values per row of `RowKernels.vocabStatsRows`. */
export const VOCAB_STATS = 10;

/** A copy of a matrix kept by a backend; see RowKernels.store. */
export interface StoredBlock {
  view(): Float32Array;
  release(): void;
}

/** Selector of `RowKernels.probsRows`: 0 entropy, 1 cross-entropy, 2 KL divergence. */
export type ProbsKind = 0 | 1 | 2;

export const PROBS_ENTROPY = 0;
export const PROBS_CROSS_ENTROPY = 1;
export const PROBS_KL_DIVERGENCE = 2;
