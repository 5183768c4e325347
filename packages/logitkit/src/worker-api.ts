import type {
  BackendName,
  CrossEntropyOptions,
  DistillationOptions,
  EntropyOfLogitsOptions,
  GradOutputOptions,
  HalfLogitsInput,
  JsDivergenceOptions,
  KlDivergenceOptions,
  Labels,
  LossWithGrad,
  ProbsOptions,
  Reduced,
  Reduction,
  SoftmaxOptions,
  TopKDistillationOptions,
} from "./types.js";

/** Logits as an array: float32, or 16-bit floats with `options.dtype` (see `DtypeOptions`). */
type ArrayLogits = Float32Array | HalfLogitsInput;

/**
 * The operations of logitkit on a worker thread, as returned by `loadLogitKitWorker`. It has the
 * functions, options, results and errors of `LogitKit`, and each function returns a promise, so
 * the calling thread (a page's main thread, a server's event loop) stays free while a call runs.
 *
 * - The arguments are read and copied when the call is made, so the caller may change or reuse
 *   its arrays as soon as the method returns. Results arrive as new arrays.
 * - Invalid input rejects the call with the `TypeError` or `RangeError` that `LogitKit` throws;
 *   the object stays usable. Handles, `out` and `gradOut` are not accepted: the data lives in
 *   the worker, and results are moved back as new arrays.
 * - Calls run one after another in the order they were made, so any number may be pending.
 * - When the worker thread stops (terminated, crashed, out of memory), the pending calls reject
 *   with an `Error` that says so, and the next call starts a new worker.
 * - `dispose()` rejects the pending calls and terminates the worker, which frees its memory.
 */
export interface LogitKitWorker {
  /** Backend that runs the operations in the worker. */
  readonly backend: BackendName;

  /** Reason that `auto` fell back to the `js` backend, else undefined. */
  readonly fallbackReason?: string;

  /** Threads that run each large call inside the worker, as of the last reply; see `LogitKit.threads`. */
  readonly threads: number;

  /** Reason that fewer threads run than requested, as of the last reply, else undefined. */
  readonly threadsReason?: string;

  /**
   * Rejects every pending call, terminates the worker thread and its thread pool, and resolves
   * once they are gone. Later calls reject. Calling it again does nothing.
   */
  dispose(): Promise<void>;

  /** See `LogitKit.softmax`. */
  softmax(logits: ArrayLogits, options: Omit<SoftmaxOptions, "out">): Promise<Float32Array>;

  /** See `LogitKit.logSoftmax`. */
  logSoftmax(logits: ArrayLogits, options: Omit<SoftmaxOptions, "out">): Promise<Float32Array>;

  /** See `LogitKit.logSumExp`. */
  logSumExp(logits: ArrayLogits, options: Omit<SoftmaxOptions, "out">): Promise<Float32Array>;

  /** See `LogitKit.entropy`. */
  entropy<R extends Reduction | undefined = undefined>(
    probs: Float32Array,
    options: ProbsOptions<Exclude<R, undefined>> & { reduction?: R },
  ): Promise<Reduced<R, "batchmean">>;

  /** See `LogitKit.crossEntropyOfProbs`. */
  crossEntropyOfProbs<R extends Reduction | undefined = undefined>(
    p: Float32Array,
    q: Float32Array,
    options: ProbsOptions<Exclude<R, undefined>> & { reduction?: R },
  ): Promise<Reduced<R, "batchmean">>;

  /** See `LogitKit.klDivergenceOfProbs`. */
  klDivergenceOfProbs<R extends Reduction | undefined = undefined>(
    p: Float32Array,
    q: Float32Array,
    options: ProbsOptions<Exclude<R, undefined>> & { reduction?: R },
  ): Promise<Reduced<R, "batchmean">>;

  /** See `LogitKit.entropyOfLogits`. */
  entropyOfLogits<R extends Reduction | undefined = undefined>(
    logits: ArrayLogits,
    options: EntropyOfLogitsOptions<Exclude<R, undefined>> & { reduction?: R },
  ): Promise<Reduced<R, "batchmean">>;

