export { loadLogitKit } from "./load.js";
export type { LogitKit } from "./api.js";
export type {
  BackendName,
  BackendRequest,
  CrossEntropyOptions,
  DistillationOptions,
  EntropyOfLogitsOptions,
  GradOutputOptions,
  JsDivergenceOptions,
  KlDivergenceOptions,
  Labels,
  LoadOptions,
  LossWithGrad,
  ProbsOptions,
  Reduced,
  Reduction,
  ShapeOptions,
  SoftmaxOptions,
} from "./types.js";
