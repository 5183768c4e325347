/**
 * Hostile and mistaken input on every backend: invalid options, wrong types, detached and shared
 * buffers, non-finite options, extreme labels, empty batches, and callers that re-enter the kit
 * while it checks their arguments. Each rejection is checked for its type and message, and each
 * is followed by a valid call whose values are compared with float64 values computed here.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadWasmKernels } from "../src/backends/embedded.js";
import { withSmallInputsOnJs } from "../src/backends/small-inputs.js";
import { loadLogitKit } from "../src/index.js";
import type { LogitKit, UploadedLogits } from "../src/index.js";
import { createKit } from "../src/kit.js";
import { type ErrorType, expectError } from "./expect-error.js";

type KitConfig = { backend: "js" | "wasm"; threads?: number };
type Invalid = [description: string, call: (kit: LogitKit) => unknown, type: ErrorType, pieces: string[]];

const KITS: Array<[string, KitConfig]> = [
  ["js", { backend: "js" }],
  ["wasm", { backend: "wasm" }],
  ["wasm with 2 threads", { backend: "wasm", threads: 2 }],
];

// 8 rows of 40 classes: 320 logits, above the 64 that the wasm backend runs on the js kernels.
const ROWS = 8;
const CLASSES = 40;
const N = ROWS * CLASSES;
const z = Float32Array.from({ length: N }, (_, i) => 3 * Math.sin(i * 0.7));
const q = Float32Array.from({ length: N }, (_, i) => 2 * Math.cos(i * 0.3));
const labels = Array.from({ length: ROWS }, (_, r) => (r * 7) % CLASSES);
const probs = softmax64(q).map(Math.fround);
const probsF32 = Float32Array.from(probs);

// 2 rows of 3 classes, for checks that need no kernel.
const z6 = new Float32Array([1, 2, 3, 4, 5, 6]);

// Two tokens per row of the 2 x 3 input for top-k distillation, with their log-probabilities.
const topKIndices = [0, 2, 1, 0];
const topKValues = new Float32Array([-0.5, -1.5, -0.2, -2]);

/** Softmax of each CLASSES-wide row in float64. */
function softmax64(logits: ArrayLike<number>): number[] {
  const result: number[] = [];
  for (let r = 0; r < logits.length / CLASSES; r++) {
    const row = Array.from({ length: CLASSES }, (_, c) => logits[r * CLASSES + c]);
    const max = Math.max(...row);
    const sum = row.reduce((s, v) => s + Math.exp(v - max), 0);
    for (const v of row) result.push(Math.exp(v - max) / sum);
  }
  return result;
}

/** Cross-entropy of each row of `z` against `labels`, in float64. */
function crossEntropy64(logits: ArrayLike<number>, targets: number[]): number[] {
  const p = softmax64(logits);
  return targets.map((y, r) => -Math.log(p[r * CLASSES + y]));
}

/**
 * Checks that `kit` still computes the right values: softmax and cross-entropy with gradient of
 * the shared input, against float64 values computed here.
 */
function expectUsable(kit: LogitKit): void {
  const expectedProbs = softmax64(z);
  const actualProbs = kit.softmax(z, { classes: CLASSES });
  for (let i = 0; i < N; i++) expect(Math.abs(actualProbs[i] - expectedProbs[i])).toBeLessThan(1e-6);

  const expectedLoss = crossEntropy64(z, labels).reduce((s, v) => s + v, 0) / ROWS;
  const { loss, grad } = kit.crossEntropyWithGrad(z, labels, { classes: CLASSES });
  expect(Math.abs(loss - expectedLoss)).toBeLessThan(1e-5);
  const c = labels[3];
  expect(Math.abs(grad[3 * CLASSES + c] - (expectedProbs[3 * CLASSES + c] - 1) / ROWS)).toBeLessThan(1e-6);
}

/** Returns a copy of `values` whose buffer has been transferred away (detached). */
function detached<T extends Float32Array | Int32Array>(values: T): T {
  const copy = values.slice() as T;
  structuredClone(copy.buffer, { transfer: [copy.buffer] });
  return copy;
}

/** The resizable ArrayBuffer of ES2024, whose types the ES2022 library of the project lacks. */
type ResizableArrayBuffer = new (length: number, options: { maxByteLength: number }) => ArrayBuffer & { resize(length: number): void };

/**
 * Returns a view with the values of `values` on a resizable buffer, then shrinks the buffer below
 * the view. A fixed-length view (the default) and a length-tracking view that starts past the
 * new end are both out of bounds.
 */
function outOfBounds<T extends Float32Array | Int32Array>(values: T, tracking = false): T {
  const Resizable = ArrayBuffer as unknown as ResizableArrayBuffer;
  const Kind = values.constructor as new (buffer: ArrayBuffer, offset: number, length?: number) => T;
  const offset = 16;
  const buffer = new Resizable(offset + values.byteLength, { maxByteLength: 1024 });
  const view = tracking ? new Kind(buffer, offset) : new Kind(buffer, offset, values.length);
  view.set(values);
  buffer.resize(offset - 8);
  return view;
}

/** Returns a Float32Array over a SharedArrayBuffer with the values of `values`. */
function sharedCopy(values: Float32Array): Float32Array {
  const shared = new Float32Array(new SharedArrayBuffer(values.length * 4));
  shared.set(values);
  return shared;
}

/** Returns the constructors of another realm: a node:vm context in Node.js, an iframe in a browser. */
async function foreignRealm(): Promise<typeof globalThis> {
  if (typeof document === "undefined") {
    const { runInNewContext } = await import("node:vm");
    return runInNewContext("globalThis") as typeof globalThis;
  }

  // The realm's arrays keep working after the iframe is removed.
  const frame = document.createElement("iframe");
  document.body.append(frame);
  const realm = frame.contentWindow as unknown as typeof globalThis;
  frame.remove();
  return realm;
}

/** Every function that takes logits first, with valid remaining arguments, named as in its messages. */
const LOGITS_FIRST: Array<[string, (kit: LogitKit, logits: unknown) => unknown]> = [
  ["softmax", (k, v) => k.softmax(v as Float32Array, { classes: 3 })],
  ["logSoftmax", (k, v) => k.logSoftmax(v as Float32Array, { classes: 3 })],
  ["logSumExp", (k, v) => k.logSumExp(v as Float32Array, { classes: 3 })],
  ["entropyOfLogits", (k, v) => k.entropyOfLogits(v as Float32Array, { classes: 3 })],
  ["entropyOfLogitsWithGrad", (k, v) => k.entropyOfLogitsWithGrad(v as Float32Array, { classes: 3 })],
  ["crossEntropy", (k, v) => k.crossEntropy(v as Float32Array, [0, 1], { classes: 3 })],
  ["crossEntropyWithGrad", (k, v) => k.crossEntropyWithGrad(v as Float32Array, [0, 1], { classes: 3 })],
];

