/**
 * The public operations, built on the row kernels of one backend. This layer owns validation,
 * option defaults, reductions and the per-row gradient scales, so both backends share them.
 */
import type { LogitKit } from "./api.js";
import type { HalfLogits, Logits, ProbsKind, RowKernels, StoredBlock } from "./backend.js";
import { PROBS_CROSS_ENTROPY, PROBS_ENTROPY, PROBS_KL_DIVERGENCE } from "./backend.js";
import { lengthOf, typedArrayKind } from "./intrinsics.js";
import { clampRows, reduce } from "./reduce.js";
import { createVocabAccumulator } from "./vocab.js";
import { buildTopKTeacher, checkChoice, checkTopKIndices, type TopKTail, type TopKValues } from "./topk.js";
import type { BackendName, Reduction, UploadedLogits } from "./types.js";
import {
  type CheckedLogits,
  checkFloat32,
  checkFloatList,
  checkHalf,
  checkIgnoreIndex,
  checkLabels,
  checkNoOverlap,
  checkOptions,
  checkReduction,
  checkSameLength,
  checkShape,
  checkTemperature,
  handles,
  checkLabelSmoothing,
  checkUnit,
  describe,
  logitsLength,
  settleDtype,
} from "./validate.js";

const ALL_REDUCTIONS: readonly Reduction[] = ["none", "sum", "mean", "batchmean"];

// The options each function accepts, listed once so that calls allocate no arrays.
const ELEMENTWISE_OPTIONS = ["classes", "temperature", "out", "dtype"];
const PROBS_OPTIONS = ["classes", "reduction"];
const REDUCED_OPTIONS = ["classes", "temperature", "reduction", "dtype"]; // entropy of logits and KL
const REDUCED_GRAD_OPTIONS = [...REDUCED_OPTIONS, "gradOutput", "gradOut"];
const JS_DIVERGENCE_OPTIONS = [...REDUCED_OPTIONS, "beta"];
const JS_DIVERGENCE_GRAD_OPTIONS = [...JS_DIVERGENCE_OPTIONS, "gradOutput", "gradOut"];
const CROSS_ENTROPY_OPTIONS = ["classes", "reduction", "weight", "ignoreIndex", "labelSmoothing", "temperature", "dtype"];
const CROSS_ENTROPY_GRAD_OPTIONS = [...CROSS_ENTROPY_OPTIONS, "gradOutput", "gradOut"];
const DISTILLATION_OPTIONS = ["classes", "temperature", "alpha", "labels", "ignoreIndex", "dtype"];
const DISTILLATION_GRAD_OPTIONS = [...DISTILLATION_OPTIONS, "gradOut"];
const TOPK_OPTIONS = [...DISTILLATION_OPTIONS, "values", "tail", "reduction"];
const TOPK_GRAD_OPTIONS = [...TOPK_OPTIONS, "gradOutput", "gradOut"];
const TOPK_REDUCTIONS: readonly Reduction[] = ["none", "sum", "mean"];
const SHAPE_OPTIONS = ["classes"];
const UPLOAD_OPTIONS = ["classes", "dtype"];

/**
 * Returns d(reduced loss) / d(rowLoss[i]) for every row: `gradOutput` or 1 for `none`, 1 for
 * `sum`, 1 / rows for `batchmean` and 1 / meanDivisor for `mean`. A zero divisor gives scale 0
 * (the loss is then NaN, and every row that could carry a gradient is ignored).
 */
function gradScales(
  rows: number,
  reduction: Reduction,
  meanDivisor: number,
  gradOutput: Float32Array | null,
): Float32Array {
  if (gradOutput !== null) return gradOutput;

  let scale = 1;
  if (reduction === "batchmean") scale = rows === 0 ? 0 : 1 / rows;
  else if (reduction === "mean") scale = meanDivisor === 0 ? 0 : 1 / meanDivisor;
  return new Float32Array(rows).fill(scale);
}

/** Checks `options.gradOutput`: allowed only with `reduction: "none"`, one finite value per row. */
function checkGradOutput(fn: string, value: unknown, reduction: Reduction, rows: number): Float32Array | null {
  if (value === undefined) return null;
  if (reduction !== "none") {
    throw new RangeError(
      `${fn}: options.gradOutput requires reduction "none", got reduction ${describe(reduction)}; ` +
        `remove gradOutput or pass reduction: "none".`,
    );
  }
  return checkFloatList(fn, "options.gradOutput", value, rows, "one value per row");
}

