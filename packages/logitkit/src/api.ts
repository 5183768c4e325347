import type {
  BackendName,
  CrossEntropyOptions,
  DtypeOptions,
  DistillationOptions,
  EntropyOfLogitsOptions,
  GradOutOptions,
  GradOutputOptions,
  JsDivergenceOptions,
  KlDivergenceOptions,
  HalfLogitsInput,
  Labels,
  LogitsInput,
  LossWithGrad,
  ProbsInput,
  ProbsOptions,
  Reduced,
  ShapeOptions,
  Reduction,
  SoftmaxOptions,
  TopKDistillationOptions,
  UploadedLogits,
  VocabAccumulatorOptions,
  VocabAddOptions,
  VocabState,
} from "./types.js";

/**
 * The operations of logitkit on one backend, as returned by `loadLogitKit`.
 *
 * Every function validates all of its arguments before any work and throws a `TypeError`
 * (wrong type, missing or unknown option) or a `RangeError` (wrong length or value) whose
 * message names the argument, the expected and the actual value. A failed call leaves the
 * object usable. Inputs are never modified.
 *
 * The examples of the methods assume `const kit = await loadLogitKit();` and print results
 * rounded to the digits shown.
 *
 * Every argument that takes logits also takes 16-bit floats: a `Uint16Array` of bfloat16 or
 * binary16 bits with `options.dtype`, or a `Float16Array`. They are widened to float32 exactly,
 * a chunk of rows at a time, so results equal those of the float32 values. Probabilities,
 * targets, weights and outputs are float32 only.
 */
export interface LogitKit {
  /** Backend that runs the operations. */
  readonly backend: BackendName;

  /**
   * Copies `logits` into the backend's memory once and returns a handle that every function
   * taking logits, probabilities or probability targets accepts in their place, so chains of
   * operations on the same matrix skip the copy into WebAssembly memory. The handle can also
   * receive an output (`out`, `gradOut`). Call `free()` when done; the memory is reused by
   * later handles.
   *
   * 16-bit logits (with `dtype`, as in the other functions) are widened once, and the handle
   * keeps float32.
   *
   * @param logits row-major matrix (logits or probabilities).
   * @param options `classes` (required), checked like the other functions' shape; `dtype`.
   * @returns the handle; `length` is the number of floats kept.
   * @throws `TypeError` or `RangeError` on invalid input.
   *
   * @example
   * ```js
   * const logits = kit.upload(new Float32Array([2, 1, 0, 0, 0, 0]), { classes: 3 });
   * console.log(kit.logSumExp(logits, { classes: 3 })); // [2.408, 1.099]
   * console.log(kit.softmax(logits, { classes: 3 })); // [0.665, 0.245, 0.090, 0.333, 0.333, 0.333]
   * logits.free();
   * ```
   */
  upload(logits: Float32Array | HalfLogitsInput, options: ShapeOptions & DtypeOptions): UploadedLogits;

  /**
   * Reserves a zero-filled `length`-float matrix in the backend's memory, as the `out` or
   * `gradOut` of later calls: their results then stay there, ready as the input of the next
   * call, and are copied out only by `toArray()`. Call `free()` when done.
   *
   * @param length number of floats, `rows x classes` (or `rows` for the `out` of `logSumExp`).
   * @param options `classes` (required); `length` must be a multiple of it.
   * @returns the handle, owned by this kit.
   * @throws `TypeError` or `RangeError` on invalid input or when the memory cannot grow.
   *
   * @example
   * ```js
   * const probs = kit.alloc(6, { classes: 3 });
   * kit.softmax(new Float32Array([2, 1, 0, 0, 0, 0]), { classes: 3, out: probs });
   * console.log(kit.entropy(probs, { classes: 3, reduction: "none" })); // [0.832, 1.099]
   * probs.free();
   * ```
   */
  alloc(length: number, options: ShapeOptions): UploadedLogits;

  /** Reason that `auto` fell back to the `js` backend (for example, no WebAssembly SIMD), else undefined. */
  readonly fallbackReason?: string;

  /** Threads that run each large call, the calling thread included; 1 after `dispose()`. */
  readonly threads: number;

  /** Reason that fewer threads run than `loadLogitKit` was asked for (also after `dispose()`), else undefined. */
  readonly threadsReason?: string;

  /**
   * Terminates the worker threads of `threads`. The object stays usable and runs later calls on
   * the calling thread. Without workers it does nothing. Without it, the workers stop when the
   * object is garbage-collected, and a Node.js process still exits because idle workers do not
   * keep it alive.
   *
   * @example
   * ```js
   * const pooled = await loadLogitKit({ threads: 2 });
   * pooled.dispose();
   * console.log(pooled.threads); // 1
   * ```
   */
  dispose(): void;