/** Every matrix argument of every function: the function, the argument's name, and a call with the value there. */
const MATRIX_POSITIONS: Array<[string, string, (kit: LogitKit, value: unknown) => unknown]> = [
  ...LOGITS_FIRST.map(([fn, call]): [string, string, (kit: LogitKit, value: unknown) => unknown] => [fn, "logits", call]),
  ["entropy", "probs", (k, v) => k.entropy(v as Float32Array, { classes: 3 })],
  ["crossEntropyOfProbs", "p", (k, v) => k.crossEntropyOfProbs(v as Float32Array, z6, { classes: 3 })],
  ["crossEntropyOfProbs", "q", (k, v) => k.crossEntropyOfProbs(z6, v as Float32Array, { classes: 3 })],
  ["klDivergenceOfProbs", "q", (k, v) => k.klDivergenceOfProbs(z6, v as Float32Array, { classes: 3 })],
  ["klDivergence", "pLogits", (k, v) => k.klDivergence(v as Float32Array, z6, { classes: 3 })],
  ["klDivergenceWithGrad", "qLogits", (k, v) => k.klDivergenceWithGrad(z6, v as Float32Array, { classes: 3 })],
  ["jsDivergence", "qLogits", (k, v) => k.jsDivergence(z6, v as Float32Array, { classes: 3 })],
  ["jsDivergenceWithGrad", "pLogits", (k, v) => k.jsDivergenceWithGrad(v as Float32Array, z6, { classes: 3 })],
  ["distillationLoss", "studentLogits", (k, v) => k.distillationLoss(v as Float32Array, z6, { classes: 3 })],
  ["distillationLossWithGrad", "teacherLogits", (k, v) => k.distillationLossWithGrad(z6, v as Float32Array, { classes: 3 })],
  ["softmax", "options.out", (k, v) => k.softmax(z6, { classes: 3, out: v as Float32Array })],
  ["logSumExp", "options.out", (k, v) => k.logSumExp(z6, { classes: 3, out: v as Float32Array })],
  ["crossEntropyWithGrad", "options.gradOut", (k, v) => k.crossEntropyWithGrad(z6, [0, 1], { classes: 3, gradOut: v as Float32Array })],
  ["klDivergenceWithGrad", "options.gradOut", (k, v) => k.klDivergenceWithGrad(z6, z6, { classes: 3, gradOut: v as Float32Array })],
  ["distillationLossWithGrad", "options.gradOut", (k, v) => k.distillationLossWithGrad(z6, z6, { classes: 3, gradOut: v as Float32Array })],
  ["topKDistillationLoss", "studentLogits", (k, v) => k.topKDistillationLoss(v as Float32Array, topKIndices, topKValues, { classes: 3 })],
  ["topKDistillationLossWithGrad", "teacherValues", (k, v) => k.topKDistillationLossWithGrad(z6, topKIndices, v as Float32Array, { classes: 3 })],
  ["topKDistillationLossWithGrad", "options.gradOut", (k, v) => k.topKDistillationLossWithGrad(z6, topKIndices, topKValues, { classes: 3, gradOut: v as Float32Array })],
  ["upload", "logits", (k, v) => k.upload(v as Float32Array, { classes: 3 })],
];

/** Values that are not a Float32Array, with the description that messages give them. */
const NOT_FLOAT32: Array<[string, () => unknown, string]> = [
  ["plain object", () => ({ length: 6 }), "got a plain object"],
  ["string", () => "1,2,3", 'got "1,2,3"'],
  ["number", () => 6, "got 6"],
  ["null", () => null, "got null"],
  ["array of numbers", () => [1, 2, 3, 4, 5, 6], "got Array(6)"],
  ["Float64Array", () => new Float64Array(6), "got Float64Array(6)"],
  ["Int32Array", () => new Int32Array(6), "got Int32Array(6)"],
  ["Uint8Array", () => new Uint8Array(6), "got Uint8Array(6)"],
  ["DataView", () => new DataView(new ArrayBuffer(24)), "got a DataView"],
  ["ArrayBuffer", () => new ArrayBuffer(24), "got a ArrayBuffer"],
  ["Proxy of a Float32Array", () => new Proxy(new Float32Array(6), {}), "constructor Float32Array that is not a typed array"],
  [
    "object whose constructor getter throws",
    () => ({
      get constructor() {
        throw new Error("caller's getter");
      },
    }),
    "got an object",
  ],
  [
    "Proxy whose traps throw",
    () =>
      new Proxy(
        {},
        {
          get() {
            throw new Error("caller's trap");
          },
        },
      ),
    "got an object",
  ],
];

