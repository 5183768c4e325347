/**
 * Public types of logitkit.
 *
 * Shapes: a matrix is a row-major `Float32Array` of `rows x classes` values, and `classes`
 * is always passed as an option, so `rows = data.length / classes`. One row is one
 * distribution over `classes`. Logarithms are natural (results are in nats).
 */

/** Name of a compute backend. */
export type BackendName = "wasm" | "js";

/** Backend request of `loadLogitKit`: `auto` picks `wasm` where WebAssembly SIMD compiles. */
export type BackendRequest = "auto" | BackendName;

/**
 * Reduction over rows.
 * - `none`: one value per row, returned as a `Float32Array` of length `rows`.
 * - `sum`: the sum over rows.
 * - `batchmean`: the sum divided by `rows` (the mean per distribution).
 * - `mean`: for cross-entropy with labels, the PyTorch mean, divided by the summed weight of
 *   the rows that are not ignored. For the other operations, the element-wise mean: the sum
 *   divided by `rows * classes`.
 */
export type Reduction = "none" | "sum" | "mean" | "batchmean";

/**
 * Result type of an operation for the reduction `R`: one value per row for `none`, else a
 * number. It distributes over unions, so `"none" | "sum"` gives `Float32Array | number`.
 */
export type Reduced<R extends Reduction | undefined, Default extends Reduction> = R extends undefined
  ? Default extends "none"
    ? Float32Array
    : number
  : R extends "none"
    ? Float32Array
    : number;

/** Integer class labels, one per row. */
export type Labels = Int32Array | readonly number[];

/** Loss value and its gradient with respect to the logits (same shape as the logits). */
export interface LossWithGrad<L, G extends Float32Array | UploadedLogits = Float32Array> {
  /** The reduced loss in nats, or one value per row for `reduction: "none"`. */
  loss: L;
  /** A new array, or the `gradOut` buffer when one was given. */
  grad: G;
}

/** Shape option shared by every operation. */
export interface ShapeOptions {
  /** Number of classes per row (the vocabulary size); an integer >= 1. Required. */
  classes: number;
}

/**
 * Format of logits: float32, bfloat16 (the upper 16 bits of a float32: 8 significant bits, the
 * range of float32) or IEEE binary16 (11 significant bits, finite up to 65504).
 */
export type LogitsDtype = "f32" | "bf16" | "f16";

/**
 * A `Float16Array` (ES2025), where the runtime has one: Chromium 156 has it, Node.js 20 does
 * not. Declared by its brand, so that these types compile without the `esnext` lib.
 */
export interface Float16ArrayLike extends ArrayBufferView {
  /** Brand of a `Float16Array`. */
  readonly [Symbol.toStringTag]: "Float16Array";
  /** Number of elements. */
  readonly length: number;
}

/** Option of every function that takes logits. */
export interface DtypeOptions {
  /**
   * Format of the 16-bit logits arguments: `"bf16"` or `"f16"` for bits given as a
   * `Uint16Array`, which has no format of its own. A `Float16Array` is `"f16"` without it, and
   * `Float32Array`s and handles are always float32, so one call may mix formats. The logits are
   * widened to float32 exactly, a chunk of rows at a time, and every result equals that of the
   * float32 values. Default `"f32"`.
   */
  dtype?: LogitsDtype;
}

/** Options of `softmax`, `logSoftmax` and `logSumExp`. */
export interface SoftmaxOptions extends ShapeOptions, DtypeOptions {
  /** Temperature T > 0 that divides the logits. Default 1. */
  temperature?: number;
  /**
   * Buffer to fill instead of allocating one: length `rows x classes` (`rows` for `logSumExp`).
   * A handle from `kit.upload` or `kit.alloc` keeps the result in backend memory, where later
   * calls read it without a copy.
   */
  out?: Float32Array | UploadedLogits;
}

/** Options of the probability-space measures `entropy`, `crossEntropyOfProbs`, `klDivergenceOfProbs`. */
export interface ProbsOptions<R extends Reduction = Reduction> extends ShapeOptions {
  /** Default `batchmean`. */
  reduction?: R;
}

/** Options of `entropyOfLogits`. */
export interface EntropyOfLogitsOptions<R extends Reduction = Reduction> extends ShapeOptions, DtypeOptions {
  /** Temperature T > 0: the entropy is that of softmax(z / T). Default 1. */
  temperature?: number;
  /** Default `batchmean`. */
  reduction?: R;
}

