/**
 * Maps one reference case to calls of the public API. Every input, option and expected field
 * that a case may carry is listed per operation. Anything else throws, so a new field in the
 * vectors fails the run instead of being skipped.
 */
import type { LogitKit } from "../src/index.js";
import type { Value, VectorCase } from "./vectors-format.js";

interface OpSpec {
  inputs: string[];
  optionalInputs?: string[];
  options: string[];
  expected: string[];
}

const OPS: Record<string, OpSpec> = {
  softmax: { inputs: ["logits"], options: ["temperature"], expected: ["probs"] },
  log_softmax: { inputs: ["logits"], options: ["temperature"], expected: ["logProbs"] },
  logsumexp: { inputs: ["logits"], options: ["temperature"], expected: ["lse"] },
  entropy: { inputs: ["probs"], options: ["reduction"], expected: ["value"] },
  cross_entropy_probs: { inputs: ["p", "q"], options: ["reduction"], expected: ["value"] },
  kl_div_probs: { inputs: ["p", "q"], options: ["reduction"], expected: ["value"] },
  entropy_logits: { inputs: ["logits"], options: ["temperature", "reduction"], expected: ["value", "gradLogits"] },
  cross_entropy: {
    inputs: ["logits"],
    optionalInputs: ["labels", "targetProbs"],
    options: ["reduction", "weight", "ignoreIndex", "labelSmoothing", "temperature", "gradOutput"],
    expected: ["loss", "gradLogits"],
  },
  kl_div_logits: { inputs: ["pLogits", "qLogits"], options: ["temperature", "reduction"], expected: ["loss", "gradQLogits"] },
  js_divergence: {
    inputs: ["pLogits", "qLogits"],
    options: ["beta", "temperature", "reduction"],
    expected: ["loss", "gradQLogits"],
  },
  distillation_loss: {
    inputs: ["studentLogits", "teacherLogits"],
    optionalInputs: ["labels"],
    options: ["temperature", "alpha", "ignoreIndex"],
    expected: ["loss", "gradStudentLogits"],
  },
};

/** One computed output of a case, to compare with `expected[field]`. */
export interface Outcome {
  field: string;
  call: string;
  actual: number | ArrayLike<number>;
}

/** Throws when the case carries an op, input, option or expected field that the runner does not know. */
export function checkCaseFields(c: VectorCase): void {
  const spec = OPS[c.op];
  if (spec === undefined) throw new Error(`${c.id}: unknown op "${c.op}"`);
  const inputs = [...spec.inputs, ...(spec.optionalInputs ?? [])];
  for (const key of Object.keys(c.inputs)) if (!inputs.includes(key)) throw new Error(`${c.id}: unknown input "${key}"`);
  for (const key of spec.inputs) if (!(key in c.inputs)) throw new Error(`${c.id}: missing input "${key}"`);
  for (const key of Object.keys(c.options)) {
    if (!spec.options.includes(key)) throw new Error(`${c.id}: unknown option "${key}" for op ${c.op}`);
  }
  for (const key of Object.keys(c.expected)) {
    if (!spec.expected.includes(key)) throw new Error(`${c.id}: unknown expected field "${key}"`);
  }
  if (c.op === "cross_entropy" && ("labels" in c.inputs) === ("targetProbs" in c.inputs)) {
    throw new Error(`${c.id}: cross_entropy needs exactly one of labels and targetProbs`);
  }
}

const f32 = (v: Value): Float32Array => Float32Array.from(v as number[]);