/**
 * Checks that `tail: "bucket"` comes with log-probabilities at temperature 1. The tail mass is
 * 1 minus the top-k probabilities only for log-probabilities of the full vocabulary, and the
 * teacher's tail mass at another temperature depends on the tokens it did not return.
 */
function checkBucket(fn: string, tail: TopKTail, values: TopKValues, temperature: number): void {
  if (tail !== "bucket") return;
  if (values !== "logprobs") {
    throw new RangeError(
      `${fn}: options.tail "bucket" requires options.values "logprobs", got values ${describe(values)}: the tail mass ` +
        `1 - sum exp(v) needs log-probabilities over the full vocabulary. Pass tail: "drop" for logits.`,
    );
  }
  if (temperature !== 1) {
    throw new RangeError(
      `${fn}: options.tail "bucket" requires options.temperature 1, got ${temperature}: the teacher's tail mass at ` +
        `another temperature depends on the tokens outside the top k. Pass tail: "drop" to use a temperature.`,
    );
  }
}

/** Every handle made by `upload` or `alloc`, of any kit, to tell a foreign handle from a wrong type. */
const allUploads = handles;

/** The stored block behind each live handle; kept outside the class so callers cannot reach it. */
const uploadBlocks = new WeakMap<Upload, StoredBlock | null>();

/** Handle returned by `kit.upload` and `kit.alloc`; the data lives in the backend, see UploadedLogits. */
class Upload implements UploadedLogits {
  constructor(
    block: StoredBlock,
    readonly length: number,
    readonly backend: BackendName,
  ) {
    uploadBlocks.set(this, block);
    allUploads.add(this);
  }

  get freed(): boolean {
    return (uploadBlocks.get(this) ?? null) === null;
  }

  free(): void {
    uploadBlocks.get(this)?.release();
    uploadBlocks.set(this, null);
  }

  toArray(out?: Float32Array): Float32Array {
    if (out === undefined) return uploadView(this, "toArray", "this handle").slice();

    const target = checkFloat32("toArray", "out", out, this.length, "the length of this handle");
    target.set(uploadView(this, "toArray", "this handle"));
    return out;
  }

  set(values: Float32Array): void {
    const source = checkFloat32("set", "values", values, this.length, "the length of this handle");
    uploadView(this, "set", "this handle").set(source);
  }
}

/** Returns an array over a handle's data for the row kernels; throws once it is freed. */
function uploadView(upload: Upload, fn: string, name: string): Float32Array {
  const block = uploadBlocks.get(upload) ?? null;
  if (block === null) {
    throw new TypeError(`${fn}: ${name} was freed with free(); make a new handle with upload() or alloc().`);
  }
  return block.view();
}

/** Largest `length` of `alloc`: the floats that the 4 GiB of wasm32 memory can hold. */
const MAX_ALLOC_LENGTH = 2 ** 30;

/** Disposes the backend of each kit with worker threads once the kit is garbage-collected. */
const poolRegistry = new FinalizationRegistry<RowKernels>((kernels) => kernels.dispose());

