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
 *   with an `Error` that names the cause, and the next call starts a new worker.
 * - `dispose()` rejects the pending calls and terminates the worker, which frees its memory.
 *
 * Logits are arrays (`ArrayLogits`): a `Float32Array`, or 16-bit floats as in `LogitKit`. The
 * examples of the methods assume `const remote = await loadLogitKitWorker();`.
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
   *
   * @example
   * ```js
   * const worker = await loadLogitKitWorker();
   * await worker.dispose();
   * const rejected = await worker.softmax(new Float32Array([0, 1]), { classes: 2 }).then(() => false, () => true);
   * console.log(rejected); // true
   * ```
   */
  dispose(): Promise<void>;

  /**
   * {@inheritDoc LogitKit.softmax}
   *
   * @throws The promise rejects with the `TypeError` or `RangeError` that {@link LogitKit.softmax}
   *   throws.
   *
   * @example
   * ```js
   * const probs = await remote.softmax(new Float32Array([2, 1, 0]), { classes: 3 });
   * console.log(probs); // [0.665, 0.245, 0.090]
   * ```
   */
  softmax(logits: ArrayLogits, options: Omit<SoftmaxOptions, "out">): Promise<Float32Array>;

  /**
   * {@inheritDoc LogitKit.logSoftmax}
   *
   * @throws The promise rejects with the `TypeError` or `RangeError` that {@link LogitKit.logSoftmax}
   *   throws.
   *
   * @example
   * ```js
   * const logProbs = await remote.logSoftmax(new Float32Array([2, 1, 0]), { classes: 3 });
   * console.log(logProbs); // [-0.408, -1.408, -2.408]
   * ```
   */
  logSoftmax(logits: ArrayLogits, options: Omit<SoftmaxOptions, "out">): Promise<Float32Array>;

  /**
   * {@inheritDoc LogitKit.logSumExp}
   *
   * @throws The promise rejects with the `TypeError` or `RangeError` that {@link LogitKit.logSumExp}
   *   throws.
   *
   * @example
   * ```js
   * const lse = await remote.logSumExp(new Float32Array([2, 1, 0, 0, 0, 0]), { classes: 3 });
   * console.log(lse); // [2.408, 1.099]
   * ```
   */
  logSumExp(logits: ArrayLogits, options: Omit<SoftmaxOptions, "out">): Promise<Float32Array>;

  /**
   * {@inheritDoc LogitKit.entropy}
   *
   * @throws The promise rejects with the `TypeError` or `RangeError` that {@link LogitKit.entropy}
   *   throws.
   *
   * @example
   * ```js
   * const h = await remote.entropy(new Float32Array([0.5, 0.5, 1, 0]), { classes: 2, reduction: "none" });
   * console.log(h); // [0.6931, 0]
   * ```
   */
  entropy<R extends Reduction | undefined = undefined>(
    probs: Float32Array,
    options: ProbsOptions<Exclude<R, undefined>> & { reduction?: R },
  ): Promise<Reduced<R, "batchmean">>;

  /**
   * {@inheritDoc LogitKit.crossEntropyOfProbs}
   *
   * @throws The promise rejects with the `TypeError` or `RangeError` that {@link LogitKit.crossEntropyOfProbs}
   *   throws.
   *
   * @example
   * ```js
   * const h = await remote.crossEntropyOfProbs(new Float32Array([1, 0]), new Float32Array([0.8, 0.2]), { classes: 2 });
   * console.log(h); // 0.2231
   * ```
   */
  crossEntropyOfProbs<R extends Reduction | undefined = undefined>(
    p: Float32Array,
    q: Float32Array,
    options: ProbsOptions<Exclude<R, undefined>> & { reduction?: R },
  ): Promise<Reduced<R, "batchmean">>;

  /**
   * {@inheritDoc LogitKit.klDivergenceOfProbs}
   *
   * @throws The promise rejects with the `TypeError` or `RangeError` that {@link LogitKit.klDivergenceOfProbs}
   *   throws.
   *
   * @example
   * ```js
   * const kl = await remote.klDivergenceOfProbs(new Float32Array([0.5, 0.5]), new Float32Array([0.9, 0.1]), { classes: 2 });
   * console.log(kl); // 0.5108
   * ```
   */
  klDivergenceOfProbs<R extends Reduction | undefined = undefined>(
    p: Float32Array,
    q: Float32Array,
    options: ProbsOptions<Exclude<R, undefined>> & { reduction?: R },
  ): Promise<Reduced<R, "batchmean">>;

  /**
   * {@inheritDoc LogitKit.entropyOfLogits}
   *
   * @throws The promise rejects with the `TypeError` or `RangeError` that {@link LogitKit.entropyOfLogits}
   *   throws.
   *
   * @example
   * ```js
   * const h = await remote.entropyOfLogits(new Float32Array([0, 0, 0, 0]), { classes: 4 });
   * console.log(h); // 1.3863
   * ```
   */
  entropyOfLogits<R extends Reduction | undefined = undefined>(
    logits: ArrayLogits,
    options: EntropyOfLogitsOptions<Exclude<R, undefined>> & { reduction?: R },
  ): Promise<Reduced<R, "batchmean">>;

  /**
   * {@inheritDoc LogitKit.entropyOfLogitsWithGrad}
   *
   * @throws The promise rejects with the `TypeError` or `RangeError` that {@link LogitKit.entropyOfLogitsWithGrad}
   *   throws.
   *
   * @example
   * ```js
   * const { loss, grad } = await remote.entropyOfLogitsWithGrad(new Float32Array([2, 1, 0]), { classes: 3 });
   * console.log(loss); // 0.8324
   * console.log(grad); // [-0.2826, 0.1408, 0.1418]
   * ```
   */
  entropyOfLogitsWithGrad<R extends Reduction | undefined = undefined>(
    logits: ArrayLogits,
    options: EntropyOfLogitsOptions<Exclude<R, undefined>> & GradOutputOptions & { reduction?: R },
  ): Promise<LossWithGrad<Reduced<R, "batchmean">>>;

  /**
   * {@inheritDoc LogitKit.crossEntropy}
   *
   * @throws The promise rejects with the `TypeError` or `RangeError` that {@link LogitKit.crossEntropy}
   *   throws.
   *
   * @example
   * ```js
   * const logits = new Float32Array([2, 1, 0, 0, 3, 1]);
   * console.log(await remote.crossEntropy(logits, [0, 1], { classes: 3 })); // 0.2887
   * ```
   */
  crossEntropy<R extends Reduction | undefined = undefined>(
    logits: ArrayLogits,
    target: Labels | Float32Array,
    options: CrossEntropyOptions<Exclude<R, undefined>> & { reduction?: R },
  ): Promise<Reduced<R, "mean">>;

  /**
   * {@inheritDoc LogitKit.crossEntropyWithGrad}
   *
   * @throws The promise rejects with the `TypeError` or `RangeError` that {@link LogitKit.crossEntropyWithGrad}
   *   throws.
   *
   * @example
   * ```js
   * const { loss, grad } = await remote.crossEntropyWithGrad(new Float32Array([2, 1, 0]), [0], { classes: 3 });
   * console.log(loss); // 0.4076
   * console.log(grad); // [-0.3348, 0.2447, 0.0900]
   * ```
   */
  crossEntropyWithGrad<R extends Reduction | undefined = undefined>(
    logits: ArrayLogits,
    target: Labels | Float32Array,
    options: CrossEntropyOptions<Exclude<R, undefined>> & GradOutputOptions & { reduction?: R },
  ): Promise<LossWithGrad<Reduced<R, "mean">>>;

  /**
   * {@inheritDoc LogitKit.klDivergence}
   *
   * @throws The promise rejects with the `TypeError` or `RangeError` that {@link LogitKit.klDivergence}
   *   throws.
   *
   * @example
   * ```js
   * const teacher = new Float32Array([2, 1, 0]);
   * const student = new Float32Array([1, 1, 1]);
   * console.log(await remote.klDivergence(teacher, student, { classes: 3 })); // 0.2662
   * ```
   */
  klDivergence<R extends Reduction | undefined = undefined>(
    pLogits: ArrayLogits,
    qLogits: ArrayLogits,
    options: KlDivergenceOptions<Exclude<R, undefined>> & { reduction?: R },
  ): Promise<Reduced<R, "batchmean">>;

  /**
   * {@inheritDoc LogitKit.klDivergenceWithGrad}
   *
   * @throws The promise rejects with the `TypeError` or `RangeError` that {@link LogitKit.klDivergenceWithGrad}
   *   throws.
   *
   * @example
   * ```js
   * const teacher = new Float32Array([2, 1, 0]);
   * const student = new Float32Array([1, 1, 1]);
   * const { grad } = await remote.klDivergenceWithGrad(teacher, student, { classes: 3 });
   * console.log(grad); // [-0.3319, 0.0886, 0.2433]
   * ```
   */
  klDivergenceWithGrad<R extends Reduction | undefined = undefined>(
    pLogits: ArrayLogits,
    qLogits: ArrayLogits,
    options: KlDivergenceOptions<Exclude<R, undefined>> & GradOutputOptions & { reduction?: R },
  ): Promise<LossWithGrad<Reduced<R, "batchmean">>>;

  /**
   * {@inheritDoc LogitKit.jsDivergence}
   *
   * @throws The promise rejects with the `TypeError` or `RangeError` that {@link LogitKit.jsDivergence}
   *   throws.
   *
   * @example
   * ```js
   * const p = new Float32Array([2, 1, 0]);
   * const q = new Float32Array([1, 1, 1]);
   * console.log(await remote.jsDivergence(p, q, { classes: 3 })); // 0.06871
   * ```
   */
  jsDivergence<R extends Reduction | undefined = undefined>(
    pLogits: ArrayLogits,
    qLogits: ArrayLogits,
    options: JsDivergenceOptions<Exclude<R, undefined>> & { reduction?: R },
  ): Promise<Reduced<R, "batchmean">>;

  /**
   * {@inheritDoc LogitKit.jsDivergenceWithGrad}
   *
   * @throws The promise rejects with the `TypeError` or `RangeError` that {@link LogitKit.jsDivergenceWithGrad}
   *   throws.
   *
   * @example
   * ```js
   * const p = new Float32Array([2, 1, 0]);
   * const q = new Float32Array([1, 1, 1]);
   * const { grad } = await remote.jsDivergenceWithGrad(p, q, { classes: 3 });
   * console.log(grad); // [-0.07804, 0.01307, 0.06497]
   * ```
   */
  jsDivergenceWithGrad<R extends Reduction | undefined = undefined>(
    pLogits: ArrayLogits,
    qLogits: ArrayLogits,
    options: JsDivergenceOptions<Exclude<R, undefined>> & GradOutputOptions & { reduction?: R },
  ): Promise<LossWithGrad<Reduced<R, "batchmean">>>;

  /**
   * {@inheritDoc LogitKit.distillationLoss}
   *
   * @throws The promise rejects with the `TypeError` or `RangeError` that {@link LogitKit.distillationLoss}
   *   throws.
   *
   * @example
   * ```js
   * const student = new Float32Array([1, 1, 1]);
   * const teacher = new Float32Array([2, 1, 0]);
   * const loss = await remote.distillationLoss(student, teacher, { classes: 3, temperature: 2, labels: [0] });
   * console.log(loss); // 0.7061
   * ```
   */
  distillationLoss(studentLogits: ArrayLogits, teacherLogits: ArrayLogits, options: DistillationOptions): Promise<number>;

  /**
   * {@inheritDoc LogitKit.distillationLossWithGrad}
   *
   * @throws The promise rejects with the `TypeError` or `RangeError` that {@link LogitKit.distillationLossWithGrad}
   *   throws.
   *
   * @example
   * ```js
   * const student = new Float32Array([1, 1, 1]);
   * const teacher = new Float32Array([2, 1, 0]);
   * const { grad } = await remote.distillationLossWithGrad(student, teacher, { classes: 3, temperature: 2, labels: [0] });
   * console.log(grad); // [-0.5065, 0.1928, 0.3137]
   * ```
   */
  distillationLossWithGrad(
    studentLogits: ArrayLogits,
    teacherLogits: ArrayLogits,
    options: DistillationOptions,
  ): Promise<LossWithGrad<number>>;

  /**
   * {@inheritDoc LogitKit.topKDistillationLoss}
   *
   * @throws The promise rejects with the `TypeError` or `RangeError` that {@link LogitKit.topKDistillationLoss}
   *   throws.
   *
   * @example
   * ```js
   * const student = new Float32Array([1, 0.5, 0, -1]);
   * const loss = await remote.topKDistillationLoss(student, [0, 2], new Float32Array([-0.2, -1.8]), { classes: 4 });
   * console.log(loss); // 0.4619
   * ```
   */
  topKDistillationLoss<R extends "none" | "sum" | "mean" | undefined = undefined>(
    studentLogits: Float32Array,
    teacherIndices: Labels,
    teacherValues: Float32Array,
    options: TopKDistillationOptions<Exclude<R, undefined>> & { reduction?: R },
  ): Promise<Reduced<R, "mean">>;

  /**
   * {@inheritDoc LogitKit.topKDistillationLossWithGrad}
   *
   * @throws The promise rejects with the `TypeError` or `RangeError` that {@link LogitKit.topKDistillationLossWithGrad}
   *   throws.
   *
   * @example
   * ```js
   * const student = new Float32Array([1, 0.5, 0, -1]);
   * const logprobs = new Float32Array([-0.2, -1.8]);
   * const { grad } = await remote.topKDistillationLossWithGrad(student, [0, 2], logprobs, { classes: 4, tail: "bucket" });
   * console.log(grad); // [-0.3447, 0.2744, 0.009073, 0.06123]
   * ```
   */
  topKDistillationLossWithGrad<R extends "none" | "sum" | "mean" | undefined = undefined>(
    studentLogits: Float32Array,
    teacherIndices: Labels,
    teacherValues: Float32Array,
    options: TopKDistillationOptions<Exclude<R, undefined>> & GradOutputOptions & { reduction?: R },
  ): Promise<LossWithGrad<Reduced<R, "mean">>>;
}