  /**
   * Creates an accumulator for rows whose logits arrive in chunks of the vocabulary, such as a
   * vocabulary split across workers, shards or network messages. Each `add` takes the logits of
   * one range of classes for every row; once the chunks cover every class exactly once, the
   * accumulator gives the whole rows' logsumexp, entropy, cross-entropy with labels and, when each
   * chunk came with the teacher's logits of the same classes, KL(teacher ‖ model). The results
   * equal those of `logSumExp`, `entropyOfLogits`, `crossEntropy` and `klDivergence` on the whole
   * rows within float32 rounding. Chunks may come in any order, and accumulators (or their
   * `state()`, sent between threads or processes) merge in any order.
   *
   * @param options `rows` and `classes` (required), `temperature` (default 1), `labels`,
   * `ignoreIndex` (default -100) and `labelSmoothing` (default 0) for `crossEntropy`.
   * @returns the accumulator, empty.
   * @throws `TypeError` or `RangeError` on invalid input.
   *
   * @example
   * ```js
   * // One row of 4 classes, in two chunks of 2; the label (3) is in the second chunk.
   * const acc = kit.vocabAccumulator({ rows: 1, classes: 4, labels: [3] });
   * acc.add(new Float32Array([0, -1]), { offset: 2 });
   * acc.add(new Float32Array([2, 1]), { offset: 0 });
   * console.log(acc.crossEntropy()); // 3.440
   * console.log(kit.crossEntropy(new Float32Array([2, 1, 0, -1]), [3], { classes: 4 })); // 3.440
   * ```
   */
  vocabAccumulator(options: VocabAccumulatorOptions): VocabAccumulator;

  /**
   * Computes softmax(z / T) of each row: p_i = exp(z_i / T - m) / sum_j exp(z_j / T - m), with
   * m the row maximum of z / T. A `-Infinity` logit gets probability 0; a row that is all
   * `-Infinity`, or has a `NaN` or `+Infinity`, gives `NaN` for the whole row.
   *
   * @param logits row-major `rows x classes` logits.
   * @param options `classes` (required), `temperature` (default 1), `out` (optional buffer),
   *   `dtype` (default `"f32"`).
   * @returns the probabilities, in `out` when given (then `out` itself, array or handle).
   * @throws `TypeError` or `RangeError` on invalid input, see {@link LogitKit}.
   *
   * @example
   * ```js
   * const logits = new Float32Array([2, 1, 0]);
   * console.log(kit.softmax(logits, { classes: 3 })); // [0.665, 0.245, 0.090]
   * console.log(kit.softmax(logits, { classes: 3, temperature: 2 })); // [0.506, 0.307, 0.186]
   * // A -Infinity logit is a masked class.
   * console.log(kit.softmax(new Float32Array([2, 1, -Infinity]), { classes: 3 })); // [0.731, 0.269, 0]
   * ```
   */
  softmax(logits: LogitsInput, options: SoftmaxOptions & { out: UploadedLogits }): UploadedLogits;
  /** Returns a new `Float32Array`, or the `Float32Array` given as `out`, filled. */
  softmax(logits: LogitsInput, options: SoftmaxOptions & { out?: Float32Array }): Float32Array;

  /**
   * Computes log softmax(z / T) of each row: z_i / T - logsumexp(z / T). A `-Infinity` logit
   * gives `-Infinity`; rows that are all `-Infinity`, or have a `NaN` or `+Infinity`, give `NaN`.
   *
   * @param logits row-major `rows x classes` logits.
   * @param options `classes` (required), `temperature` (default 1), `out` (optional buffer),
   *   `dtype` (default `"f32"`).
   * @returns the log-probabilities in nats, in `out` when given (then `out` itself).
   * @throws `TypeError` or `RangeError` on invalid input.
   *
   * @example
   * ```js
   * const logits = new Float32Array([2, 1, 0]);
   * console.log(kit.logSoftmax(logits, { classes: 3 })); // [-0.408, -1.408, -2.408]
   * ```
   */
  logSoftmax(logits: LogitsInput, options: SoftmaxOptions & { out: UploadedLogits }): UploadedLogits;
  /** Returns a new `Float32Array`, or the `Float32Array` given as `out`, filled. */
  logSoftmax(logits: LogitsInput, options: SoftmaxOptions & { out?: Float32Array }): Float32Array;

  /**
   * Computes logsumexp(z / T) = m + log sum_j exp(z_j / T - m) of each row. A row that is all
   * `-Infinity` gives `-Infinity`; a row with `+Infinity` (and no `NaN`) gives `+Infinity`;
   * a row with a `NaN` gives `NaN`.
   *
   * @param logits row-major `rows x classes` logits.
   * @param options `classes` (required), `temperature` (default 1), `out` (optional buffer of length `rows`),
   *   `dtype` (default `"f32"`).
   * @returns one value per row, in `out` when given (then `out` itself).
   * @throws `TypeError` or `RangeError` on invalid input.
   *
   * @example
   * ```js
   * const logits = new Float32Array([2, 1, 0, 0, 0, 0]); // 2 rows x 3 classes
   * console.log(kit.logSumExp(logits, { classes: 3 })); // [2.408, 1.099]
   * const masked = new Float32Array([0, -Infinity, -Infinity, -Infinity]);
   * console.log(kit.logSumExp(masked, { classes: 2 })); // [0, -Infinity]
   * ```
   */
  logSumExp(logits: LogitsInput, options: SoftmaxOptions & { out: UploadedLogits }): UploadedLogits;
  /** Returns a new `Float32Array`, or the `Float32Array` given as `out`, filled. */
  logSumExp(logits: LogitsInput, options: SoftmaxOptions & { out?: Float32Array }): Float32Array;

