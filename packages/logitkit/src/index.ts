export { loadLogitKit } from "./load.js";
export { loadLogitKitWorker } from "./worker-kit.js";
export type { LogitKit, VocabAccumulator } from "./api.js";
export type { LogitKitWorker } from "./worker-api.js";
export type {
  BackendName,
  BackendRequest,
  CrossEntropyOptions,
  DistillationOptions,
  EntropyOfLogitsOptions,
  GradOutOptions,
  GradOutputOptions,
  JsDivergenceOptions,
  KlDivergenceOptions,
  Labels,
  LoadOptions,
  LogitsInput,
  LossWithGrad,
  ProbsInput,
  ProbsOptions,
  Reduced,
  Reduction,
  ShapeOptions,
  SoftmaxOptions,
  TopKDistillationOptions,
  UploadedLogits,
  VocabAccumulatorOptions,
  VocabState,
} from "./types.js";
