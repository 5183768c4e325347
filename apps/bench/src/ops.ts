/**
 * Operations that the benchmark times, each bound to one backend and one set of inputs.
 */
import type { LogitKit, UploadedLogits } from "logitkit";
import { IGNORE_INDEX } from "./real-data.js";

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

/**
 * Result of an operation: a reduced loss, an array, or a loss with its gradient. The arrays of
 * the resident operations stay in backend memory as handles.
 */
export type OpOutput =
  | number
  | Float32Array
  | UploadedLogits
  | { loss: number; grad: Float32Array | UploadedLogits };

/** Benchmark operation. */
export interface OpDefinition {
  /** Name used in `--ops`, the table and the JSON records. */
  name: string;
  /** The `LogitKit` method and non-default options, for the help text and the JSON. */
  call: string;
  /** Whether the call writes into a buffer allocated once, outside the timing. */
  preallocatedOut: boolean;
  /** Operation of the peer libraries timed in the same case, when they implement one. */
  peerOp: string | null;
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
  peerOp: string | null = name,
): OpDefinition {
  return { name, call, bind, preallocatedOut, peerOp };
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
  defineOp(
    "topK20DistillationWithGrad",
    "topKDistillationLossWithGrad(student = second, top 20 of first as log-probabilities, labels), bucket tail",
    (kit, input) => bindTopKDistillation(kit, input, 20),
    false,
    null,
  ),
  defineOp(
    "topK100DistillationWithGrad",
    "topKDistillationLossWithGrad(student = second, top 100 of first as log-probabilities, labels), bucket tail",
    (kit, input) => bindTopKDistillation(kit, input, 100),
    false,
    null,
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
    "softmax",
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
  // Input uploaded and output kept in backend memory (kit.alloc), both outside the timing: no
  // copy in or out, so the time is the kernel's plus the call's validation.
  defineOp(
    "softmaxResident",
    "softmax(upload(first)) into alloc",
    (kit, { first, classes }) => {
      const logits = kit.upload(first, { classes });
      const out = kit.alloc(first.length, { classes });
      return () => kit.softmax(logits, { classes, out });
    },
    true,
    "softmax",
  ),
  defineOp(
    "logSoftmaxResident",
    "logSoftmax(upload(first)) into alloc",
    (kit, { first, classes }) => {
      const logits = kit.upload(first, { classes });
      const out = kit.alloc(first.length, { classes });
      return () => kit.logSoftmax(logits, { classes, out });
    },
    true,
    "logSoftmax",
  ),
  // A chain of two calls: softmax, then the entropy of its probabilities. The array version
  // copies the logits in, the probabilities out and back in; the resident one copies nothing.
  defineOp(
    "softmaxEntropy",
    "entropy(softmax(first) with out)",
    (kit, { first, classes }) => {
      const probs = new Float32Array(first.length);
      return () => kit.entropy(kit.softmax(first, { classes, out: probs }), { classes });
    },
    true,
    null,
  ),
  defineOp(
    "softmaxEntropyResident",
    "entropy(softmax(upload(first)) into alloc)",
    (kit, { first, classes }) => {
      const logits = kit.upload(first, { classes });
      const probs = kit.alloc(first.length, { classes });
      return () => kit.entropy(kit.softmax(logits, { classes, out: probs }), { classes });
    },
    true,
    null,
  ),
  defineOp(
    "crossEntropyWithGradResident",
    "crossEntropyWithGrad(upload(first), labels) with gradOut alloc",
    (kit, { first, labels, classes }) => {
      const logits = kit.upload(first, { classes });
      const grad = kit.alloc(first.length, { classes });
      return () => kit.crossEntropyWithGrad(logits, labels, { classes, ignoreIndex: IGNORE_INDEX, gradOut: grad });
    },
    true,
    null,
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

/**
 * Binds top-k distillation to a teacher that returns the k most probable tokens of each row of
 * `first` with their log-probabilities, as an inference server would. Finding them (a sort of
 * each row and a logsumexp) runs once, outside the timing.
 */
function bindTopKDistillation(kit: LogitKit, { first, second, labels, rows, classes }: OpInput, k: number): () => OpOutput {
  const top = Math.min(k, classes);
  const indices = new Int32Array(rows * top);
  const values = new Float32Array(rows * top);
  const order = Array.from({ length: classes }, (_, i) => i);
  for (let r = 0; r < rows; r++) {
    const row = first.subarray(r * classes, (r + 1) * classes);
    const lse = kit.logSumExp(row, { classes })[0];
    order.sort((a, b) => row[b] - row[a] || a - b);
    for (let j = 0; j < top; j++) {
      indices[r * top + j] = order[j];
      values[r * top + j] = Math.min(0, row[order[j]] - lse);
    }
  }

  const options = { classes, tail: "bucket" as const, alpha: DISTILLATION_ALPHA, labels, ignoreIndex: IGNORE_INDEX };
  return () => kit.topKDistillationLossWithGrad(second, indices, values, options);
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
  "softmaxResident",
  "crossEntropyWithGradUploaded",
  "crossEntropyWithGradResident",
];

/**
 * Operations timed on the real logits by default: every one except `logSumExp`, the chain and
 * the uploaded and resident variants.
 */
export const DEFAULT_REAL_OPS: readonly string[] = OP_NAMES.filter(
  (name) => name !== "logSumExp" && !name.startsWith("softmaxEntropy") && !name.endsWith("Uploaded") && !name.endsWith("Resident"),
);

/** Returns the operation called `name`; throws a `RangeError` naming the known ones otherwise. */
export function findOp(name: string): OpDefinition {
  const op = OPS.find((candidate) => candidate.name === name);
  if (op === undefined) {
    throw new RangeError(`unknown operation "${name}", expected one of ${OP_NAMES.join(", ")}`);
  }
  return op;
}