  /**
   * Computes the Shannon entropy H(P) = -sum_i p_i log p_i of each row of probabilities, with
   * 0 log 0 = 0.
   *
   * @param probs row-major `rows x classes` probabilities.
   * @param options `classes` (required), `reduction` (default `batchmean`).
   * @returns nats: a number, or one value per row for `reduction: "none"`.
   * @throws `TypeError` or `RangeError` on invalid input.
   *
   * @example
   * ```js
   * const probs = new Float32Array([0.5, 0.5, 1, 0]); // 2 rows x 2 classes
   * console.log(kit.entropy(probs, { classes: 2, reduction: "none" })); // [0.6931, 0]
   * console.log(kit.entropy(probs, { classes: 2 })); // 0.3466
   * ```
   */
  entropy<R extends Reduction | undefined = undefined>(
    probs: ProbsInput,
    options: ProbsOptions<Exclude<R, undefined>> & { reduction?: R },
  ): Reduced<R, "batchmean">;

  /**
   * Computes the cross-entropy H(P, Q) = -sum_i p_i log q_i of each row of probabilities, with
   * 0 log q = 0 when p = 0; p > 0 with q = 0 gives `+Infinity`.
   *
   * @param p target probabilities, `rows x classes`.
   * @param q predicted probabilities, same length as `p`.
   * @param options `classes` (required), `reduction` (default `batchmean`).
   * @returns nats: a number, or one value per row for `reduction: "none"`.
   * @throws `TypeError` or `RangeError` on invalid input.
   *
   * @example
   * ```js
   * const p = new Float32Array([1, 0]);
   * const q = new Float32Array([0.8, 0.2]);
   * console.log(kit.crossEntropyOfProbs(p, q, { classes: 2 })); // 0.2231
   * ```
   */
  crossEntropyOfProbs<R extends Reduction | undefined = undefined>(
    p: ProbsInput,
    q: ProbsInput,
    options: ProbsOptions<Exclude<R, undefined>> & { reduction?: R },
  ): Reduced<R, "batchmean">;

  /**
   * Computes the Kullback-Leibler divergence D_KL(P ‖ Q) = sum_i p_i log(p_i / q_i) of each
   * row of probabilities, with terms where p = 0 equal to 0; p > 0 with q = 0 gives `+Infinity`.
   *
   * @param p target probabilities, `rows x classes`.
   * @param q predicted probabilities, same length as `p`.
   * @param options `classes` (required), `reduction` (default `batchmean`).
   * @returns nats: a number, or one value per row for `reduction: "none"`.
   * @throws `TypeError` or `RangeError` on invalid input.
   *
   * @example
   * ```js
   * const p = new Float32Array([0.5, 0.5]);
   * console.log(kit.klDivergenceOfProbs(p, new Float32Array([0.9, 0.1]), { classes: 2 })); // 0.5108
   * console.log(kit.klDivergenceOfProbs(p, new Float32Array([1, 0]), { classes: 2 })); // Infinity
   * ```
   */
  klDivergenceOfProbs<R extends Reduction | undefined = undefined>(
    p: ProbsInput,
    q: ProbsInput,
    options: ProbsOptions<Exclude<R, undefined>> & { reduction?: R },
  ): Reduced<R, "batchmean">;

  /**
   * Computes the entropy H(softmax(z / T)) of each row of logits without forming log p
   * element-wise: H = logsumexp(x) - sum_i p_i x_i with x = z / T.
   *
   * @param logits row-major `rows x classes` logits.
   * @param options `classes` (required), `temperature` (default 1), `reduction` (default `batchmean`),
   *   `dtype` (default `"f32"`).
   * @returns nats: a number, or one value per row for `reduction: "none"`.
   * @throws `TypeError` or `RangeError` on invalid input.
   *
   * @example
   * ```js
   * const logits = new Float32Array([0, 0, 0, 0, 5, 0, 0, 0]); // 2 rows x 4 classes
   * console.log(kit.entropyOfLogits(logits, { classes: 4, reduction: "none" })); // [1.3863, 0.1191]
   * ```
   */
  entropyOfLogits<R extends Reduction | undefined = undefined>(
    logits: LogitsInput,
    options: EntropyOfLogitsOptions<Exclude<R, undefined>> & { reduction?: R },
  ): Reduced<R, "batchmean">;