/** Upstream gradient option of the `...WithGrad` functions. */
export interface GradOutputOptions {
  /**
   * Upstream gradient, one value per row, allowed only with `reduction: "none"`: the returned
   * gradient is then that of `sum_i gradOutput[i] * loss[i]`. Without it, the gradient is that
   * of the reduced loss (of the sum of the rows for `none`).
   */
  gradOutput?: Float32Array | readonly number[];
}

/** Gradient buffer option of the `...WithGrad` functions. */
export interface GradOutOptions<G extends Float32Array | UploadedLogits = Float32Array | UploadedLogits> {
  /**
   * Buffer that receives the gradient instead of a new array, with the length of the logits
   * it is taken with respect to. A handle from `kit.upload` or `kit.alloc` keeps the gradient
   * in backend memory. It must not overlap any input.
   */
  gradOut?: G;
}

/** Options of `crossEntropy`. */
export interface CrossEntropyOptions<R extends Reduction = Reduction> extends ShapeOptions, DtypeOptions {
  /** Default `mean` (PyTorch's default). */
  reduction?: R;
  /** Per-class weight, length `classes`. Default: every class weighs 1. */
  weight?: Float32Array | readonly number[];
  /** Label value whose rows are skipped (with labels only). Default -100. */
  ignoreIndex?: number;
  /** Label smoothing epsilon in [0, 1]. Default 0. */
  labelSmoothing?: number;
  /** Temperature T > 0: the loss is that of logits / T. Default 1. */
  temperature?: number;
}

/** Options of `klDivergence`. */
export interface KlDivergenceOptions<R extends Reduction = Reduction> extends ShapeOptions, DtypeOptions {
  /** Temperature T > 0 applied to both sets of logits. Default 1. */
  temperature?: number;
  /** Default `batchmean`. */
  reduction?: R;
}

/** Options of `jsDivergence`. */
export interface JsDivergenceOptions<R extends Reduction = Reduction> extends KlDivergenceOptions<R> {
  /** Mixture weight beta in [0, 1] of M = beta P + (1 - beta) Q. Default 0.5. */
  beta?: number;
}

/** Options of `distillationLoss`. */
export interface DistillationOptions extends ShapeOptions, DtypeOptions {
  /** Temperature T > 0 of the soft term. Default 1. */
  temperature?: number;
  /** Weight in [0, 1] of the soft term; the hard-label term gets 1 - alpha. Default 0.5. */
  alpha?: number;
  /** Hard labels, one per row. Without them the loss is T^2 KL averaged over every row. */
  labels?: Labels;
  /** Label value whose rows are skipped by both terms. Default -100. */
  ignoreIndex?: number;
}

/** Options of `topKDistillationLoss`. */
export interface TopKDistillationOptions<R extends "none" | "sum" | "mean" = "none" | "sum" | "mean"> extends ShapeOptions, DtypeOptions {
  /**
   * What `teacherValues` holds: `logprobs` (default), the teacher's log-probabilities over the
   * full vocabulary, as inference servers return them; or `logits`. Log-probabilities above 1e-4
   * are rejected.
   */
  values?: "logprobs" | "logits";
  /**
   * The teacher's mass outside its top-k tokens: `drop` (default) renormalises the top-k
   * probabilities to sum to 1; `bucket` keeps it as one tail class, matched by the student's mass
   * outside the top-k. `bucket` requires `values: "logprobs"` and temperature 1.
   */
  tail?: "drop" | "bucket";
  /** Temperature T > 0 of the soft term, applied to the student and to the teacher values. Default 1. */
  temperature?: number;
  /** Weight in [0, 1] of the soft term; the hard-label term gets 1 - alpha. Default 0.5. */
  alpha?: number;
  /** Hard labels, one per row. Without them the loss is the soft term alone and `alpha` is not used. */
  labels?: Labels;
  /** Label value whose rows are skipped by both terms. Default -100. */
  ignoreIndex?: number;
  /**
   * `mean` (default): the mean over the rows whose label is not `ignoreIndex`; `sum`; or `none`,
   * one value per row (0 for ignored rows).
   */
  reduction?: R;
}

/**
 * A matrix kept in the backend's memory: logits or targets copied in by `kit.upload`, or a
 * buffer made by `kit.alloc` that an operation fills through its `out` or `gradOut` option.
 * Every function that takes logits, probabilities or probability targets accepts it in place
 * of a `Float32Array`, and the `wasm` backend reads it without copying it into WebAssembly
 * memory. It belongs to the kit that made it and keeps its memory until `free()`.
 */
