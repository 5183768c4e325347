/**
 * Operations that the benchmark times, each bound to one backend and one set of inputs.
 */
import type { LogitKit } from "logitkit";
import { IGNORE_INDEX } from "./data.js";

/** Inputs of one benchmark case: two logit matrices of the same shape and one label per row. */
export interface OpInput {
  rows: number;
  classes: number;
  /** First logits: the input of single-matrix operations, P (teacher) of the divergences. */
  first: Float32Array;
  /** Second logits: Q (student) of the divergences and the student of the distillation loss. */
  second: Float32Array;
  /** Class labels, `IGNORE_INDEX` for rows to skip. */
  labels: Int32Array;
}

/** Result of an operation: a reduced loss, an array, or a loss with its gradient. */
export type OpOutput = number | Float32Array | { loss: number; grad: Float32Array };

/** Benchmark operation. */
export interface OpDefinition {
  /** Name used in `--ops`, the table and the JSON records. */
  name: string;
  /** The `LogitKit` method and non-default options, for the help text and the JSON. */
  call: string;
  /** Whether the call writes into a buffer allocated once, outside the timing. */
  preallocatedOut: boolean;
  /** Binds the operation to a backend and inputs; the returned function runs one call. */
  bind(kit: LogitKit, input: OpInput): () => OpOutput;
}

/** Temperature and weight of the distillation loss in every case. */
export const DISTILLATION_TEMPERATURE = 2;
export const DISTILLATION_ALPHA = 0.5;

/** Mixture weight of the Jensen-Shannon divergence in every case. */
export const JS_BETA = 0.5;

function defineOp(
  name: string,
  call: string,
  bind: OpDefinition["bind"],
  preallocatedOut = false,
): OpDefinition {
  return { name, call, bind, preallocatedOut };
}

