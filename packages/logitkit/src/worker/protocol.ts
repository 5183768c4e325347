/**
 * Messages between a `LogitKitWorker` and its worker thread. The worker runs a whole kit, so
 * every call is a method name with its arguments, and the reply carries the same `id`.
 */
import type { CheckedLoadOptions } from "../create.js";

/**
 * The methods a `LogitKitWorker` forwards, with the names of their arguments as the kit's error
 * messages spell them. The last argument of each is its options.
 */
export const WORKER_METHODS = {
  softmax: ["logits"],
  logSoftmax: ["logits"],
  logSumExp: ["logits"],
  entropy: ["probs"],
  crossEntropyOfProbs: ["p", "q"],
  klDivergenceOfProbs: ["p", "q"],
  entropyOfLogits: ["logits"],
  entropyOfLogitsWithGrad: ["logits"],
  crossEntropy: ["logits", "target"],
  crossEntropyWithGrad: ["logits", "target"],
  klDivergence: ["pLogits", "qLogits"],
  klDivergenceWithGrad: ["pLogits", "qLogits"],
  jsDivergence: ["pLogits", "qLogits"],
  jsDivergenceWithGrad: ["pLogits", "qLogits"],
  distillationLoss: ["studentLogits", "teacherLogits"],
  distillationLossWithGrad: ["studentLogits", "teacherLogits"],
  topKDistillationLoss: ["studentLogits", "teacherIndices", "teacherValues"],
  topKDistillationLossWithGrad: ["studentLogits", "teacherIndices", "teacherValues"],
} as const;

export type WorkerMethod = keyof typeof WORKER_METHODS;

/**
 * First message to the worker. The calling thread compiles the kernels and sends the modules, so
 * the worker's bundle carries no WebAssembly bytes. A module that failed to compile is replaced
 * by the compile error's message, which the worker reports as `loadLogitKit` would.
 */
export interface InitMessage {
  type: "init";
  options: CheckedLoadOptions;
  modules: Array<WebAssembly.Module | string>;
}

export interface CallMessage {
  type: "call";
  id: number;
  method: WorkerMethod;
  args: unknown[];
}

/** State of the worker's kit, sent with every reply because the thread pool can stop or restart. */
export interface KitState {
  backend: "wasm" | "js";
  fallbackReason: string | undefined;
  threads: number;
  threadsReason: string | undefined;
}

export type WorkerReply =
  | ({ type: "ready" } & KitState)
  | { type: "failed"; name: string; message: string }
  | ({ type: "result"; id: number; value: unknown } & KitState)
  | ({ type: "error"; id: number; name: string; message: string } & KitState);