  /**
   * Computes `entropyOfLogits` and its gradient in one fused pass:
   * dH/dz_j = -(1 / T) p_j (log p_j + H), exactly 0 for a masked (`-Infinity`) class.
   *
   * @param logits row-major `rows x classes` logits.
   * @param options as `entropyOfLogits`, plus `gradOutput` with `reduction: "none"` and
   *   `gradOut` (see GradOutOptions).
   * @returns `{ loss, grad }`, `grad` with the shape of `logits`.
   * @throws `TypeError` or `RangeError` on invalid input.
   *
   * @example
   * ```js
   * const { loss, grad } = kit.entropyOfLogitsWithGrad(new Float32Array([2, 1, 0]), { classes: 3 });
   * console.log(loss); // 0.8324
   * console.log(grad); // [-0.2826, 0.1408, 0.1418]
   * ```
   */
  entropyOfLogitsWithGrad<R extends Reduction | undefined = undefined, G extends Float32Array | UploadedLogits = Float32Array>(
    logits: LogitsInput,
    options: EntropyOfLogitsOptions<Exclude<R, undefined>> & GradOutputOptions & GradOutOptions<G> & { reduction?: R },
  ): LossWithGrad<Reduced<R, "batchmean">, G>;

  /**
   * Computes the cross-entropy of softmax(z / T) against integer labels or probability targets,
   * with PyTorch's semantics.
   *
   * With labels y: loss_i = (1 - eps) w[y_i] (-log q_{i,y_i}) + (eps / C) sum_c w_c (-log q_{i,c});
   * rows whose label equals `ignoreIndex` contribute 0, and `mean` divides by the sum of
   * w[y_i] over the other rows (`NaN` when every row is ignored).
   * With probability targets t: loss_i = -sum_c w_c u_{i,c} log q_{i,c} with the smoothed target
   * u = (1 - eps) t + eps / C, terms with u = 0 count 0, and `mean` divides by `rows`.
   *
   * @param logits row-major `rows x classes` logits.
   * @param target labels (`Int32Array` or `number[]`, one per row) or targets (`Float32Array`
   *   of the logits' length).
   * @param options `classes` (required), `reduction` (default `mean`), `weight`, `ignoreIndex`
   *   (default -100), `labelSmoothing` (default 0), `temperature` (default 1), `dtype` (default
   *   `"f32"`, the logits' format; probability targets are float32).
   * @returns nats: a number, or one value per row for `reduction: "none"`.
   * @throws `TypeError` or `RangeError` on invalid input, including a label outside
   *   `[0, classes)` that is not `ignoreIndex`.
   *
   * @example
   * ```js
   * const logits = new Float32Array([2, 1, 0, 0, 3, 1]); // 2 rows x 3 classes
   * console.log(kit.crossEntropy(logits, [0, 1], { classes: 3 })); // 0.2887
   * console.log(kit.crossEntropy(logits, [0, 1], { classes: 3, reduction: "none" })); // [0.4076, 0.1698]
   * // The second row is ignored, so the mean is over the first row alone.
   * console.log(kit.crossEntropy(logits, [0, -100], { classes: 3 })); // 0.4076
   * console.log(kit.crossEntropy(logits, [0, 1], { classes: 3, labelSmoothing: 0.1 })); // 0.4221
   * // Probability targets, one row of classes per row of logits.
   * const targets = new Float32Array([1, 0, 0, 0, 0.5, 0.5]);
   * console.log(kit.crossEntropy(logits, targets, { classes: 3 })); // 0.7887
   * ```
   */
  crossEntropy<R extends Reduction | undefined = undefined>(
    logits: LogitsInput,
    target: Labels | ProbsInput,
    options: CrossEntropyOptions<Exclude<R, undefined>> & { reduction?: R },
  ): Reduced<R, "mean">;

  /**
   * Computes `crossEntropy` and its gradient with respect to the (unscaled) logits in one fused
   * pass: with labels, dL/dz_c = (s / T) (q_c ((1 - eps) w_y + (eps / C) sum_k w_k) -
   * (1 - eps) w_y [c = y] - (eps / C) w_c), where s is the row's share of the reduction.
   *
   * @param logits row-major `rows x classes` logits.
   * @param target labels or probability targets, as in `crossEntropy`.
   * @param options as `crossEntropy`, plus `gradOutput` with `reduction: "none"` and
   *   `gradOut` (see GradOutOptions).
   * @returns `{ loss, grad }`, `grad` with the shape of `logits`.
   * @throws `TypeError` or `RangeError` on invalid input.
   *
   * @example
   * ```js
   * const { loss, grad } = kit.crossEntropyWithGrad(new Float32Array([2, 1, 0]), [0], { classes: 3 });
   * console.log(loss); // 0.4076
   * console.log(grad); // [-0.3348, 0.2447, 0.0900]
   * // Per-row losses with an upstream gradient that keeps only the first row.
   * const logits = new Float32Array([2, 1, 0, 0, 3, 1]);
   * const rows = kit.crossEntropyWithGrad(logits, [0, 1], { classes: 3, reduction: "none", gradOutput: [1, 0] });
   * console.log(rows.grad); // [-0.3348, 0.2447, 0.0900, 0, 0, 0]
   * ```
   */
  crossEntropyWithGrad<R extends Reduction | undefined = undefined, G extends Float32Array | UploadedLogits = Float32Array>(
    logits: LogitsInput,
    target: Labels | ProbsInput,
    options: CrossEntropyOptions<Exclude<R, undefined>> & GradOutputOptions & GradOutOptions<G> & { reduction?: R },
  ): LossWithGrad<Reduced<R, "mean">, G>;