  /** See `LogitKit.entropyOfLogitsWithGrad`. */
  entropyOfLogitsWithGrad<R extends Reduction | undefined = undefined>(
    logits: ArrayLogits,
    options: EntropyOfLogitsOptions<Exclude<R, undefined>> & GradOutputOptions & { reduction?: R },
  ): Promise<LossWithGrad<Reduced<R, "batchmean">>>;

  /** See `LogitKit.crossEntropy`. */
  crossEntropy<R extends Reduction | undefined = undefined>(
    logits: ArrayLogits,
    target: Labels | Float32Array,
    options: CrossEntropyOptions<Exclude<R, undefined>> & { reduction?: R },
  ): Promise<Reduced<R, "mean">>;

  /** See `LogitKit.crossEntropyWithGrad`. */
  crossEntropyWithGrad<R extends Reduction | undefined = undefined>(
    logits: ArrayLogits,
    target: Labels | Float32Array,
    options: CrossEntropyOptions<Exclude<R, undefined>> & GradOutputOptions & { reduction?: R },
  ): Promise<LossWithGrad<Reduced<R, "mean">>>;

  /** See `LogitKit.klDivergence`. */
  klDivergence<R extends Reduction | undefined = undefined>(
    pLogits: ArrayLogits,
    qLogits: ArrayLogits,
    options: KlDivergenceOptions<Exclude<R, undefined>> & { reduction?: R },
  ): Promise<Reduced<R, "batchmean">>;

  /** See `LogitKit.klDivergenceWithGrad`. */
  klDivergenceWithGrad<R extends Reduction | undefined = undefined>(
    pLogits: ArrayLogits,
    qLogits: ArrayLogits,
    options: KlDivergenceOptions<Exclude<R, undefined>> & GradOutputOptions & { reduction?: R },
  ): Promise<LossWithGrad<Reduced<R, "batchmean">>>;

  /** See `LogitKit.jsDivergence`. */
  jsDivergence<R extends Reduction | undefined = undefined>(
    pLogits: ArrayLogits,
    qLogits: ArrayLogits,
    options: JsDivergenceOptions<Exclude<R, undefined>> & { reduction?: R },
  ): Promise<Reduced<R, "batchmean">>;

  /** See `LogitKit.jsDivergenceWithGrad`. */
  jsDivergenceWithGrad<R extends Reduction | undefined = undefined>(
    pLogits: ArrayLogits,
    qLogits: ArrayLogits,
    options: JsDivergenceOptions<Exclude<R, undefined>> & GradOutputOptions & { reduction?: R },
  ): Promise<LossWithGrad<Reduced<R, "batchmean">>>;

  /** See `LogitKit.distillationLoss`. */
  distillationLoss(studentLogits: ArrayLogits, teacherLogits: ArrayLogits, options: DistillationOptions): Promise<number>;

  /** See `LogitKit.distillationLossWithGrad`. */
  distillationLossWithGrad(
    studentLogits: ArrayLogits,
    teacherLogits: ArrayLogits,
    options: DistillationOptions,
  ): Promise<LossWithGrad<number>>;

  /** See `LogitKit.topKDistillationLoss`. */
  topKDistillationLoss<R extends "none" | "sum" | "mean" | undefined = undefined>(
    studentLogits: Float32Array,
    teacherIndices: Labels,
    teacherValues: Float32Array,
    options: TopKDistillationOptions<Exclude<R, undefined>> & { reduction?: R },
  ): Promise<Reduced<R, "mean">>;

  /** See `LogitKit.topKDistillationLossWithGrad`. */
  topKDistillationLossWithGrad<R extends "none" | "sum" | "mean" | undefined = undefined>(
    studentLogits: Float32Array,
    teacherIndices: Labels,
    teacherValues: Float32Array,
    options: TopKDistillationOptions<Exclude<R, undefined>> & GradOutputOptions & { reduction?: R },
  ): Promise<LossWithGrad<Reduced<R, "mean">>>;
}
