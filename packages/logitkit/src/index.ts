export { loadLogitKit } from "./load.js";
export { loadLogitKitWorker } from "./worker-kit.js";
export type { LogitKit, VocabAccumulator } from "./api.js";
export type { LogitKitWorker } from "./worker-api.js";
export type {
  BackendName,
  BackendRequest,
  CrossEntropyOptions,
  DistillationOptions,
  DtypeOptions,
  EntropyOfLogitsOptions,
  Float16ArrayLike,
  GradOutOptions,
  GradOutputOptions,
  HalfLogitsInput,
  JsDivergenceOptions,
  KlDivergenceOptions,
  Labels,
  LoadOptions,
  LogitsDtype,
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
  VocabAddOptions,
  VocabState,
} from "./types.js";