  /**
   * Computes D_KL(softmax(p / T) ‖ softmax(q / T)) of each pair of rows, from logits. P is the
   * target (for example a teacher), Q the prediction (a student). No T^2 factor is applied.
   *
   * @param pLogits target logits, `rows x classes`.
   * @param qLogits predicted logits, same length.
   * @param options `classes` (required), `temperature` (default 1), `reduction` (default `batchmean`),
   *   `dtype` (default `"f32"`).
   * @returns nats: a number, or one value per row for `reduction: "none"`.
   * @throws `TypeError` or `RangeError` on invalid input.
   *
   * @example
   * ```js
   * const teacher = new Float32Array([2, 1, 0]);
   * const student = new Float32Array([1, 1, 1]);
   * console.log(kit.klDivergence(teacher, student, { classes: 3 })); // 0.2662
   * console.log(kit.klDivergence(teacher, student, { classes: 3, temperature: 2 })); // 0.07842
   * ```
   */
  klDivergence<R extends Reduction | undefined = undefined>(
    pLogits: LogitsInput,
    qLogits: LogitsInput,
    options: KlDivergenceOptions<Exclude<R, undefined>> & { reduction?: R },
  ): Reduced<R, "batchmean">;

  /**
   * Computes `klDivergence` and its gradient with respect to `qLogits` in one fused pass:
   * dL/dq_c = (s / T) (Q_c - P_c), with s the row's share of the reduction.
   *
   * @param options as `klDivergence`, plus `gradOutput` with `reduction: "none"` and `gradOut`.
   * @returns `{ loss, grad }`, `grad` with the shape of `qLogits`.
   * @throws `TypeError` or `RangeError` on invalid input.
   *
   * @example
   * ```js
   * const teacher = new Float32Array([2, 1, 0]);
   * const student = new Float32Array([1, 1, 1]);
   * const { loss, grad } = kit.klDivergenceWithGrad(teacher, student, { classes: 3 });
   * console.log(loss); // 0.2662
   * console.log(grad); // [-0.3319, 0.0886, 0.2433]
   * ```
   */
  klDivergenceWithGrad<R extends Reduction | undefined = undefined, G extends Float32Array | UploadedLogits = Float32Array>(
    pLogits: LogitsInput,
    qLogits: LogitsInput,
    options: KlDivergenceOptions<Exclude<R, undefined>> & GradOutputOptions & GradOutOptions<G> & { reduction?: R },
  ): LossWithGrad<Reduced<R, "batchmean">, G>;

  /**
   * Computes the generalized Jensen-Shannon divergence of each pair of rows, from logits:
   * with M = beta P + (1 - beta) Q, loss = beta KL(P ‖ M) + (1 - beta) KL(Q ‖ M), where
   * P = softmax(p / T) and Q = softmax(q / T). `beta = 0` is defined as KL(P ‖ Q) and
   * `beta = 1` as KL(Q ‖ P). At beta = 0.5 the value lies in [0, log 2].
   *
   * @param options `classes` (required), `beta` (default 0.5), `temperature` (default 1),
   *   `reduction` (default `batchmean`), `dtype` (default `"f32"`).
   * @returns nats: a number, or one value per row for `reduction: "none"`.
   * @throws `TypeError` or `RangeError` on invalid input.
   *
   * @example
   * ```js
   * const p = new Float32Array([2, 1, 0]);
   * const q = new Float32Array([1, 1, 1]);
   * console.log(kit.jsDivergence(p, q, { classes: 3 })); // 0.06871
   * console.log(kit.jsDivergence(p, q, { classes: 3, beta: 0 })); // 0.2662
   * ```
   */
  jsDivergence<R extends Reduction | undefined = undefined>(
    pLogits: LogitsInput,
    qLogits: LogitsInput,
    options: JsDivergenceOptions<Exclude<R, undefined>> & { reduction?: R },
  ): Reduced<R, "batchmean">;