// Invalid arguments and options that errors.test.ts does not cover, per function.
const INVALID: Invalid[] = [
  // classes
  ["classes negative", (k) => k.entropy(z6, { classes: -3 }), RangeError, ["entropy: options.classes", "integer >= 1", "got -3"]],
  ["classes NaN", (k) => k.crossEntropy(z6, [0, 1], { classes: NaN }), RangeError, ["options.classes", "got NaN"]],
  ["classes Infinity", (k) => k.klDivergence(z6, z6, { classes: Infinity }), RangeError, ["options.classes", "got Infinity"]],
  ["classes not dividing q", (k) => k.jsDivergence(z6, z6, { classes: 4 }), RangeError, ["pLogits.length", "multiple of options.classes (4)", "got 6"]],
  ["classes not dividing probs", (k) => k.klDivergenceOfProbs(z6, z6, { classes: 5 }), RangeError, ["p.length", "multiple of options.classes (5)", "got 6"]],
  ["classes not dividing student", (k) => k.distillationLossWithGrad(z6, z6, { classes: 4 }), RangeError, ["studentLogits.length", "got 6"]],
  ["classes missing in upload", (k) => k.upload(z6, {} as never), TypeError, ["upload: options.classes is missing"]],
  ["classes a boolean", (k) => k.entropyOfLogitsWithGrad(z6, { classes: true as never }), TypeError, ["options.classes", "got boolean"]],
  // options object
  ["options null", (k) => k.entropy(z6, null as never), TypeError, ["entropy: options must be an object", "got null"]],
  ["options missing", (k) => (k.klDivergence as (...a: unknown[]) => unknown)(z6, z6), TypeError, ["options must be an object", "got undefined"]],
  ["options an array", (k) => k.softmax(z6, [3] as never), TypeError, ["options must be an object", "got Array(1)"]],
  ["options a Float32Array", (k) => k.softmax(z6, z6 as never), TypeError, ["options must be an object", "got Float32Array(6)"]],
  // options that another function has
  ["beta on klDivergence", (k) => k.klDivergence(z6, z6, { classes: 3, beta: 0.5 } as never), TypeError, ['unknown option "beta"', "classes, temperature, reduction"]],
  ["reduction on distillation", (k) => k.distillationLoss(z6, z6, { classes: 3, reduction: "sum" } as never), TypeError, ['unknown option "reduction"']],
  ["gradOutput on distillation", (k) => k.distillationLossWithGrad(z6, z6, { classes: 3, gradOutput: [1, 1] } as never), TypeError, ['unknown option "gradOutput"']],
  ["out on entropy", (k) => k.entropy(z6, { classes: 3, out: new Float32Array(2) } as never), TypeError, ['unknown option "out"']],
  ["temperature on entropy of probabilities", (k) => k.entropy(z6, { classes: 3, temperature: 2 } as never), TypeError, ['unknown option "temperature"']],
  ["gradOut on a forward call", (k) => k.klDivergence(z6, z6, { classes: 3, gradOut: new Float32Array(6) } as never), TypeError, ['unknown option "gradOut"']],
  // reduction
  ["reduction unknown on entropy", (k) => k.entropy(z6, { classes: 3, reduction: "max" as never }), RangeError, ["entropy: options.reduction", 'got "max"']],
  ["reduction unknown on jsDivergence", (k) => k.jsDivergenceWithGrad(z6, z6, { classes: 3, reduction: "Mean" as never }), RangeError, ["options.reduction", 'got "Mean"']],
  ["reduction a number", (k) => k.klDivergence(z6, z6, { classes: 3, reduction: 1 as never }), TypeError, ["options.reduction", "got 1"]],
  ["reduction null", (k) => k.crossEntropy(z6, [0, 1], { classes: 3, reduction: null as never }), TypeError, ["options.reduction", "got null"]],
  // temperature
  ["temperature above the maximum", (k) => k.distillationLossWithGrad(z6, z6, { classes: 3, temperature: 1e19 }), RangeError, ["options.temperature", "[1e-30, 1e18]", "got 10000000000000000000"]],
  ["temperature 1e46 on softmax", (k) => k.softmax(z6, { classes: 3, temperature: 1e46 }), RangeError, ["options.temperature", "got 1e+46"]],
  ["temperature negative zero", (k) => k.crossEntropyWithGrad(z6, [0, 1], { classes: 3, temperature: -0 }), RangeError, ["options.temperature", "got 0"]],
  ["temperature a bigint", (k) => k.jsDivergence(z6, z6, { classes: 3, temperature: 2n as never }), TypeError, ["options.temperature", "got bigint"]],
  // weight
  ["weight a string", (k) => k.crossEntropy(z6, [0, 1], { classes: 3, weight: "1,1,1" as never }), TypeError, ["options.weight", "Float32Array or an array of numbers", 'got "1,1,1"']],
  ["weight an Int32Array", (k) => k.crossEntropy(z6, [0, 1], { classes: 3, weight: new Int32Array(3) as never }), TypeError, ["options.weight", "got Int32Array(3)"]],
  ["weight too long", (k) => k.crossEntropyWithGrad(z6, [0, 1], { classes: 3, weight: new Float32Array(4) }), RangeError, ["options.weight.length", "must be 3", "got 4"]],
  ["weight Infinity", (k) => k.crossEntropy(z6, [0, 1], { classes: 3, weight: [1, Infinity, 1] }), RangeError, ["options.weight[1]", "finite and >= 0", "got Infinity"]],
  ["weight beyond float32", (k) => k.crossEntropy(z6, [0, 1], { classes: 3, weight: [1, 1e39, 1] }), RangeError, ["options.weight[1]", "float32", "got 1e+39"]],
  ["weight element a string", (k) => k.crossEntropy(z6, [0, 1], { classes: 3, weight: [1, "2", 1] as never }), TypeError, ["options.weight[1]", "must be a number", 'got "2"']],
  ["weight with targets negative", (k) => k.crossEntropy(z6, probs6(), { classes: 3, weight: [1, 1, -0.5] }), RangeError, ["options.weight[2]", ">= 0", "got -0.5"]],
  // labelSmoothing, beta, alpha, ignoreIndex
  ["labelSmoothing NaN with targets", (k) => k.crossEntropyWithGrad(z6, probs6(), { classes: 3, labelSmoothing: NaN }), RangeError, ["options.labelSmoothing", "[0, 1]", "got NaN"]],
  ["labelSmoothing a string", (k) => k.crossEntropy(z6, [0, 1], { classes: 3, labelSmoothing: "0.1" as never }), TypeError, ["options.labelSmoothing", 'got "0.1"']],
  ["beta above 1", (k) => k.jsDivergence(z6, z6, { classes: 3, beta: 1.0000001 }), RangeError, ["options.beta", "[0, 1]", "got 1.0000001"]],
  ["beta a string", (k) => k.jsDivergence(z6, z6, { classes: 3, beta: "0.5" as never }), TypeError, ["options.beta", 'got "0.5"']],
  ["alpha negative", (k) => k.distillationLossWithGrad(z6, z6, { classes: 3, alpha: -0.1 }), RangeError, ["options.alpha", "[0, 1]", "got -0.1"]],
  ["alpha null", (k) => k.distillationLoss(z6, z6, { classes: 3, alpha: null as never }), TypeError, ["options.alpha", "got null"]],
  ["ignoreIndex beyond int32", (k) => k.crossEntropy(z6, [0, 1], { classes: 3, ignoreIndex: 2 ** 31 }), RangeError, ["options.ignoreIndex", "32-bit integer", "got 2147483648"]],
  ["ignoreIndex a string", (k) => k.distillationLoss(z6, z6, { classes: 3, labels: [0, 1], ignoreIndex: "-100" as never }), TypeError, ["options.ignoreIndex", 'got "-100"']],
  // target and labels
  ["target null", (k) => k.crossEntropy(z6, null as never, { classes: 3 }), TypeError, ["target must be an Int32Array or an array of integers", "got null"]],
  ["target a plain object", (k) => k.crossEntropyWithGrad(z6, { 0: 0, 1: 1, length: 2 } as never, { classes: 3 }), TypeError, ["target", "got a plain object"]],
  ["target a Uint32Array", (k) => k.crossEntropy(z6, new Uint32Array(2) as never, { classes: 3 }), TypeError, ["target", "got Uint32Array(2)"]],
  ["target probabilities too long", (k) => k.crossEntropyWithGrad(z6, new Float32Array(9), { classes: 3 }), RangeError, ["Float32Array of length 6", "got Float32Array(9)"]],
  ["distillation labels too short", (k) => k.distillationLoss(z6, z6, { classes: 3, labels: [0] }), RangeError, ["options.labels.length", "number of rows (2)", "got 1"]],
  ["distillation labels a Float32Array", (k) => k.distillationLoss(z6, z6, { classes: 3, labels: new Float32Array(2) as never }), TypeError, ["options.labels", "got Float32Array(2)"]],
  ["distillation label NaN", (k) => k.distillationLossWithGrad(z6, z6, { classes: 3, labels: [0, NaN] }), RangeError, ["options.labels[1]", "integer", "got NaN"]],
  // lengths of the second input
  ["crossEntropyOfProbs q too long", (k) => k.crossEntropyOfProbs(z6, new Float32Array(9), { classes: 3 }), RangeError, ["q.length", "p.length (6)", "got 9"]],
  ["jsDivergenceWithGrad q too short", (k) => k.jsDivergenceWithGrad(z6, new Float32Array(3), { classes: 3 }), RangeError, ["qLogits.length", "got 3"]],
  ["distillationLossWithGrad teacher too long", (k) => k.distillationLossWithGrad(z6, new Float32Array(12), { classes: 3 }), RangeError, ["teacherLogits.length", "studentLogits.length (6)", "got 12"]],
  // gradOutput
  ["gradOutput too long", (k) => k.entropyOfLogitsWithGrad(z6, { classes: 3, reduction: "none", gradOutput: [1, 1, 1] }), RangeError, ["options.gradOutput.length", "must be 2", "got 3"]],
  ["gradOutput a string", (k) => k.jsDivergenceWithGrad(z6, z6, { classes: 3, reduction: "none", gradOutput: "1,1" as never }), TypeError, ["options.gradOutput", 'got "1,1"']],
  ["gradOutput beyond float32", (k) => k.crossEntropyWithGrad(z6, [0, 1], { classes: 3, reduction: "none", gradOutput: [1, -1e39] }), RangeError, ["options.gradOutput[1]", "float32", "got -1e+39"]],
  ["gradOutput with reduction sum", (k) => k.entropyOfLogitsWithGrad(z6, { classes: 3, reduction: "sum", gradOutput: [1, 1] }), RangeError, ["options.gradOutput", 'got reduction "sum"']],
  // out and gradOut
  ["out too long for logSoftmax", (k) => k.logSoftmax(z6, { classes: 3, out: new Float32Array(7) }), RangeError, ["options.out.length", "must be 6", "got 7"]],
  ["out null", (k) => k.softmax(z6, { classes: 3, out: null as never }), TypeError, ["options.out must be a Float32Array", "got null"]],
  ["gradOut too short", (k) => k.entropyOfLogitsWithGrad(z6, { classes: 3, gradOut: new Float32Array(5) }), RangeError, ["options.gradOut.length", "must be 6", "got 5"]],
  ["gradOut a Float64Array", (k) => k.jsDivergenceWithGrad(z6, z6, { classes: 3, gradOut: new Float64Array(6) as never }), TypeError, ["options.gradOut must be a Float32Array", "got Float64Array(6)"]],
  ["gradOut an array", (k) => k.crossEntropyWithGrad(z6, [0, 1], { classes: 3, gradOut: [0, 0, 0, 0, 0, 0] as never }), TypeError, ["options.gradOut", "got Array(6)"]],
  ["gradOut is the logits", (k) => k.crossEntropyWithGrad(z6, [0, 1], { classes: 3, gradOut: z6 }), RangeError, ["options.gradOut overlaps logits", "separate buffer"]],
  ["gradOut is the target", (k) => { const t = probs6(); return k.crossEntropyWithGrad(z6, t, { classes: 3, gradOut: t }); }, RangeError, ["options.gradOut overlaps target"]],
  ["gradOut is the teacher", (k) => { const t = z6.slice(); return k.distillationLossWithGrad(z6, t, { classes: 3, gradOut: t }); }, RangeError, ["options.gradOut overlaps teacherLogits"]],
  // alloc and handles
  ["alloc length negative", (k) => k.alloc(-6, { classes: 3 }), RangeError, ["alloc: length", "[0, 2^30]", "got -6"]],
  ["alloc length NaN", (k) => k.alloc(NaN, { classes: 3 }), RangeError, ["alloc: length", "got NaN"]],
  ["alloc length a string", (k) => k.alloc("6" as never, { classes: 3 }), TypeError, ["alloc: length", 'got "6"']],
  ["alloc length not a multiple", (k) => k.alloc(7, { classes: 3 }), RangeError, ["multiple of options.classes (3)", "got 7"]],
  ["alloc classes zero", (k) => k.alloc(6, { classes: 0 }), RangeError, ["alloc: options.classes", "got 0"]],
  ["handle toArray into a short array", (k) => withHandle(k, 6, (h) => h.toArray(new Float32Array(5))), RangeError, ["toArray: out.length must be 6", "got 5"]],
  ["handle set from a Float64Array", (k) => withHandle(k, 6, (h) => h.set(new Float64Array(6) as never)), TypeError, ["set: values must be a Float32Array", "got Float64Array(6)"]],
  ["handle as labels", (k) => withHandle(k, 2, (h) => k.distillationLoss(z6, z6, { classes: 3, labels: h as never })), TypeError, ["options.labels", "a logitkit handle"]],
  ["handle as teacherValues", (k) => withHandle(k, 4, (h) => k.topKDistillationLoss(z6, topKIndices, h as never, { classes: 3 })), TypeError, ["teacherValues must be a Float32Array", "a logitkit handle", "handle.toArray()"]],
  ["handle as teacherIndices", (k) => withHandle(k, 4, (h) => k.topKDistillationLoss(z6, h as never, topKValues, { classes: 3 })), TypeError, ["teacherIndices", "a logitkit handle"]],
  ["handle as weight", (k) => withHandle(k, 3, (h) => k.crossEntropy(z6, [0, 1], { classes: 3, weight: h as never })), TypeError, ["options.weight", "a logitkit handle"]],
];