export interface UploadedLogits {
  /** Number of floats kept. */
  readonly length: number;
  /** Backend that keeps the data. */
  readonly backend: BackendName;
  /** True after `free()`; using a freed handle throws a `TypeError`. */
  readonly freed: boolean;
  /** Releases the memory; calling it again does nothing. */
  free(): void;
  /**
   * Copies the kept values out: into `out` when given (a `Float32Array` of the same length,
   * which is returned), else into a new array.
   */
  toArray(out?: Float32Array): Float32Array;
  /** Replaces the kept values with those of `values`, a `Float32Array` of the same length. */
  set(values: Float32Array): void;
}

/**
 * Logits as a `Float32Array`, kept in backend memory by `kit.upload` or `kit.alloc`, or 16-bit
 * floats: a `Uint16Array` of bfloat16 or binary16 bits (with `options.dtype`) or a `Float16Array`.
 */
export type LogitsInput = Float32Array | UploadedLogits | HalfLogitsInput;

/** Logits as 16-bit floats: bits in a `Uint16Array` (with `options.dtype`) or a `Float16Array`. */
export type HalfLogitsInput = Uint16Array | Float16ArrayLike;

/** Probabilities or probability targets, as a `Float32Array` or kept in backend memory. */
export type ProbsInput = Float32Array | UploadedLogits;

/** Options of `kit.vocabAccumulator`. */
export interface VocabAccumulatorOptions {
  /** Number of rows (positions) of the batch; an integer >= 1. Required. */
  rows: number;
  /** Size of the whole vocabulary, which the chunks must cover exactly once; an integer >= 1. Required. */
  classes: number;
  /** Temperature T > 0 applied to every chunk (and teacher chunk). Default 1. */
  temperature?: number;
  /** Labels over the whole vocabulary, one per row, for `crossEntropy`. A label may fall in any chunk. */
  labels?: Labels;
  /** Label value whose rows `crossEntropy` skips. Default -100. */
  ignoreIndex?: number;
  /** Label smoothing epsilon of `crossEntropy`, 0 or in [1e-30, 1]. Default 0. */
  labelSmoothing?: number;
}

/** Options of `VocabAccumulator.add`. */
export interface VocabAddOptions extends DtypeOptions {
  /** First class of the chunk. Required. */
  offset: number;
  /** The teacher's logits of the same classes, `rows x width`, for `klDivergence`; every chunk must have them or none. */
  teacher?: Float32Array | HalfLogitsInput;
}

/**
 * The partial state of a `VocabAccumulator`, from `state()`: plain data that survives
 * `structuredClone` and `postMessage`, so accumulators of different threads or processes can merge
 * with `merge(state)`. Its fields are internal sums; only `ranges` is meant to be read.
 */
export interface VocabState {
  /** Rows of the accumulator. */
  rows: number;
  /** Size of the whole vocabulary. */
  classes: number;
  /** Temperature T of the accumulator. */
  temperature: number;
  /** Whether the chunks came with teacher logits; null before the first chunk. */
  teacher: boolean | null;
  /** The labels of the accumulator, which a merge requires to be the same; null without labels. */
  labels: Int32Array | null;
  /** The `ignoreIndex` of the accumulator. */
  ignoreIndex: number;
  /** The classes covered so far, as sorted [start, end) pairs: [0, 128, 256, 512] covers 0-127 and 256-511. */
  ranges: number[];
  /** 12 float64 sums per row. */
  sums: Float64Array;
  /** Whether each row's label fell in a chunk merged so far. */
  labelSeen: Uint8Array;
}

/** Options of `loadLogitKit`. */
export interface LoadOptions {
  /** Backend to use. Default `auto`: `wasm` where WebAssembly SIMD compiles, else `js`. */
  backend?: BackendRequest;
  /**
   * Threads that run each large call, the calling thread included: an integer from 1 (the
   * default) to 128. Above 1 the wasm backend starts `threads - 1` workers (`worker_threads` in
   * Node.js, Web Workers in browsers) on one shared `WebAssembly.Memory`, and splits rows, or
   * the vocabulary of single huge rows, across them. Calls stay synchronous and give the same
   * results as one thread within the vector tolerances. Where shared memory or workers are not
   * available (a browser page that is not cross-origin isolated, the js backend), one thread runs
   * and `threadsReason` gives the reason.
   */
  threads?: number;
}