/** Runs the forward call and, for losses, the fused call with gradient. */
export function runCase(kit: LogitKit, c: VectorCase): Outcome[] {
  checkCaseFields(c);
  const { inputs, options } = c;
  const classes = c.classes;
  const scalar = (name: string) => (options[name] === undefined ? {} : { [name]: options[name] as number });
  const reduction = options.reduction === undefined ? {} : { reduction: options.reduction as "none" };

  switch (c.op) {
    case "softmax":
      return [{ field: "probs", call: "softmax", actual: kit.softmax(f32(inputs.logits), { classes, ...scalar("temperature") }) }];
    case "log_softmax":
      return [
        { field: "logProbs", call: "logSoftmax", actual: kit.logSoftmax(f32(inputs.logits), { classes, ...scalar("temperature") }) },
      ];
    case "logsumexp":
      return [{ field: "lse", call: "logSumExp", actual: kit.logSumExp(f32(inputs.logits), { classes, ...scalar("temperature") }) }];
    case "entropy":
      return [{ field: "value", call: "entropy", actual: kit.entropy(f32(inputs.probs), { classes, ...reduction }) }];
    case "cross_entropy_probs":
      return [
        {
          field: "value",
          call: "crossEntropyOfProbs",
          actual: kit.crossEntropyOfProbs(f32(inputs.p), f32(inputs.q), { classes, ...reduction }),
        },
      ];
    case "kl_div_probs":
      return [
        {
          field: "value",
          call: "klDivergenceOfProbs",
          actual: kit.klDivergenceOfProbs(f32(inputs.p), f32(inputs.q), { classes, ...reduction }),
        },
      ];
    case "entropy_logits": {
      const o = { classes, ...reduction, ...scalar("temperature") };
      const fused = kit.entropyOfLogitsWithGrad(f32(inputs.logits), o);
      return [
        { field: "value", call: "entropyOfLogits", actual: kit.entropyOfLogits(f32(inputs.logits), o) },
        { field: "value", call: "entropyOfLogitsWithGrad", actual: fused.loss },
        { field: "gradLogits", call: "entropyOfLogitsWithGrad", actual: fused.grad },
      ];
    }
    case "cross_entropy": {
      const target = inputs.labels !== undefined ? Int32Array.from(inputs.labels as number[]) : f32(inputs.targetProbs);
      const o = {
        classes,
        ...reduction,
        ...scalar("temperature"),
        ...scalar("labelSmoothing"),
        ...(inputs.labels !== undefined ? scalar("ignoreIndex") : {}),
        ...(options.weight === undefined ? {} : { weight: f32(options.weight) }),
      };
      const gradOutput = options.gradOutput === undefined ? {} : { gradOutput: f32(options.gradOutput) };
      const fused = kit.crossEntropyWithGrad(f32(inputs.logits), target, { ...o, ...gradOutput });
      return [
        { field: "loss", call: "crossEntropy", actual: kit.crossEntropy(f32(inputs.logits), target, o) },
        { field: "loss", call: "crossEntropyWithGrad", actual: fused.loss },
        { field: "gradLogits", call: "crossEntropyWithGrad", actual: fused.grad },
      ];
    }
    case "kl_div_logits": {
      const o = { classes, ...reduction, ...scalar("temperature") };
      const fused = kit.klDivergenceWithGrad(f32(inputs.pLogits), f32(inputs.qLogits), o);
      return [
        { field: "loss", call: "klDivergence", actual: kit.klDivergence(f32(inputs.pLogits), f32(inputs.qLogits), o) },
        { field: "loss", call: "klDivergenceWithGrad", actual: fused.loss },
        { field: "gradQLogits", call: "klDivergenceWithGrad", actual: fused.grad },
      ];
    }
    case "js_divergence": {
      const o = { classes, ...reduction, ...scalar("temperature"), ...scalar("beta") };
      const fused = kit.jsDivergenceWithGrad(f32(inputs.pLogits), f32(inputs.qLogits), o);
      return [
        { field: "loss", call: "jsDivergence", actual: kit.jsDivergence(f32(inputs.pLogits), f32(inputs.qLogits), o) },
        { field: "loss", call: "jsDivergenceWithGrad", actual: fused.loss },
        { field: "gradQLogits", call: "jsDivergenceWithGrad", actual: fused.grad },
      ];
    }
    case "distillation_loss": {
      const o = {
        classes,
        ...scalar("temperature"),
        ...scalar("alpha"),
        ...scalar("ignoreIndex"),
        ...(inputs.labels === undefined ? {} : { labels: Int32Array.from(inputs.labels as number[]) }),
      };
      const fused = kit.distillationLossWithGrad(f32(inputs.studentLogits), f32(inputs.teacherLogits), o);
      return [
        {
          field: "loss",
          call: "distillationLoss",
          actual: kit.distillationLoss(f32(inputs.studentLogits), f32(inputs.teacherLogits), o),
        },
        { field: "loss", call: "distillationLossWithGrad", actual: fused.loss },
        { field: "gradStudentLogits", call: "distillationLossWithGrad", actual: fused.grad },
      ];
    }
    default:
      throw new Error(`${c.id}: unknown op "${c.op}"`);
  }
}

/**
 * Compares an outcome with the expected value. A non-finite expected value must match exactly;
 * a finite one within atol + rtol * |expected|. Returns a description of the first mismatch.
 */
export function mismatch(actual: number | ArrayLike<number>, expected: Value, tolerance: { rtol: number; atol: number }): string | null {
  const a = typeof actual === "number" ? [actual] : Array.from(actual);
  if (typeof expected === "string") return `expected value is the string ${expected}`;
  const e = typeof expected === "number" ? [expected] : expected;
  if (a.length !== e.length) return `length ${a.length}, expected ${e.length}`;

  for (let i = 0; i < e.length; i++) {
    const want = e[i];
    const got = a[i];
    if (!Number.isFinite(want)) {
      if (!Object.is(got, want) && !(Number.isNaN(want) && Number.isNaN(got))) return `[${i}] = ${got}, expected ${want}`;
      continue;
    }
    if (!(Math.abs(got - want) <= tolerance.atol + tolerance.rtol * Math.abs(want))) {
      return `[${i}] = ${got}, expected ${want} (|diff| ${Math.abs(got - want)})`;
    }
  }
  return null;
}