  /**
   * Computes `jsDivergence` and its gradient with respect to `qLogits` in one fused pass:
   * dL/dq_j = (s / T) Q_j (h_j - sum_i Q_i h_i) with h = (1 - beta)(log Q - log M).
   *
   * @param options as `jsDivergence`, plus `gradOutput` with `reduction: "none"` and `gradOut`.
   * @returns `{ loss, grad }`, `grad` with the shape of `qLogits`.
   * @throws `TypeError` or `RangeError` on invalid input.
   *
   * @example
   * ```js
   * const p = new Float32Array([2, 1, 0]);
   * const q = new Float32Array([1, 1, 1]);
   * const { loss, grad } = kit.jsDivergenceWithGrad(p, q, { classes: 3 });
   * console.log(loss); // 0.06871
   * console.log(grad); // [-0.07804, 0.01307, 0.06497]
   * ```
   */
  jsDivergenceWithGrad<R extends Reduction | undefined = undefined, G extends Float32Array | UploadedLogits = Float32Array>(
    pLogits: LogitsInput,
    qLogits: LogitsInput,
    options: JsDivergenceOptions<Exclude<R, undefined>> & GradOutputOptions & GradOutOptions<G> & { reduction?: R },
  ): LossWithGrad<Reduced<R, "batchmean">, G>;

  /**
   * Computes the temperature-scaled distillation loss (Hinton et al., 2015):
   * loss = alpha T^2 KL(softmax(t / T) ‖ softmax(s / T)) + (1 - alpha) CE(s, labels), each
   * term averaged over the rows whose label is not `ignoreIndex` (the CE term at temperature 1).
   * Without `labels`, every row counts and the loss is T^2 KL averaged over rows; `alpha` is
   * then not used. The T^2 factor keeps the gradient's scale independent of T.
   *
   * @param studentLogits `rows x classes`.
   * @param teacherLogits same length.
   * @param options `classes` (required), `temperature` (default 1), `alpha` (default 0.5),
   *   `labels`, `ignoreIndex` (default -100), `dtype` (default `"f32"`).
   * @returns the loss in nats (`NaN` when every row is ignored).
   * @throws `TypeError` or `RangeError` on invalid input.
   *
   * @example
   * ```js
   * const student = new Float32Array([1, 1, 1]);
   * const teacher = new Float32Array([2, 1, 0]);
   * const options = { classes: 3, temperature: 2, alpha: 0.5, labels: [0] };
   * console.log(kit.distillationLoss(student, teacher, options)); // 0.7061
   * // Without labels: T^2 KL(teacher ‖ student) at T = 2.
   * console.log(kit.distillationLoss(student, teacher, { classes: 3, temperature: 2 })); // 0.3137
   * ```
   */
  distillationLoss(studentLogits: LogitsInput, teacherLogits: LogitsInput, options: DistillationOptions): number;

  /**
   * Computes `distillationLoss` and its gradient with respect to the student logits in one
   * fused pass: dL/ds_c = (1 / N) (alpha T (Q_T,c - P_T,c) + (1 - alpha)(Q_1,c - [c = y])).
   *
   * @param options as `distillationLoss`, plus `gradOut` (see GradOutOptions).
   * @returns `{ loss, grad }`, `grad` with the shape of `studentLogits`.
   * @throws `TypeError` or `RangeError` on invalid input.
   *
   * @example
   * ```js
   * const student = new Float32Array([1, 1, 1]);
   * const teacher = new Float32Array([2, 1, 0]);
   * const { loss, grad } = kit.distillationLossWithGrad(student, teacher, { classes: 3, temperature: 2, labels: [0] });
   * console.log(loss); // 0.7061
   * console.log(grad); // [-0.5065, 0.1928, 0.3137]
   * ```
   */
  distillationLossWithGrad<G extends Float32Array | UploadedLogits = Float32Array>(
    studentLogits: LogitsInput,
    teacherLogits: LogitsInput,
    options: DistillationOptions & GradOutOptions<G>,
  ): LossWithGrad<number, G>;