/** Runs `use` on a new zero-filled handle of `length` floats, and frees the handle even when `use` throws. */
function withHandle(kit: LogitKit, length: number, use: (handle: UploadedLogits) => unknown): unknown {
  const handle = kit.alloc(length, { classes: 1 });
  try {
    return use(handle);
  } finally {
    handle.free();
  }
}

/** Probability targets of the 2 x 3 input. */
function probs6(): Float32Array {
  return new Float32Array([0.2, 0.3, 0.5, 0.1, 0.1, 0.8]);
}

describe.each(KITS)("%s kit against hostile input", (_name, config) => {
  let kit: LogitKit;
  beforeAll(async () => {
    kit = await loadLogitKit(config);
  });
  afterAll(() => kit.dispose());

  describe("invalid arguments and options", () => {
    for (const [description, call, type, pieces] of INVALID) {
      it(description, () => {
        expectError(() => call(kit), type, pieces);
        expectUsable(kit);
      });
    }
  });

  describe("wrong types", () => {
    for (const [fn, name, call] of MATRIX_POSITIONS) {
      it(`${fn} ${name}`, () => {
        for (const [, make, actual] of NOT_FLOAT32) {
          expectError(() => call(kit, make()), TypeError, [`${fn}: ${name} must be a Float32Array`, actual]);
        }
        expectUsable(kit);
      });
    }

    it("missing logits", () => {
      for (const [fn, call] of LOGITS_FIRST) expectError(() => call(kit, undefined), TypeError, [`${fn}: logits must be a Float32Array`, "got undefined"]);
      expectUsable(kit);
    });

    it("weight, gradOutput and labels", () => {
      for (const [, make, actual] of NOT_FLOAT32) {
        const value = make();
        if (Array.isArray(value) || value instanceof Float32Array) continue;
        expectError(() => kit.crossEntropy(z6, [0, 1], { classes: 3, weight: value as never }), TypeError, ["options.weight must be a Float32Array or an array of numbers", actual]);
        expectError(() => kit.klDivergenceWithGrad(z6, z6, { classes: 3, reduction: "none", gradOutput: value as never }), TypeError, ["options.gradOutput must be", actual]);
        if (value instanceof Int32Array) continue;
        expectError(() => kit.distillationLoss(z6, z6, { classes: 3, labels: value as never }), TypeError, ["options.labels must be an Int32Array or an array of integers", actual]);
      }
      expectUsable(kit);
    });

    it("arrays from another realm give the same values", async () => {
      const realm = await foreignRealm();
      const foreign = (values: ArrayLike<number>) => new realm.Float32Array(Array.from(values)) as Float32Array;
      const foreignLabels = new realm.Int32Array(labels) as Int32Array;
      const foreignArray = realm.Array.from(labels) as number[];
      expect(foreign(z)).not.toBeInstanceOf(Float32Array);
      expect(Array.isArray(foreignArray)).toBe(true);

      const weight = Array.from({ length: CLASSES }, (_, c) => 1 + (c % 3));
      const options = { classes: CLASSES, weight, labelSmoothing: 0.1 };
      const plain = kit.crossEntropyWithGrad(z, labels, options);
      for (const target of [foreignLabels, foreignArray]) {
        const result = kit.crossEntropyWithGrad(foreign(z), target, { ...options, weight: foreign(weight) });
        expect(result.loss).toBe(plain.loss);
        expect(Array.from(result.grad)).toEqual(Array.from(plain.grad));
      }

      const gradOut = foreign(new Float32Array(N));
      const gradOutput = foreign(Array.from({ length: ROWS }, (_, r) => r - 3));
      const kl = kit.klDivergenceWithGrad(foreign(q), foreign(z), { classes: CLASSES, reduction: "none", gradOutput, gradOut });
      const klPlain = kit.klDivergenceWithGrad(q, z, { classes: CLASSES, reduction: "none", gradOutput: Array.from(gradOutput) });
      expect(kl.grad).toBe(gradOut);
      expect(Array.from(kl.grad)).toEqual(Array.from(klPlain.grad));
      expect(Array.from(kl.loss)).toEqual(Array.from(klPlain.loss));

      const out = foreign(new Float32Array(N));
      expect(kit.logSoftmax(foreign(z), { classes: CLASSES, out })).toBe(out);
      expect(Array.from(out)).toEqual(Array.from(kit.logSoftmax(z, { classes: CLASSES })));
      expect(kit.crossEntropy(z, foreign(probsF32), { classes: CLASSES })).toBe(kit.crossEntropy(z, probsF32, { classes: CLASSES }));
      expect(kit.distillationLoss(foreign(z), foreign(q), { classes: CLASSES, labels: foreignLabels, temperature: 2 })).toBe(
        kit.distillationLoss(z, q, { classes: CLASSES, labels, temperature: 2 }),
      );
    });
  });

  describe("detached buffers", () => {
    const message = (fn: string, name: string) => `${fn}: ${name} is backed by a detached ArrayBuffer`;

    it("every matrix argument", () => {
      for (const [fn, name, call] of MATRIX_POSITIONS) expectError(() => call(kit, detached(z6)), TypeError, [message(fn, name)]);
      expectUsable(kit);
    });

    it("probability targets", () => {
      expectError(() => kit.crossEntropyWithGrad(z6, detached(probs6()), { classes: 3 }), TypeError, [message("crossEntropyWithGrad", "target")]);
      expectUsable(kit);
    });

    it("labels in an Int32Array", () => {
      expectError(() => kit.crossEntropy(z6, detached(new Int32Array([0, 1])), { classes: 3 }), TypeError, [message("crossEntropy", "target")]);
      expectError(() => kit.distillationLossWithGrad(z6, z6, { classes: 3, labels: detached(new Int32Array([0, 1])) }), TypeError, [message("distillationLossWithGrad", "options.labels")]);
      expectError(() => kit.topKDistillationLoss(z6, detached(Int32Array.from(topKIndices)), topKValues, { classes: 3 }), TypeError, [message("topKDistillationLoss", "teacherIndices")]);

      // An empty batch takes zero labels, but a detached array is still no array of labels.
      expectError(() => kit.crossEntropy(new Float32Array(0), detached(new Int32Array(2)), { classes: 3 }), TypeError, [message("crossEntropy", "target")]);
      expectUsable(kit);
    });

    it("weight and gradOutput", () => {
      expectError(() => kit.crossEntropy(z6, [0, 1], { classes: 3, weight: detached(new Float32Array([1, 1, 1])) }), TypeError, [message("crossEntropy", "options.weight")]);
      expectError(() => kit.entropyOfLogitsWithGrad(z6, { classes: 3, reduction: "none", gradOutput: detached(new Float32Array([1, 1])) }), TypeError, [message("entropyOfLogitsWithGrad", "options.gradOutput")]);
      expectUsable(kit);
    });

    it("handle set and toArray", () => {
      const handle = kit.upload(z6, { classes: 3 });
      expectError(() => handle.set(detached(z6)), TypeError, [message("set", "values")]);
      expectError(() => handle.toArray(detached(z6)), TypeError, [message("toArray", "out")]);
      expect(Array.from(handle.toArray())).toEqual(Array.from(z6));
      handle.free();
      expectUsable(kit);
    });
  });

  describe("views out of bounds of a shrunk resizable buffer", () => {
    const message = (fn: string, name: string) => `${fn}: ${name} is out of bounds: its resizable buffer shrank`;

    it("every matrix argument", () => {
      for (const [fn, name, call] of MATRIX_POSITIONS) {
        expectError(() => call(kit, outOfBounds(z6)), TypeError, [message(fn, name)]);
        expectError(() => call(kit, outOfBounds(z6, true)), TypeError, [message(fn, name)]);
      }
      expectUsable(kit);
    });

    it("labels, weight and handles", () => {
      expectError(() => kit.crossEntropy(z6, outOfBounds(new Int32Array([0, 1])), { classes: 3 }), TypeError, [message("crossEntropy", "target")]);
      expectError(() => kit.crossEntropy(z6, [0, 1], { classes: 3, weight: outOfBounds(new Float32Array([1, 1, 1])) }), TypeError, [message("crossEntropy", "options.weight")]);
      const handle = kit.upload(z6, { classes: 3 });
      expectError(() => handle.set(outOfBounds(z6)), TypeError, [message("set", "values")]);
      handle.free();
      expectUsable(kit);
    });

    it("an empty view at the end is no error", () => {
      const buffer = new (ArrayBuffer as unknown as ResizableArrayBuffer)(8, { maxByteLength: 64 });
      const empty = new Float32Array(buffer, 8);
      expect(kit.softmax(empty, { classes: 3 })).toEqual(new Float32Array(0));
      expect(kit.crossEntropy(empty, new Int32Array(0), { classes: 3, reduction: "sum" })).toBe(0);
    });
  });

  describe("SharedArrayBuffer-backed arrays", () => {
    it("give the same values as ordinary arrays", () => {
      const sz = sharedCopy(z);
      const sq = sharedCopy(q);
      const sp = sharedCopy(probsF32);
      const o = { classes: CLASSES };

      expect(Array.from(kit.softmax(sz, o))).toEqual(Array.from(kit.softmax(z, o)));
      expect(Array.from(kit.logSoftmax(sz, { ...o, temperature: 0.5 }))).toEqual(Array.from(kit.logSoftmax(z, { ...o, temperature: 0.5 })));
      expect(Array.from(kit.logSumExp(sz, o))).toEqual(Array.from(kit.logSumExp(z, o)));
      expect(kit.entropy(sp, o)).toBe(kit.entropy(probsF32, o));
      expect(kit.klDivergenceOfProbs(sp, sharedCopy(kit.softmax(z, o)), o)).toBe(kit.klDivergenceOfProbs(probsF32, kit.softmax(z, o), o));
      expect(kit.crossEntropyOfProbs(sp, sp, o)).toBe(kit.crossEntropyOfProbs(probsF32, probsF32, o));
      expect(kit.entropyOfLogits(sz, o)).toBe(kit.entropyOfLogits(z, o));
      expect(kit.crossEntropy(sz, sp, o)).toBe(kit.crossEntropy(z, probsF32, o));
      expect(kit.klDivergence(sq, sz, o)).toBe(kit.klDivergence(q, z, o));
      expect(kit.jsDivergence(sq, sz, { ...o, beta: 0.3 })).toBe(kit.jsDivergence(q, z, { ...o, beta: 0.3 }));
      expect(kit.distillationLoss(sz, sq, { ...o, labels })).toBe(kit.distillationLoss(z, q, { ...o, labels }));

      // Shared labels, weights, gradOutput, out and gradOut.
      const sharedLabels = new Int32Array(new SharedArrayBuffer(ROWS * 4));
      sharedLabels.set(labels);
      const weight = sharedCopy(Float32Array.from({ length: CLASSES }, (_, c) => 0.5 + (c % 4)));
      const gradOutput = sharedCopy(Float32Array.from({ length: ROWS }, (_, r) => r / 4));
      const gradOut = sharedCopy(new Float32Array(N));
      const shared = kit.crossEntropyWithGrad(sz, sharedLabels, { ...o, weight, reduction: "none", gradOutput, gradOut });
      const plain = kit.crossEntropyWithGrad(z, labels, { ...o, weight: weight.slice(), reduction: "none", gradOutput: gradOutput.slice() });
      expect(shared.grad).toBe(gradOut);
      expect(Array.from(shared.grad)).toEqual(Array.from(plain.grad));
      expect(Array.from(shared.loss)).toEqual(Array.from(plain.loss));

      const out = sharedCopy(new Float32Array(N));
      expect(kit.softmax(sz, { ...o, out })).toBe(out);
      expect(Array.from(out)).toEqual(Array.from(kit.softmax(z, o)));
      const jsGrad = kit.jsDivergenceWithGrad(sq, sz, { ...o, gradOut: sharedCopy(new Float32Array(N)) });
      expect(Array.from(jsGrad.grad)).toEqual(Array.from(kit.jsDivergenceWithGrad(q, z, o).grad));

      const handle = kit.upload(sz, o);
      expect(Array.from(kit.softmax(handle, o))).toEqual(Array.from(kit.softmax(z, o)));
      handle.free();

      // In place on shared memory.
      const inPlace = sharedCopy(z);
      kit.softmax(inPlace, { ...o, out: inPlace });
      expect(Array.from(inPlace)).toEqual(Array.from(kit.softmax(z, o)));
    });
  });

  describe("non-finite numeric options", () => {
    const NON_FINITE = [NaN, Infinity, -Infinity];

    // Each case: the option's name in messages and a call with the value in it.
    const OPTIONS: Array<[string, (kit: LogitKit, v: number) => unknown]> = [
      ["options.classes", (k, v) => k.softmax(z6, { classes: v })],
      ["options.classes", (k, v) => k.distillationLoss(z6, z6, { classes: v })],
      ["options.classes", (k, v) => k.upload(z6, { classes: v })],
      ["options.classes", (k, v) => k.alloc(6, { classes: v })],
      ["options.temperature", (k, v) => k.softmax(z6, { classes: 3, temperature: v })],
      ["options.temperature", (k, v) => k.logSoftmax(z6, { classes: 3, temperature: v })],
      ["options.temperature", (k, v) => k.logSumExp(z6, { classes: 3, temperature: v })],
      ["options.temperature", (k, v) => k.entropyOfLogitsWithGrad(z6, { classes: 3, temperature: v })],
      ["options.temperature", (k, v) => k.crossEntropy(z6, [0, 1], { classes: 3, temperature: v })],
      ["options.temperature", (k, v) => k.crossEntropyWithGrad(z6, probs6(), { classes: 3, temperature: v })],
      ["options.temperature", (k, v) => k.klDivergenceWithGrad(z6, z6, { classes: 3, temperature: v })],
      ["options.temperature", (k, v) => k.jsDivergence(z6, z6, { classes: 3, temperature: v })],
      ["options.temperature", (k, v) => k.distillationLossWithGrad(z6, z6, { classes: 3, temperature: v })],
      ["options.labelSmoothing", (k, v) => k.crossEntropyWithGrad(z6, [0, 1], { classes: 3, labelSmoothing: v })],
      ["options.labelSmoothing", (k, v) => k.crossEntropy(z6, probs6(), { classes: 3, labelSmoothing: v })],
      ["options.beta", (k, v) => k.jsDivergence(z6, z6, { classes: 3, beta: v })],
      ["options.beta", (k, v) => k.jsDivergenceWithGrad(z6, z6, { classes: 3, beta: v })],
      ["options.alpha", (k, v) => k.distillationLoss(z6, z6, { classes: 3, alpha: v, labels: [0, 1] })],
      ["options.alpha", (k, v) => k.distillationLossWithGrad(z6, z6, { classes: 3, alpha: v })],
      ["options.ignoreIndex", (k, v) => k.crossEntropy(z6, [0, 1], { classes: 3, ignoreIndex: v })],
      ["options.ignoreIndex", (k, v) => k.distillationLoss(z6, z6, { classes: 3, ignoreIndex: v, labels: [0, 1] })],
      ["options.weight[2]", (k, v) => k.crossEntropyWithGrad(z6, [0, 1], { classes: 3, weight: [1, 1, v] })],
      ["options.weight[0]", (k, v) => k.crossEntropy(z6, probs6(), { classes: 3, weight: new Float32Array([v, 1, 1]) })],
      ["options.gradOutput[1]", (k, v) => k.entropyOfLogitsWithGrad(z6, { classes: 3, reduction: "none", gradOutput: [1, v] })],
      ["options.gradOutput[0]", (k, v) => k.crossEntropyWithGrad(z6, [0, 1], { classes: 3, reduction: "none", gradOutput: new Float32Array([v, 1]) })],
      ["options.gradOutput[1]", (k, v) => k.klDivergenceWithGrad(z6, z6, { classes: 3, reduction: "none", gradOutput: [1, v] })],
      ["options.gradOutput[0]", (k, v) => k.jsDivergenceWithGrad(z6, z6, { classes: 3, reduction: "none", gradOutput: [v, 1] })],
      ["length", (k, v) => k.alloc(v, { classes: 3 })],
    ];

    it("are rejected with a RangeError that names the option", () => {
      for (const [name, call] of OPTIONS) {
        for (const v of NON_FINITE) expectError(() => call(kit, v), RangeError, [name, `got ${v}`]);
      }
      expectUsable(kit);
    });
  });

  describe("labels", () => {
    const LABELS: Array<[string, number, string]> = [
      ["2^31", 2 ** 31, "got 2147483648"],
      ["2^32 + 1", 2 ** 32 + 1, "got 4294967297"],
      ["-2^31 - 1", -(2 ** 31) - 1, "got -2147483649"],
      ["-1 that is not ignoreIndex", -1, "got -1"],
      ["equal to classes", 40, "got 40"],
      ["fractional", 1.5, "got 1.5"],
      ["NaN", NaN, "got NaN"],
      ["Infinity", Infinity, "got Infinity"],
      ["-Infinity", -Infinity, "got -Infinity"],
    ];

    for (const [description, label, actual] of LABELS) {
      it(description, () => {
        const bad = labels.slice();
        bad[5] = label;
        expectError(() => kit.crossEntropy(z, bad, { classes: CLASSES }), RangeError, ["crossEntropy: target[5]", actual]);
        // A non-integer fails the integer check before the range check that names ignoreIndex.
        const range = Number.isInteger(label) ? ["ignoreIndex (7)"] : ["must be an integer"];
        expectError(() => kit.crossEntropyWithGrad(z, bad, { classes: CLASSES, ignoreIndex: 7 }), RangeError, ["target[5]", ...range, actual]);
        expectError(() => kit.distillationLossWithGrad(z, q, { classes: CLASSES, labels: bad }), RangeError, ["options.labels[5]", actual]);
        expectUsable(kit);
      });
    }

    it("Number objects and objects with valueOf", () => {
      let conversions = 0;
      const convertible = {
        valueOf: () => {
          conversions++;
          return 1;
        },
        [Symbol.toPrimitive]: () => {
          conversions++;
          throw new Error("caller's toPrimitive");
        },
      };
      for (const label of [new Number(1), convertible, "1", 1n, null, undefined, true]) {
        const bad: unknown[] = labels.slice();
        bad[2] = label;
        expectError(() => kit.crossEntropy(z, bad as number[], { classes: CLASSES }), TypeError, ["target[2] must be an integer"]);
      }
      expect(conversions).toBe(0);
      expectUsable(kit);
    });

    it("-1 as ignoreIndex and -0 as a label", () => {
      const ignored = labels.slice();
      ignored[2] = -1;
      const loss = kit.crossEntropy(z, ignored, { classes: CLASSES, ignoreIndex: -1, reduction: "none" });
      const expected = crossEntropy64(z, labels);
      expect(loss[2]).toBe(0);
      for (const r of [0, 1, 3, 7]) expect(Math.abs(loss[r] - expected[r])).toBeLessThan(1e-5);

      const zeroLabel = labels.slice();
      zeroLabel[4] = -0;
      const withNegativeZero = kit.crossEntropy(z, zeroLabel, { classes: CLASSES, reduction: "none" });
      expect(Math.abs(withNegativeZero[4] - crossEntropy64(z, [0, 0, 0, 0, 0])[4])).toBeLessThan(1e-5);
    });

    it("Int32Array and number[] give the same values", () => {
      const int32 = Int32Array.from(labels);
      const o = { classes: CLASSES, labelSmoothing: 0.2, reduction: "sum" } as const;
      const fromArray = kit.crossEntropyWithGrad(z, labels, o);
      const fromInt32 = kit.crossEntropyWithGrad(z, int32, o);
      expect(fromInt32.loss).toBe(fromArray.loss);
      expect(Array.from(fromInt32.grad)).toEqual(Array.from(fromArray.grad));
      expect(kit.distillationLoss(z, q, { classes: CLASSES, labels: int32 })).toBe(kit.distillationLoss(z, q, { classes: CLASSES, labels }));
      const expected = crossEntropy64(z, labels).reduce((s, v) => s + v, 0);
      expect(Math.abs(kit.crossEntropy(z, int32, { classes: CLASSES, reduction: "sum" }) - expected)).toBeLessThan(1e-4);
    });
  });

  describe("empty batches", () => {
    const empty = new Float32Array(0);
    const REDUCED: Array<[string, (kit: LogitKit, reduction: "none" | "sum" | "mean" | "batchmean") => unknown]> = [
      ["entropy", (k, reduction) => k.entropy(empty, { classes: 3, reduction })],
      ["crossEntropyOfProbs", (k, reduction) => k.crossEntropyOfProbs(empty, empty, { classes: 3, reduction })],
      ["klDivergenceOfProbs", (k, reduction) => k.klDivergenceOfProbs(empty, empty, { classes: 3, reduction })],
      ["entropyOfLogits", (k, reduction) => k.entropyOfLogits(empty, { classes: 3, reduction })],
      ["crossEntropy with labels", (k, reduction) => k.crossEntropy(empty, [], { classes: 3, reduction })],
      ["crossEntropy with an Int32Array", (k, reduction) => k.crossEntropy(empty, new Int32Array(0), { classes: 3, reduction, weight: [1, 2, 3] })],
      ["crossEntropy with targets", (k, reduction) => k.crossEntropy(empty, empty, { classes: 3, reduction, labelSmoothing: 0.1 })],
      ["klDivergence", (k, reduction) => k.klDivergence(empty, empty, { classes: 3, reduction })],
      ["jsDivergence", (k, reduction) => k.jsDivergence(empty, empty, { classes: 3, reduction, beta: 0.2 })],
    ];
    const REDUCED_GRAD: Array<[string, (kit: LogitKit, reduction: "none" | "sum" | "mean" | "batchmean") => { loss: unknown; grad: Float32Array | UploadedLogits }]> = [
      ["entropyOfLogitsWithGrad", (k, reduction) => k.entropyOfLogitsWithGrad(empty, { classes: 3, reduction })],
      ["crossEntropyWithGrad with labels", (k, reduction) => k.crossEntropyWithGrad(empty, [], { classes: 3, reduction })],
      ["crossEntropyWithGrad with targets", (k, reduction) => k.crossEntropyWithGrad(empty, empty, { classes: 3, reduction })],
      ["klDivergenceWithGrad", (k, reduction) => k.klDivergenceWithGrad(empty, empty, { classes: 3, reduction })],
      ["jsDivergenceWithGrad", (k, reduction) => k.jsDivergenceWithGrad(empty, empty, { classes: 3, reduction })],
    ];

    /** Checks a reduced empty loss: an empty array for none, 0 for sum, NaN for the means. */
    function expectEmptyLoss(loss: unknown, reduction: string): void {
      if (reduction === "none") {
        expect(loss).toBeInstanceOf(Float32Array);
        expect((loss as Float32Array).length).toBe(0);
      } else if (reduction === "sum") {
        expect(loss).toBe(0);
      } else {
        expect(loss).toBeNaN();
      }
    }

    for (const reduction of ["none", "sum", "mean", "batchmean"] as const) {
      it(`reduction ${reduction}`, () => {
        for (const [, call] of REDUCED) expectEmptyLoss(call(kit, reduction), reduction);
        for (const [, call] of REDUCED_GRAD) {
          const { loss, grad } = call(kit, reduction);
          expectEmptyLoss(loss, reduction);
          expect(grad).toBeInstanceOf(Float32Array);
          expect((grad as Float32Array).length).toBe(0);
        }
        expectUsable(kit);
      });
    }

    it("element-wise functions and distillation", () => {
      for (const fn of ["softmax", "logSoftmax", "logSumExp"] as const) {
        const result = kit[fn](empty, { classes: 50257, temperature: 2 });
        expect(result).toBeInstanceOf(Float32Array);
        expect(result.length).toBe(0);
        const out = new Float32Array(0);
        expect(kit[fn](empty, { classes: 3, out })).toBe(out);
      }
      expect(kit.distillationLoss(empty, empty, { classes: 3 })).toBeNaN();
      expect(kit.distillationLoss(empty, empty, { classes: 3, labels: [] })).toBeNaN();
      const { loss, grad } = kit.distillationLossWithGrad(empty, empty, { classes: 3, labels: new Int32Array(0), temperature: 4 });
      expect(loss).toBeNaN();
      expect(grad.length).toBe(0);
      expectUsable(kit);
    });

    it("gradOutput, gradOut and handles of length 0", () => {
      const gradOut = new Float32Array(0);
      const result = kit.crossEntropyWithGrad(empty, [], { classes: 3, reduction: "none", gradOutput: [], gradOut });
      expect(result.grad).toBe(gradOut);
      expect(result.loss.length).toBe(0);

      const handle = kit.upload(empty, { classes: 3 });
      const out = kit.alloc(0, { classes: 3 });
      expect(handle.length).toBe(0);
      expect(kit.softmax(handle, { classes: 3, out })).toBe(out);
      expect(out.toArray().length).toBe(0);
      expect(kit.entropyOfLogits(handle, { classes: 3, reduction: "sum" })).toBe(0);
      const gradHandle = kit.klDivergenceWithGrad(handle, handle, { classes: 3, gradOut: out });
      expect(gradHandle.loss).toBeNaN();
      expect(gradHandle.grad).toBe(out);
      handle.free();
      out.free();
      expectUsable(kit);
    });

    it("still validates every argument", () => {
      expectError(() => kit.crossEntropy(empty, [0], { classes: 3 }), RangeError, ["target.length must equal the number of rows (0)", "got 1"]);
      expectError(() => kit.crossEntropy(empty, [], { classes: 3, weight: [1, 1] }), RangeError, ["options.weight.length must be 3", "got 2"]);
      expectError(() => kit.softmax(empty, { classes: 0 }), RangeError, ["options.classes", "got 0"]);
      expectError(() => kit.klDivergence(empty, z6, { classes: 3 }), RangeError, ["qLogits.length", "got 6"]);
      expectError(() => kit.entropy(empty, { classes: 3, reduction: "avg" as never }), RangeError, ["options.reduction"]);
      expectError(() => kit.softmax(empty, { classes: 3, temperature: 0 }), RangeError, ["options.temperature"]);
      expectUsable(kit);
    });
  });

  describe("re-entrant calls and hostile objects", () => {
    it("an option getter that calls the kit and grows its memory", () => {
      const large = Float32Array.from({ length: 4_000_000 }, (_, i) => (i % 13) * 0.1);
      const handle = kit.upload(z, { classes: CLASSES });
      const out = kit.alloc(N, { classes: CLASSES });
      const options = {
        get classes() {
          const inner = kit.upload(large, { classes: 1000 });
          kit.softmax(inner, { classes: 1000, out: inner });
          inner.free();
          return CLASSES;
        },
        out,
      };
      expect(kit.softmax(handle, options)).toBe(out);
      expect(Array.from(out.toArray())).toEqual(Array.from(kit.softmax(z, { classes: CLASSES })));
      handle.free();
      out.free();
      expectUsable(kit);
    });

    it("a Proxy as options whose traps call the kit", () => {
      let traps = 0;
      const options = new Proxy(
        { classes: CLASSES, reduction: "sum" as const, labelSmoothing: 0.1 },
        {
          get(target, key, receiver) {
            traps++;
            kit.crossEntropyWithGrad(q, labels, { classes: CLASSES });
            return Reflect.get(target, key, receiver) as unknown;
          },
          ownKeys(target) {
            kit.softmax(q, { classes: CLASSES });
            return Reflect.ownKeys(target);
          },
        },
      );
      const result = kit.crossEntropyWithGrad(z, labels, options);
      const plain = kit.crossEntropyWithGrad(z, labels, { classes: CLASSES, reduction: "sum", labelSmoothing: 0.1 });
      expect(traps).toBeGreaterThan(0);
      expect(result.loss).toBe(plain.loss);
      expect(Array.from(result.grad)).toEqual(Array.from(plain.grad));
    });

    it("a label getter that calls the kit", () => {
      const reentrant = labels.slice();
      Object.defineProperty(reentrant, 5, {
        get: () => {
          kit.klDivergenceWithGrad(q, z, { classes: CLASSES });
          return labels[5];
        },
      });
      const gradOut = kit.alloc(N, { classes: CLASSES });
      const result = kit.crossEntropyWithGrad(z, reentrant, { classes: CLASSES, gradOut });
      const plain = kit.crossEntropyWithGrad(z, labels, { classes: CLASSES });
      expect(result.loss).toBe(plain.loss);
      expect(Array.from(gradOut.toArray())).toEqual(Array.from(plain.grad));
      gradOut.free();
    });

    it("a Symbol.toPrimitive that throws is never called", () => {
      let calls = 0;
      const hostile = {
        [Symbol.toPrimitive]: () => {
          calls++;
          throw new Error("caller's toPrimitive");
        },
      } as never;
      expectError(() => kit.softmax(z, { classes: hostile }), TypeError, ["options.classes must be an integer >= 1", "got a plain object"]);
      expectError(() => kit.softmax(z, { classes: CLASSES, temperature: hostile }), TypeError, ["options.temperature"]);
      expectError(() => kit.entropy(probsF32, { classes: CLASSES, reduction: hostile }), TypeError, ["options.reduction"]);
      expectError(() => kit.crossEntropy(z, labels, { classes: CLASSES, labelSmoothing: hostile }), TypeError, ["options.labelSmoothing"]);
      expectError(() => kit.crossEntropy(z, labels, { classes: CLASSES, ignoreIndex: hostile }), TypeError, ["options.ignoreIndex"]);
      expectError(() => kit.crossEntropy(z, labels, { classes: CLASSES, weight: Array(CLASSES).fill(hostile) }), TypeError, ["options.weight[0] must be a number"]);
      expectError(() => kit.jsDivergence(z, q, { classes: CLASSES, beta: hostile }), TypeError, ["options.beta"]);
      expectError(() => kit.distillationLoss(z, q, { classes: CLASSES, alpha: hostile }), TypeError, ["options.alpha"]);
      expectError(() => kit.klDivergenceWithGrad(z, q, { classes: CLASSES, reduction: "none", gradOutput: Array(ROWS).fill(hostile) }), TypeError, ["options.gradOutput[0] must be a number"]);
      expectError(() => kit.alloc(hostile, { classes: 1 }), TypeError, ["alloc: length"]);
      expect(calls).toBe(0);
      expectUsable(kit);
    });

    it("a getter that throws leaves out untouched", () => {
      const out = new Float32Array(N).fill(7);
      const options = {
        classes: CLASSES,
        out,
        get temperature(): number {
          throw new Error("caller's getter");
        },
      };
      expect(() => kit.softmax(z, options)).toThrow("caller's getter");
      expect(out.every((v) => v === 7)).toBe(true);
      expectUsable(kit);
    });

    it("a getter that frees an input or output handle", () => {
      const handle = kit.upload(z, { classes: CLASSES });
      expectError(() => kit.logSoftmax(handle, { get classes() { handle.free(); return CLASSES; } }), TypeError, ["logSoftmax: logits was freed with free()"]);

      const out = kit.alloc(N, { classes: CLASSES });
      let replacement: UploadedLogits | undefined;
      const options = {
        classes: CLASSES,
        out,
        get temperature() {
          out.free();
          replacement = kit.alloc(N, { classes: CLASSES });
          return 1;
        },
      };
      expectError(() => kit.softmax(z, options), TypeError, ["softmax: options.out was freed with free()"]);
      expect(replacement!.toArray().every((v) => v === 0)).toBe(true);
      replacement!.free();
      expectUsable(kit);
    });

    it("a getter that detaches the logits", () => {
      const logits = z.slice();
      const options = {
        get classes() {
          structuredClone(logits.buffer, { transfer: [logits.buffer] });
          return CLASSES;
        },
      };
      expectError(() => kit.softmax(logits, options), TypeError, ["softmax: logits was detached while the arguments were checked"]);
      expectUsable(kit);
    });

    it("a getter that disposes the kit's threads", async () => {
      const own = await loadLogitKit(config);
      const large = Float32Array.from({ length: 64 * 32000 }, (_, i) => Math.sin(i));
      const expected = kit.softmax(large, { classes: 32000 });
      const probsOut = own.softmax(large, {
        get classes() {
          own.dispose();
          return 32000;
        },
      });
      expect(own.threads).toBe(1);
      expect(Array.from(probsOut)).toEqual(Array.from(expected));
      expectUsable(own);
    });
  });
});