/** Creates the public API object on top of `kernels`. */
export function createKit(kernels: RowKernels, fallbackReason?: string, threadsReason?: string): LogitKit {
  const startedThreads = kernels.threads();
  const uploads = new WeakSet<Upload>();

  /** Returns the array behind a matrix given as a Float32Array or as this kit's handle. */
  function resolveMatrix(fn: string, name: string, value: unknown): Float32Array {
    // A handle is never a typed array, so arrays skip the two lookups below.
    if (typedArrayKind(value) === "Float32Array") return checkFloat32(fn, name, value);
    // WeakSet lookups run none of the caller's code, which instanceof would (a Proxy's trap).
    if (uploads.has(value as Upload)) return uploadView(value as Upload, fn, name);
    if (value !== null && typeof value === "object" && allUploads.has(value)) {
      throw new TypeError(`${fn}: ${name} was made by another LogitKit object; upload it with this one.`);
    }
    return checkFloat32(fn, name, value);
  }

  /** Resolves an output buffer (`out`, `gradOut`) of exactly `length` floats, array or handle. */
  function resolveOut(fn: string, name: string, value: unknown, length: number, meaning: string): Float32Array {
    const view = resolveMatrix(fn, name, value);
    if (view.length !== length) {
      throw new RangeError(`${fn}: ${name}.length must be ${length} (${meaning}), got ${view.length}.`);
    }
    return view;
  }

  /**
   * Returns the array to pass to a kernel for a matrix checked earlier as `checked`. Getters
   * in the options or labels run during validation. They may free a handle, detach an array or
   * grow the wasm memory, which detaches earlier views of it. So this runs after all of them:
   * a handle is looked up again and an array's length re-read.
   */
  function current(fn: string, name: string, value: unknown, checked: Float32Array, length: number): Float32Array {
    // checked is value itself only for an ordinary Float32Array, which is no upload.
    if (value !== checked && uploads.has(value as Upload)) return uploadView(value as Upload, fn, name);
    if (lengthOf(checked) !== length) {
      throw new TypeError(`${fn}: ${name} was detached while the arguments were checked; pass a live array.`);
    }
    return checked;
  }

  /** Returns logits given as a Float32Array, this kit's handle, or 16-bit floats, checked before the options. */
  function resolveLogits(fn: string, name: string, value: unknown): CheckedLogits {
    // Float32 first: it is the common case, and calls on tiny inputs take well under a microsecond.
    if (typedArrayKind(value) === "Float32Array") return checkFloat32(fn, name, value);
    return checkHalf(fn, name, value) ?? resolveMatrix(fn, name, value);
  }

  /**
   * Returns the logits to pass to a kernel, as `current` does; for 16-bit logits after
   * `settleDtype` has set their format.
   */
  function currentLogits(fn: string, name: string, value: unknown, checked: CheckedLogits, length: number): Logits {
    if (ArrayBuffer.isView(checked)) return current(fn, name, value, checked, length);

    if (lengthOf(checked.bits) !== length) {
      throw new TypeError(`${fn}: ${name} was detached while the arguments were checked; pass a live array.`);
    }
    return checked as HalfLogits;
  }

  /**
   * Checks `options.dtype` against the logits arguments (see settleDtype). A float32 call
   * without dtype skips the check, which keeps the calls on tiny inputs free of allocations.
   */
  function checkDtype(
    fn: string,
    dtype: unknown,
    firstName: string,
    first: CheckedLogits,
    secondName?: string,
    second?: CheckedLogits,
  ): void {
    const float32 = ArrayBuffer.isView(first) && (second === undefined || ArrayBuffer.isView(second));
    if (dtype === undefined && float32) return;

    if (second === undefined) settleDtype(fn, dtype, [[firstName, first]]);
    else settleDtype(fn, dtype, [[firstName, first], [secondName!, second]]);
  }

  function upload(logits: unknown, options: unknown): UploadedLogits {
    const data = checkHalf("upload", "logits", logits) ?? checkFloat32("upload", "logits", logits);
    const length = logitsLength(data);
    const o = checkOptions("upload", options, UPLOAD_OPTIONS);
    checkShape("upload", "logits", length, o.classes);
    checkDtype("upload", o.dtype, "logits", data);

    // 16-bit logits are widened once, into the float32 that the handle keeps.
    const handle = new Upload(kernels.store(currentLogits("upload", "logits", logits, data, length)), length, kernels.name);
    uploads.add(handle);
    return handle;
  }

  function alloc(length: unknown, options: unknown): UploadedLogits {
    if (typeof length !== "number") {
      throw new TypeError(`alloc: length must be an integer in [0, 2^30], got ${describe(length)}.`);
    }
    if (!Number.isInteger(length) || length < 0 || length > MAX_ALLOC_LENGTH) {
      throw new RangeError(`alloc: length must be an integer in [0, 2^30], got ${describe(length)}.`);
    }
    const o = checkOptions("alloc", options, SHAPE_OPTIONS);
    checkShape("alloc", "options.classes", 0, o.classes);
    if (length % (o.classes as number) !== 0) {
      throw new RangeError(
        `alloc: length must be a multiple of options.classes (${o.classes as number}), got ${length}; ` +
          `pass rows x classes, or rows for the out of logSumExp with classes 1.`,
      );
    }

    const handle = new Upload(kernels.reserve(length), length, kernels.name);
    uploads.add(handle);
    return handle;
  }

  /**
   * Resolves `options.gradOut` of a `...WithGrad` call: the checked buffer, or null when the
   * call allocates the gradient.
   */
  function resolveGradOut(fn: string, value: unknown, length: number): Float32Array | null {
    if (value === undefined) return null;
    return resolveOut(fn, "options.gradOut", value, length, "the length of the logits");
  }

  /**
   * Returns the gradient buffer to pass to the kernel, after every getter has run: a new array,
   * or the current `gradOut` checked against each input it must not overlap.
   */
  function currentGrad(
    fn: string,
    value: unknown,
    checked: Float32Array | null,
    length: number,
    inputs: Array<[string, Logits]>,
  ): Float32Array {
    if (checked === null) return new Float32Array(length);

    const grad = current(fn, "options.gradOut", value, checked, length);
    for (const [name, input] of inputs) checkNoOverlap(fn, "options.gradOut", grad, name, input, false);
    return grad;
  }

  function elementwise(
    fn: string,
    kernel: "softmaxRows" | "logSoftmaxRows" | "logSumExpRows",
    logits: unknown,
    options: unknown,
  ): Float32Array | UploadedLogits {
    const z = resolveLogits(fn, "logits", logits);
    const zLength = logitsLength(z);
    const o = checkOptions(fn, options, ELEMENTWISE_OPTIONS);
    const rows = checkShape(fn, "logits", zLength, o.classes);
    checkDtype(fn, o.dtype, "logits", z);
    const temperature = checkTemperature(fn, o.temperature);
    const perRow = kernel === "logSumExpRows";
    const length = perRow ? rows : zLength;
    if (o.out === undefined) {
      const out = new Float32Array(length);
      kernels[kernel](currentLogits(fn, "logits", logits, z, zLength), rows, o.classes as number, 1 / temperature, out);
      return out;
    }

    // The kernels write into the caller's buffer (through a plain view when it is a subclass or
    // foreign array, or into backend memory for a handle), and the caller gets its own object
    // back. Softmax and log-softmax may run in place; logsumexp never shares memory with the
    // logits.
    const checkedOut = resolveOut(fn, "options.out", o.out, length, perRow ? "one value per row" : "the length of logits");
    const input = currentLogits(fn, "logits", logits, z, zLength);
    const out = current(fn, "options.out", o.out, checkedOut, length);
    checkNoOverlap(fn, "options.out", out, "logits", input, !perRow);
    kernels[kernel](input, rows, o.classes as number, 1 / temperature, out);
    return o.out as Float32Array | UploadedLogits;
  }

  function probs(fn: string, kind: ProbsKind, p: unknown, q: unknown, options: unknown): number | Float32Array {
    const pName = kind === PROBS_ENTROPY ? "probs" : "p";
    const pa = resolveMatrix(fn, pName, p);
    const qa = kind === PROBS_ENTROPY ? null : resolveMatrix(fn, "q", q);
    const length = pa.length;
    const o = checkOptions(fn, options, PROBS_OPTIONS);
    const rows = checkShape(fn, pName, length, o.classes);
    if (qa !== null) checkSameLength(fn, "q", qa.length, "p", length);
    const reduction = checkReduction(fn, o.reduction, "batchmean", ALL_REDUCTIONS);
    const classes = o.classes as number;

    const rowLoss = new Float64Array(rows);
    const pInput = current(fn, pName, p, pa, length);
    const qInput = qa === null ? null : current(fn, "q", q, qa, length);
    kernels.probsRows(kind, pInput, qInput, rows, classes, rowLoss);
    return reduce(rowLoss, reduction, rows * classes);
  }

  function entropyOfLogits(fn: string, withGrad: boolean, logits: unknown, options: unknown) {
    const z = resolveLogits(fn, "logits", logits);
    const zLength = logitsLength(z);
    const o = checkOptions(fn, options, withGrad ? REDUCED_GRAD_OPTIONS : REDUCED_OPTIONS);
    const rows = checkShape(fn, "logits", zLength, o.classes);
    checkDtype(fn, o.dtype, "logits", z);
    const temperature = checkTemperature(fn, o.temperature);
    const reduction = checkReduction(fn, o.reduction, "batchmean", ALL_REDUCTIONS);
    const gradOutput = checkGradOutput(fn, o.gradOutput, reduction, rows);
    const gradOut = resolveGradOut(fn, o.gradOut, zLength);
    const classes = o.classes as number;

    const rowLoss = new Float64Array(rows);
    const scale = withGrad ? gradScales(rows, reduction, rows * classes, gradOutput) : null;
    const input = currentLogits(fn, "logits", logits, z, zLength);
    const grad = withGrad ? currentGrad(fn, o.gradOut, gradOut, zLength, [["logits", input]]) : null;
    kernels.entropyLogitsRows(input, rows, classes, 1 / temperature, rowLoss, scale, grad);
    clampRows(rowLoss, 0, Math.log(classes));
    const loss = reduce(rowLoss, reduction, rows * classes);
    return withGrad ? { loss, grad: o.gradOut ?? grad! } : loss;
  }

  function crossEntropy(fn: string, withGrad: boolean, logits: unknown, target: unknown, options: unknown) {
    const z = resolveLogits(fn, "logits", logits);
    const zLength = logitsLength(z);
    const o = checkOptions(fn, options, withGrad ? CROSS_ENTROPY_GRAD_OPTIONS : CROSS_ENTROPY_OPTIONS);
    const rows = checkShape(fn, "logits", zLength, o.classes);
    checkDtype(fn, o.dtype, "logits", z);
    const classes = o.classes as number;
    const reduction = checkReduction(fn, o.reduction, "mean", ALL_REDUCTIONS);
    const temperature = checkTemperature(fn, o.temperature);
    const labelSmoothing = checkLabelSmoothing(fn, o.labelSmoothing);
    const ignoreIndex = checkIgnoreIndex(fn, o.ignoreIndex);
    const weight =
      o.weight === undefined
        ? null
        : checkFloatList(fn, "options.weight", o.weight, classes, "one weight per class", 0);
    const gradOutput = withGrad ? checkGradOutput(fn, o.gradOutput, reduction, rows) : null;
    const gradOut = withGrad ? resolveGradOut(fn, o.gradOut, zLength) : null;
    const rowLoss = new Float64Array(rows);

    // A Float32Array target or a handle contains probabilities, and integer arrays contain labels.
    if (typedArrayKind(target) === "Float32Array" || (target !== null && typeof target === "object" && allUploads.has(target))) {
      const targets = resolveMatrix(fn, "target", target);
      if (targets.length !== zLength) {
        const actual = target instanceof Upload ? `a handle of length ${targets.length}` : `Float32Array(${targets.length})`;
        throw new RangeError(
          `${fn}: target must be labels (Int32Array or number[] of length ${rows}) or probabilities ` +
            `(Float32Array of length ${zLength}, the length of logits, or a handle of that length), got ${actual}.`,
        );
      }
      if (o.ignoreIndex !== undefined) {
        throw new TypeError(`${fn}: options.ignoreIndex applies to integer labels only; remove it for probability targets.`);
      }
      const scale = withGrad ? gradScales(rows, reduction, rows, gradOutput) : null;
      const input = currentLogits(fn, "logits", logits, z, zLength);
      const targetInput = current(fn, "target", target, targets, zLength);
      const grad = withGrad
        ? currentGrad(fn, o.gradOut, gradOut, zLength, [["logits", input], ["target", targetInput]])
        : null;
      kernels.crossEntropyTargetsRows(input, targetInput, rows, classes, 1 / temperature, weight, labelSmoothing, rowLoss, scale, grad);
      const loss = reduce(rowLoss, reduction, rows);
      return withGrad ? { loss, grad: o.gradOut ?? grad! } : loss;
    }

    const labels = checkLabels(fn, "target", target, rows, classes, ignoreIndex);

    // PyTorch's mean divides by the summed weight of the labels that are not ignored.
    let meanDivisor = 0;
    for (let i = 0; i < rows; i++) {
      const y = labels[i];
      if (y !== ignoreIndex) meanDivisor += weight === null ? 1 : weight[y];
    }

    const scale = withGrad ? gradScales(rows, reduction, meanDivisor, gradOutput) : null;
    const input = currentLogits(fn, "logits", logits, z, zLength);
    const grad = withGrad ? currentGrad(fn, o.gradOut, gradOut, zLength, [["logits", input]]) : null;
    kernels.crossEntropyLabelsRows(
      input,
      labels,
      rows,
      classes,
      1 / temperature,
      weight,
      ignoreIndex,
      labelSmoothing,
      rowLoss,
      scale,
      grad,
    );
    const loss = reduce(rowLoss, reduction, meanDivisor);
    return withGrad ? { loss, grad: o.gradOut ?? grad! } : loss;
  }

  function pairOfLogits(fn: string, withGrad: boolean, isJensenShannon: boolean, pLogits: unknown, qLogits: unknown, options: unknown) {
    const p = resolveLogits(fn, "pLogits", pLogits);
    const q = resolveLogits(fn, "qLogits", qLogits);
    const pLength = logitsLength(p);
    const qLength = logitsLength(q);
    let allowed = isJensenShannon ? JS_DIVERGENCE_OPTIONS : REDUCED_OPTIONS;
    if (withGrad) allowed = isJensenShannon ? JS_DIVERGENCE_GRAD_OPTIONS : REDUCED_GRAD_OPTIONS;
    const o = checkOptions(fn, options, allowed);
    const rows = checkShape(fn, "pLogits", pLength, o.classes);
    checkSameLength(fn, "qLogits", qLength, "pLogits", pLength);
    checkDtype(fn, o.dtype, "pLogits", p, "qLogits", q);
    const classes = o.classes as number;
    const temperature = checkTemperature(fn, o.temperature);
    const reduction = checkReduction(fn, o.reduction, "batchmean", ALL_REDUCTIONS);
    const beta = isJensenShannon ? checkUnit(fn, "beta", o.beta, 0.5) : 0;
    const gradOutput = withGrad ? checkGradOutput(fn, o.gradOutput, reduction, rows) : null;
    const gradOut = withGrad ? resolveGradOut(fn, o.gradOut, qLength) : null;

    const rowLoss = new Float64Array(rows);
    const scale = withGrad ? gradScales(rows, reduction, rows * classes, gradOutput) : null;
    const pInput = currentLogits(fn, "pLogits", pLogits, p, rows * classes);
    const qInput = currentLogits(fn, "qLogits", qLogits, q, rows * classes);
    const grad = withGrad
      ? currentGrad(fn, o.gradOut, gradOut, qLength, [["pLogits", pInput], ["qLogits", qInput]])
      : null;
    if (isJensenShannon) kernels.jsDivergenceRows(pInput, qInput, rows, classes, 1 / temperature, beta, rowLoss, scale, grad);
    else kernels.klLogitsRows(pInput, qInput, rows, classes, 1 / temperature, rowLoss, scale, grad);

    // 0 < beta < 1 bounds the divergence by the entropy of Bernoulli(beta), log 2 at 0.5.
    const upper = isJensenShannon && beta > 0 && beta < 1 ? -beta * Math.log(beta) - (1 - beta) * Math.log(1 - beta) : Infinity;
    clampRows(rowLoss, 0, upper);
    const loss = reduce(rowLoss, reduction, rows * classes);
    return withGrad ? { loss, grad: o.gradOut ?? grad! } : loss;
  }

  function distillation(fn: string, withGrad: boolean, student: unknown, teacher: unknown, options: unknown) {
    const s = resolveLogits(fn, "studentLogits", student);
    const t = resolveLogits(fn, "teacherLogits", teacher);
    const sLength = logitsLength(s);
    const tLength = logitsLength(t);
    const o = checkOptions(fn, options, withGrad ? DISTILLATION_GRAD_OPTIONS : DISTILLATION_OPTIONS);
    const rows = checkShape(fn, "studentLogits", sLength, o.classes);
    checkSameLength(fn, "teacherLogits", tLength, "studentLogits", sLength);
    checkDtype(fn, o.dtype, "studentLogits", s, "teacherLogits", t);
    const classes = o.classes as number;
    const temperature = checkTemperature(fn, o.temperature);
    const ignoreIndex = checkIgnoreIndex(fn, o.ignoreIndex);
    let alpha = checkUnit(fn, "alpha", o.alpha, 0.5);
    const gradOut = withGrad ? resolveGradOut(fn, o.gradOut, sLength) : null;
    const labels =
      o.labels === undefined ? null : checkLabels(fn, "options.labels", o.labels, rows, classes, ignoreIndex);

    // Without labels there is no hard term: the loss is T^2 KL over every row.
    if (labels === null) alpha = 1;
    let counted = rows;
    if (labels !== null) {
      counted = 0;
      for (let i = 0; i < rows; i++) if (labels[i] !== ignoreIndex) counted++;
    }

    const rowLoss = new Float64Array(rows);
    const scale = withGrad ? gradScales(rows, "mean", counted, null) : null;
    const studentInput = currentLogits(fn, "studentLogits", student, s, rows * classes);
    const teacherInput = currentLogits(fn, "teacherLogits", teacher, t, rows * classes);
    const grad = withGrad
      ? currentGrad(fn, o.gradOut, gradOut, sLength, [["studentLogits", studentInput], ["teacherLogits", teacherInput]])
      : null;
    kernels.distillationRows(studentInput, teacherInput, labels, ignoreIndex, rows, classes, 1 / temperature, alpha, rowLoss, scale, grad);
    const loss = reduce(rowLoss, "mean", counted) as number;
    return withGrad ? { loss, grad: o.gradOut ?? grad! } : loss;
  }

  function topKDistillation(fn: string, withGrad: boolean, student: unknown, indices: unknown, values: unknown, options: unknown) {
    const s = resolveLogits(fn, "studentLogits", student);
    const v = checkFloat32(fn, "teacherValues", values);
    const sLength = logitsLength(s);
    const vLength = v.length;
    const o = checkOptions(fn, options, withGrad ? TOPK_GRAD_OPTIONS : TOPK_OPTIONS);
    const rows = checkShape(fn, "studentLogits", sLength, o.classes);
    checkDtype(fn, o.dtype, "studentLogits", s);
    const classes = o.classes as number;
    const teacher = checkTopKIndices(fn, indices, rows, classes);
    checkSameLength(fn, "teacherValues", vLength, "teacherIndices", teacher.indices.length);
    const temperature = checkTemperature(fn, o.temperature);
    const valueKind = checkChoice<TopKValues>(fn, "values", o.values, "logprobs", ["logprobs", "logits"]);
    const tail = checkChoice<TopKTail>(fn, "tail", o.tail, "drop", ["drop", "bucket"]);
    checkBucket(fn, tail, valueKind, temperature);
    const ignoreIndex = checkIgnoreIndex(fn, o.ignoreIndex);
    let alpha = checkUnit(fn, "alpha", o.alpha, 0.5);
    const reduction = checkReduction(fn, o.reduction, "mean", TOPK_REDUCTIONS);
    const gradOutput = withGrad ? checkGradOutput(fn, o.gradOutput, reduction, rows) : null;
    const gradOut = withGrad ? resolveGradOut(fn, o.gradOut, sLength) : null;
    const labels =
      o.labels === undefined ? null : checkLabels(fn, "options.labels", o.labels, rows, classes, ignoreIndex);

    // Without labels there is no hard term: the loss is the soft term over every row.
    if (labels === null) alpha = 1;
    const counted = (row: number) => labels === null || labels[row] !== ignoreIndex;
    let countedRows = 0;
    for (let i = 0; i < rows; i++) if (counted(i)) countedRows++;

    // The values are read after every getter of the options and labels has run.
    const teacherValues = current(fn, "teacherValues", values, v, vLength);
    const teacherRows = buildTopKTeacher(fn, teacher, teacherValues, rows, classes, counted, { values: valueKind, tail, temperature });

    const rowLoss = new Float64Array(rows);
    const scale = withGrad ? gradScales(rows, reduction, countedRows, gradOutput) : null;
    const studentInput = currentLogits(fn, "studentLogits", student, s, sLength);
    const grad = withGrad ? currentGrad(fn, o.gradOut, gradOut, sLength, [["studentLogits", studentInput]]) : null;
    kernels.topKDistillationRows(
      studentInput,
      teacherRows,
      teacher.k,
      labels,
      ignoreIndex,
      rows,
      classes,
      1 / temperature,
      alpha,
      rowLoss,
      scale,
      grad,
    );

    // Both terms are divergences or cross-entropies, never negative, but rounding can leave a row a few ulp below 0.
    clampRows(rowLoss, 0, Infinity);
    const loss = reduce(rowLoss, reduction, countedRows);
    return withGrad ? { loss, grad: o.gradOut ?? grad! } : loss;
  }

  // The public signatures carry the reduction-dependent result types; the implementations
  // return the matching runtime values, so the casts below only restate them.
  /* eslint-disable @typescript-eslint/no-explicit-any */
  const kit: LogitKit = {
    backend: kernels.name,
    fallbackReason,
    get threads() {
      return kernels.threads();
    },
    get threadsReason() {
      if (startedThreads === 1 || kernels.threads() > 1) return threadsReason;
      return kernels.threadsStoppedReason?.() ?? "dispose() stopped the worker threads";
    },
    dispose: () => kernels.dispose(),
    upload: (logits, options) => upload(logits, options),
    alloc: (length, options) => alloc(length, options),
    vocabAccumulator: (options) => createVocabAccumulator(kernels, options),
    softmax: ((logits: unknown, options: unknown) => elementwise("softmax", "softmaxRows", logits, options)) as any,
    logSoftmax: ((logits: unknown, options: unknown) =>
      elementwise("logSoftmax", "logSoftmaxRows", logits, options)) as any,
    logSumExp: ((logits: unknown, options: unknown) => elementwise("logSumExp", "logSumExpRows", logits, options)) as any,
    entropy: ((probsIn: unknown, options: unknown) => probs("entropy", PROBS_ENTROPY, probsIn, null, options)) as any,
    crossEntropyOfProbs: ((p: unknown, q: unknown, options: unknown) =>
      probs("crossEntropyOfProbs", PROBS_CROSS_ENTROPY, p, q, options)) as any,
    klDivergenceOfProbs: ((p: unknown, q: unknown, options: unknown) =>
      probs("klDivergenceOfProbs", PROBS_KL_DIVERGENCE, p, q, options)) as any,
    entropyOfLogits: ((logits: unknown, options: unknown) =>
      entropyOfLogits("entropyOfLogits", false, logits, options)) as any,
    entropyOfLogitsWithGrad: ((logits: unknown, options: unknown) =>
      entropyOfLogits("entropyOfLogitsWithGrad", true, logits, options)) as any,
    crossEntropy: ((logits: unknown, target: unknown, options: unknown) =>
      crossEntropy("crossEntropy", false, logits, target, options)) as any,
    crossEntropyWithGrad: ((logits: unknown, target: unknown, options: unknown) =>
      crossEntropy("crossEntropyWithGrad", true, logits, target, options)) as any,
    klDivergence: ((p: unknown, q: unknown, options: unknown) =>
      pairOfLogits("klDivergence", false, false, p, q, options)) as any,
    klDivergenceWithGrad: ((p: unknown, q: unknown, options: unknown) =>
      pairOfLogits("klDivergenceWithGrad", true, false, p, q, options)) as any,
    jsDivergence: ((p: unknown, q: unknown, options: unknown) =>
      pairOfLogits("jsDivergence", false, true, p, q, options)) as any,
    jsDivergenceWithGrad: ((p: unknown, q: unknown, options: unknown) =>
      pairOfLogits("jsDivergenceWithGrad", true, true, p, q, options)) as any,
    distillationLoss: (student, teacher, options) =>
      distillation("distillationLoss", false, student, teacher, options) as number,
    distillationLossWithGrad: ((student: unknown, teacher: unknown, options: unknown) =>
      distillation("distillationLossWithGrad", true, student, teacher, options)) as any,
    topKDistillationLoss: ((student: unknown, indices: unknown, values: unknown, options: unknown) =>
      topKDistillation("topKDistillationLoss", false, student, indices, values, options)) as any,
    topKDistillationLossWithGrad: ((student: unknown, indices: unknown, values: unknown, options: unknown) =>
      topKDistillation("topKDistillationLossWithGrad", true, student, indices, values, options)) as any,
  };
  // A kit dropped without dispose() would keep its workers and their reserved shared memory until
  // the process exits. The registry stops them once the kit is collected.
  if (kernels.threads() > 1) poolRegistry.register(kit, kernels);
  return Object.freeze(kit);
}