  /**
   * Computes the distillation loss against a teacher that gave only its top-k tokens per row,
   * as inference servers return them. With S the row's tokens, v their values and
   * Q_T = softmax(s / T) the student over every class:
   *
   * - `tail: "drop"` (default): P_j = softmax over S of v / T, for logits and log-probabilities
   *   alike (they differ by a constant per row). Soft term T^2 sum_{j in S} P_j log(P_j / Q_T,j):
   *   the KL divergence from the renormalised teacher to the full student, so the student's
   *   mass outside S is pushed down.
   * - `tail: "bucket"`: P_j = exp(v_j) and the tail mass r = 1 - sum_S P_j, kept as one class.
   *   Soft term sum_S P_j log(P_j / Q_j) + r log(r / Q_tail) with Q_tail = sum_{i not in S} Q_i.
   *   It needs log-probabilities over the full vocabulary (`values: "logprobs"`) at
   *   temperature 1. When sum_S P_j reaches 1 (rounding, at most 1 + 1e-4) or S lists every
   *   class, the P_j are divided by their sum and r = 0.
   *
   * loss = alpha soft + (1 - alpha) CE(s, labels), the hard term at temperature 1, reduced over
   * the rows whose label is not `ignoreIndex`. Without `labels` the loss is the soft term and
   * `alpha` is not used. An index of -1 is padding (a row with fewer than k tokens): its value is
   * not read. The values of ignored rows are not read either.
   *
   * @param studentLogits `rows x classes`.
   * @param teacherIndices `rows x k` token indices (`Int32Array` or `number[]`), each in
   *   `[0, classes)` or -1, distinct within a row; k is `teacherIndices.length / rows`.
   * @param teacherValues `rows x k` log-probabilities (default) or logits, a `Float32Array`.
   * @param options `classes` (required), `values` (`logprobs`), `tail` (`drop`), `temperature`
   *   (1), `alpha` (0.5), `labels`, `ignoreIndex` (-100), `reduction` (`mean`, `sum` or `none`).
   * @returns nats: a number, or one value per row for `reduction: "none"`.
   * @throws `TypeError` or `RangeError` on invalid input, also for a log-probability above 1e-4, a
   *   `bucket` row whose probabilities sum above 1 + 1e-4, and a `drop` row with only padding.
   *
   * @example
   * ```js
   * // One row of 4 classes; the teacher returned tokens 0 and 2 with their log-probabilities.
   * const student = new Float32Array([1, 0.5, 0, -1]);
   * const indices = [0, 2];
   * const logprobs = new Float32Array([-0.2, -1.8]);
   * console.log(kit.topKDistillationLoss(student, indices, logprobs, { classes: 4 })); // 0.4619
   * console.log(kit.topKDistillationLoss(student, indices, logprobs, { classes: 4, tail: "bucket" })); // 0.3893
   * ```
   */
  topKDistillationLoss<R extends "none" | "sum" | "mean" | undefined = undefined>(
    studentLogits: LogitsInput,
    teacherIndices: Labels,
    teacherValues: Float32Array,
    options: TopKDistillationOptions<Exclude<R, undefined>> & { reduction?: R },
  ): Reduced<R, "mean">;

  /**
   * Computes `topKDistillationLoss` and its gradient with respect to every student logit in one
   * fused pass. With c = alpha T s (s the row's share of the reduction):
   * dL/ds_i = c (Q_T,i - P_i) for i in S, c Q_T,i (1 - r / Q_tail) outside S (c Q_T,i in
   * `drop` mode), plus (1 - alpha) s (Q_1,i - [i = y]).
   *
   * @param options as `topKDistillationLoss`, plus `gradOutput` with `reduction: "none"` and
   *   `gradOut` (see GradOutOptions).
   * @returns `{ loss, grad }`, `grad` with the shape of `studentLogits`.
   * @throws `TypeError` or `RangeError` on invalid input.
   *
   * @example
   * ```js
   * const student = new Float32Array([1, 0.5, 0, -1]);
   * const logprobs = new Float32Array([-0.2, -1.8]);
   * const { loss, grad } = kit.topKDistillationLossWithGrad(student, [0, 2], logprobs, { classes: 4, tail: "bucket" });
   * console.log(loss); // 0.3893
   * console.log(grad); // [-0.3447, 0.2744, 0.009073, 0.06123]
   * ```
   */
  topKDistillationLossWithGrad<
    R extends "none" | "sum" | "mean" | undefined = undefined,
    G extends Float32Array | UploadedLogits = Float32Array,
  >(
    studentLogits: LogitsInput,
    teacherIndices: Labels,
    teacherValues: Float32Array,
    options: TopKDistillationOptions<Exclude<R, undefined>> & GradOutputOptions & GradOutOptions<G> & { reduction?: R },
  ): LossWithGrad<Reduced<R, "mean">, G>;
}

/**
 * Partial sums of rows whose vocabulary arrives in chunks; see `LogitKit.vocabAccumulator`. Every
 * chunk is reduced on arrival to a few float64 sums per row, taken relative to the chunk's own
 * maximum, so memory does not grow with the number of chunks. The results require every class
 * to be covered and throw a `RangeError` that names the first missing class otherwise.
 *
 * NOTE: no gradients: a gradient needs the whole row's logsumexp, which is known only after the
 * last chunk, so it takes a second pass over the chunks (softmax(z / T) - target, per chunk).
 */
export interface VocabAccumulator {
  /** Rows of the batch. */
  readonly rows: number;

  /** Size of the whole vocabulary. */
  readonly classes: number;

  /** Number of classes covered by the chunks so far. */
  readonly covered: number;