/** Every operation the benchmark can time, in table order. */
export const OPS: readonly OpDefinition[] = [
  defineOp(
    "softmax",
    "softmax(first) with out",
    (kit, { first, classes }) => {
      const out = new Float32Array(first.length);
      return () => kit.softmax(first, { classes, out });
    },
    true,
  ),
  defineOp(
    "logSoftmax",
    "logSoftmax(first) with out",
    (kit, { first, classes }) => {
      const out = new Float32Array(first.length);
      return () => kit.logSoftmax(first, { classes, out });
    },
    true,
  ),
  defineOp(
    "logSumExp",
    "logSumExp(first) with out",
    (kit, { first, rows, classes }) => {
      const out = new Float32Array(rows);
      return () => kit.logSumExp(first, { classes, out });
    },
    true,
  ),
  defineOp("entropyOfLogits", "entropyOfLogits(first)", (kit, { first, classes }) => {
    return () => kit.entropyOfLogits(first, { classes });
  }),
  defineOp("entropyOfLogitsWithGrad", "entropyOfLogitsWithGrad(first)", (kit, { first, classes }) => {
    return () => kit.entropyOfLogitsWithGrad(first, { classes });
  }),
  defineOp("crossEntropy", "crossEntropy(first, labels)", (kit, { first, labels, classes }) => {
    return () => kit.crossEntropy(first, labels, { classes, ignoreIndex: IGNORE_INDEX });
  }),
  defineOp("crossEntropyWithGrad", "crossEntropyWithGrad(first, labels)", (kit, { first, labels, classes }) => {
    return () => kit.crossEntropyWithGrad(first, labels, { classes, ignoreIndex: IGNORE_INDEX });
  }),
  defineOp("klDivergence", "klDivergence(first, second), T = 1", (kit, { first, second, classes }) => {
    return () => kit.klDivergence(first, second, { classes });
  }),
  defineOp("klDivergenceWithGrad", "klDivergenceWithGrad(first, second), T = 1", (kit, { first, second, classes }) => {
    return () => kit.klDivergenceWithGrad(first, second, { classes });
  }),
  defineOp("klDivergenceT2", "klDivergence(first, second), T = 2", (kit, { first, second, classes }) => {
    return () => kit.klDivergence(first, second, { classes, temperature: 2 });
  }),
  defineOp(
    "klDivergenceWithGradT2",
    "klDivergenceWithGrad(first, second), T = 2",
    (kit, { first, second, classes }) => {
      return () => kit.klDivergenceWithGrad(first, second, { classes, temperature: 2 });
    },
  ),
  defineOp("jsDivergence", `jsDivergence(first, second), beta = ${JS_BETA}`, (kit, { first, second, classes }) => {
    return () => kit.jsDivergence(first, second, { classes, beta: JS_BETA });
  }),
  defineOp(
    "jsDivergenceWithGrad",
    `jsDivergenceWithGrad(first, second), beta = ${JS_BETA}`,
    (kit, { first, second, classes }) => {
      return () => kit.jsDivergenceWithGrad(first, second, { classes, beta: JS_BETA });
    },
  ),
  defineOp(
    "distillationLoss",
    `distillationLoss(student = second, teacher = first, labels), T = ${DISTILLATION_TEMPERATURE}, alpha = ${DISTILLATION_ALPHA}`,
    (kit, { first, second, labels, classes }) => {
      const options = distillationOptions(classes, labels);
      return () => kit.distillationLoss(second, first, options);
    },
  ),
  defineOp(
    "distillationLossWithGrad",
    `distillationLossWithGrad(student = second, teacher = first, labels), T = ${DISTILLATION_TEMPERATURE}, alpha = ${DISTILLATION_ALPHA}`,
    (kit, { first, second, labels, classes }) => {
      const options = distillationOptions(classes, labels);
      return () => kit.distillationLossWithGrad(second, first, options);
    },
  ),
  // The same calls on logits placed in WebAssembly memory once by kit.upload, outside the
  // timing: the difference to the rows above is the cost of copying the logits in.
  defineOp(
    "softmaxUploaded",
    "softmax(upload(first)) with out",
    (kit, { first, classes }) => {
      const logits = kit.upload(first, { classes });
      const out = new Float32Array(first.length);
      return () => kit.softmax(logits, { classes, out });
    },
    true,
  ),
  defineOp("crossEntropyUploaded", "crossEntropy(upload(first), labels)", (kit, { first, labels, classes }) => {
    const logits = kit.upload(first, { classes });
    return () => kit.crossEntropy(logits, labels, { classes, ignoreIndex: IGNORE_INDEX });
  }),
  defineOp(
    "crossEntropyWithGradUploaded",
    "crossEntropyWithGrad(upload(first), labels)",
    (kit, { first, labels, classes }) => {
      const logits = kit.upload(first, { classes });
      return () => kit.crossEntropyWithGrad(logits, labels, { classes, ignoreIndex: IGNORE_INDEX });
    },
  ),
];

function distillationOptions(classes: number, labels: Int32Array) {
  return {
    classes,
    temperature: DISTILLATION_TEMPERATURE,
    alpha: DISTILLATION_ALPHA,
    labels,
    ignoreIndex: IGNORE_INDEX,
  };
}

/** Names of every operation, in table order. */
export const OP_NAMES: readonly string[] = OPS.map((op) => op.name);

/** Operations timed on the random logits by default. */
export const DEFAULT_RANDOM_OPS: readonly string[] = [
  "softmax",
  "logSoftmax",
  "crossEntropy",
  "crossEntropyWithGrad",
  "klDivergenceWithGrad",
  "softmaxUploaded",
  "crossEntropyWithGradUploaded",
];

/** Operations timed on the real logits by default: every one except `logSumExp` and the uploaded variants. */
export const DEFAULT_REAL_OPS: readonly string[] = OP_NAMES.filter(
  (name) => name !== "logSumExp" && !name.endsWith("Uploaded"),
);

/** Returns the operation called `name`; throws a `RangeError` naming the known ones otherwise. */
export function findOp(name: string): OpDefinition {
  const op = OPS.find((candidate) => candidate.name === name);
  if (op === undefined) {
    throw new RangeError(`unknown operation "${name}", expected one of ${OP_NAMES.join(", ")}`);
  }
  return op;
}