describe("loadLogitKit options", () => {
  it("rejects non-finite and fractional threads", async () => {
    for (const threads of [NaN, Infinity, -Infinity, 0, 1.5, 129]) {
      await expect(loadLogitKit({ backend: "wasm", threads })).rejects.toThrow(RangeError);
      await expect(loadLogitKit({ backend: "wasm", threads })).rejects.toThrow(`options.threads must be an integer from 1 to 128, got ${threads}`);
    }
    await expect(loadLogitKit({ threads: "2" as never })).rejects.toThrow(TypeError);
    expectUsable(await loadLogitKit({ backend: "wasm" }));
  });
});

describe.each([1, 2])("wasm memory after failing calls, %i threads", (threads) => {
  it("stays as it was", async () => {
    const { kernels } = await loadWasmKernels(threads);
    const kit = createKit(withSmallInputsOnJs(kernels));

    // The address of a new 16-byte block: it moves up when a failed call leaves a block behind.
    const firstFree = () => {
      const block = kernels.reserve(4);
      const at = block.view().byteOffset;
      block.release();
      return at;
    };

    // Warm-up: the calls and the handle below grow the memory to its size for this test.
    const large = Float32Array.from({ length: 64 * 1000 }, (_, i) => Math.sin(i));
    const largeLabels = new Int32Array(64);
    kit.upload(large, { classes: 1000 }).free();
    kit.crossEntropyWithGrad(large, largeLabels, { classes: 1000 });
    kit.klDivergenceWithGrad(large, large, { classes: 1000 });
    const bytesBefore = kernels.memoryBytes();
    const freeBefore = firstFree();

    const handle = kit.upload(large, { classes: 1000 });
    for (let round = 0; round < 50; round++) {
      for (const [, call] of INVALID) expect(() => call(kit)).toThrow();
      for (const [, , call] of MATRIX_POSITIONS) expect(() => call(kit, detached(z6))).toThrow(TypeError);

      // Failures after the handle was resolved: a throwing getter, a label out of range, an
      // allocation beyond the 4 GiB of wasm32, a gradOut that overlaps the input.
      expect(() => kit.crossEntropyWithGrad(handle, largeLabels, { classes: 1000, get temperature(): number { throw new Error("getter"); } })).toThrow("getter");
      expect(() => kit.crossEntropyWithGrad(handle, [...largeLabels.subarray(1), 1000], { classes: 1000 })).toThrow(RangeError);
      expect(() => kit.alloc(2 ** 30, { classes: 1 })).toThrow(RangeError);
      expect(() => kit.klDivergenceWithGrad(large, handle, { classes: 1000, gradOut: handle })).toThrow("overlaps");
    }
    handle.free();

    expect(kernels.memoryBytes()).toBe(bytesBefore);
    expect(firstFree()).toBe(freeBefore);

    // Successful calls of the same shapes reuse the memory too.
    kit.crossEntropyWithGrad(large, largeLabels, { classes: 1000 });
    expect(kernels.memoryBytes()).toBe(bytesBefore);
    expect(firstFree()).toBe(freeBefore);
    expectUsable(kit);
    kernels.dispose();
  });
});