  /**
   * Adds the logits of classes `offset` to `offset + width - 1` of every row.
   *
   * @param logits row-major `rows x width` logits of the chunk, float32 or 16-bit.
   * @param options `offset` (required): the first class of the chunk. `teacher`: the teacher's
   * logits of the same classes, `rows x width`, for `klDivergence`; every chunk must have them
   * or none. `dtype`: the format of the 16-bit logits, as in `LogitKit.softmax`.
   * @throws `TypeError` or `RangeError` on invalid input, a range outside the vocabulary or one that
   * overlaps an earlier chunk. A failed call leaves the accumulator unchanged.
   *
   * @example
   * ```js
   * const acc = kit.vocabAccumulator({ rows: 1, classes: 4 });
   * acc.add(new Float32Array([2, 1]), { offset: 0 });
   * console.log(acc.covered); // 2
   * acc.add(new Float32Array([0, -1]), { offset: 2 });
   * console.log(acc.logSumExp()); // [2.4402]
   * ```
   */
  add(logits: Float32Array | HalfLogitsInput, options: VocabAddOptions): void;

  /**
   * Adds the chunks of another accumulator with the same `rows`, `classes` and `temperature`,
   * given as the accumulator or as its `state()`. Each accumulator records the logit of its own
   * labels, so when this one has labels the other one must have the same labels and
   * `ignoreIndex`. Label smoothing is this one's.
   * @throws `TypeError` or `RangeError` when the shapes or labels differ or the chunks overlap.
   *
   * @example
   * ```js
   * // Two workers each reduce one half of the vocabulary; the states merge in any order.
   * const left = kit.vocabAccumulator({ rows: 1, classes: 4 });
   * left.add(new Float32Array([2, 1]), { offset: 0 });
   * const right = kit.vocabAccumulator({ rows: 1, classes: 4 });
   * right.add(new Float32Array([0, -1]), { offset: 2 });
   * left.merge(structuredClone(right.state()));
   * console.log(left.entropy()); // 0.9475
   * ```
   */
  merge(other: VocabAccumulator | VocabState): void;

  /**
   * Returns a copy of the partial state, for `merge` in another thread or process.
   *
   * @example
   * ```js
   * const acc = kit.vocabAccumulator({ rows: 1, classes: 4 });
   * acc.add(new Float32Array([2, 1]), { offset: 0 });
   * console.log(acc.state().ranges); // [0, 2]
   * ```
   */
  state(): VocabState;

  /**
   * Returns logsumexp(z / T) of each row; see {@link LogitKit.logSumExp}.
   *
   * @throws `RangeError` when a class is not covered yet.
   *
   * @example
   * ```js
   * const acc = kit.vocabAccumulator({ rows: 1, classes: 4, temperature: 2 });
   * acc.add(new Float32Array([2, 1, 0, -1]), { offset: 0 });
   * console.log(acc.logSumExp()); // [1.7873]
   * ```
   */
  logSumExp(): Float32Array;

  /**
   * Returns the entropy of softmax(z / T); see {@link LogitKit.entropyOfLogits}.
   *
   * @param options `reduction` (default `batchmean`).
   * @throws `RangeError` when a class is not covered yet.
   *
   * @example
   * ```js
   * const acc = kit.vocabAccumulator({ rows: 2, classes: 2 });
   * acc.add(new Float32Array([0, 5]), { offset: 0 }); // column 0 of both rows
   * acc.add(new Float32Array([0, 0]), { offset: 1 });
   * console.log(acc.entropy({ reduction: "none" })); // [0.6931, 0.04018]
   * ```
   */
  entropy<R extends Reduction | undefined = undefined>(options?: { reduction?: R }): Reduced<R, "batchmean">;

  /**
   * Returns the cross-entropy of softmax(z / T) with the accumulator's labels, with label
   * smoothing and ignored rows; see {@link LogitKit.crossEntropy}. Class weights are not
   * supported.
   *
   * @param options `reduction` (default `mean`).
   * @throws `TypeError` when the accumulator has no labels.
   * @throws `RangeError` when a class is not covered yet.
   *
   * @example
   * ```js
   * const acc = kit.vocabAccumulator({ rows: 2, classes: 3, labels: [0, -100], labelSmoothing: 0.1 });
   * acc.add(new Float32Array([2, 1, 0, 0, 3, 1]), { offset: 0 });
   * console.log(acc.crossEntropy({ reduction: "none" })); // [0.5076, 0]
   * ```
   */
  crossEntropy<R extends Reduction | undefined = undefined>(options?: { reduction?: R }): Reduced<R, "mean">;

  /**
   * Returns KL(teacher ‖ model) at temperature T; see {@link LogitKit.klDivergence}.
   *
   * @param options `reduction` (default `batchmean`).
   * @throws `TypeError` when the chunks came without `teacher` logits.
   * @throws `RangeError` when a class is not covered yet.
   *
   * @example
   * ```js
   * const acc = kit.vocabAccumulator({ rows: 1, classes: 4 });
   * acc.add(new Float32Array([2, 1]), { offset: 0, teacher: new Float32Array([1, 1]) });
   * acc.add(new Float32Array([0, -1]), { offset: 2, teacher: new Float32Array([1, 1]) });
   * console.log(acc.klDivergence()); // 0.5539
   * ```
   */
  klDivergence<R extends Reduction | undefined = undefined>(options?: { reduction?: R }): Reduced<R, "batchmean">;
}
