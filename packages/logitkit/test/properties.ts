/**
 * Property definitions shared by the property tests (properties.test.ts) and the fuzz script
 * (fuzz.ts). Each property draws random shapes, scales, temperatures, masks and options, runs
 * one backend's kit (or both, for agreement) and throws an Error that names the first broken
 * check. The float64 oracle in reference.ts gives the expected values.
 */
import fc from "fast-check";
import type { LogitKit } from "../src/index.js";
import {
  crossEntropyLabelsReduced64,
  crossEntropyTargetsReduced64,
  distillationReduced64,
  entropyOfLogitsReduced64,
  logSoftmax64,
  jsDivergenceReduced64,
  klDivergenceReduced64,
  numericGradMatrix,
  rowsOf,
  topKDistillationReduced64,
  type Reduced64,
  type Reduction64,
} from "./reference.js";
import { mismatch } from "./run-case.js";

/** The kits under test: `wasm` must run the SIMD kernels on every size (see properties.test.ts). */
export interface Kits {
  js: LogitKit;
  wasm: LogitKit;
}

export type BackendKey = keyof Kits;

/** One property on one backend (or on both for `backend: "both"`), ready for fc.assert or fc.check. */
export interface NamedProperty {
  name: string;
  backend: BackendKey | "both";
  property: fc.IProperty<[Case]>;
}

// Tolerances of the reference-vector cases (vectors.test.ts), per operation: a float32 result r of
// a backend must satisfy |r - e| <= atol + rtol |e| against the float64 value e. Gradients use
// the tolerance of their loss, as the vectors do.
interface Tolerance {
  rtol: number;
  atol: number;
}
export const TOLERANCE: Record<string, Tolerance> = {
  softmax: { rtol: 1e-5, atol: 1e-7 },
  logSoftmax: { rtol: 1e-6, atol: 1e-5 },
  logSumExp: { rtol: 1e-6, atol: 1e-6 },
  probs: { rtol: 1e-5, atol: 1e-6 },
  entropyOfLogits: { rtol: 2e-5, atol: 1e-6 },
  crossEntropy: { rtol: 2e-5, atol: 1e-6 },
  klDivergence: { rtol: 2e-5, atol: 1e-6 },
  jsDivergence: { rtol: 5e-5, atol: 1e-6 },
  distillation: { rtol: 5e-5, atol: 1e-6 },
};

/** Twice a tolerance: two results each within `t` of the same float64 value are within 2t of each other. */
function doubled(t: Tolerance): Tolerance {
  return { rtol: 2 * t.rtol, atol: 2 * t.atol };
}

const REDUCTIONS: readonly Reduction64[] = ["none", "sum", "mean", "batchmean"];

/** The default ignoreIndex of the library, used for the ignored rows. */
const IGNORE_INDEX = -100;

/**
 * One random input. `z` (logits, student, q) and `p` (teacher, p logits) share the mask
 * `masked` where a property needs common support; `pMasked` masks p alone.
 */
export interface Case {
  rows: number;
  classes: number;
  temperature: number;
  z: Float32Array;
  p: Float32Array;
  /** Class c of row r is masked (-Infinity) when masked[r * classes + c]. */
  masked: boolean[];
  /** Masks of `p` alone, for the properties that allow different supports. */
  pMasked: boolean[];
  /** Rows masked completely (every class -Infinity). */
  maskedRows: boolean[];
  /** Per-row constant added by the shift-invariance property. */
  shifts: number[];
  labels: number[];
  /** Rows whose label becomes ignoreIndex. */
  ignoredRows: boolean[];
  /**
   * Class weights in [0.05, 3]. Zero weights, whose label term adds 0 even on a masked label,
   * have their own test in nonfinite-rows.test.ts.
   */
  weight: number[] | undefined;
  labelSmoothing: number;
  reduction: Reduction64;
  gradOutput: number[];
  beta: number;
  alpha: number;
  withLabels: boolean;
  /** Position of the NaN of the NaN property: row, class, and which input gets it. */
  nanRow: number;
  nanClass: number;
  nanInP: boolean;
}

/** Log-uniform double in [min, max]. */
function logUniform(min: number, max: number): fc.Arbitrary<number> {
  return fc.double({ min: Math.log(min), max: Math.log(max), noNaN: true }).map(Math.exp);
}

// Classes 1 to 17 and lengths around multiples of 4 and 16 (the SIMD width is 4 floats and the
// main loops run 16 wide), plus a few long rows that cross several loop iterations.
const CLASSES = fc.oneof(
  { weight: 10, arbitrary: fc.integer({ min: 1, max: 17 }) },
  { weight: 4, arbitrary: fc.constantFrom(19, 20, 21, 31, 32, 33, 35, 47, 48, 49, 63, 64, 65, 67) },
  { weight: 1, arbitrary: fc.integer({ min: 68, max: 260 }) },
);

/** Uniform values with standard deviation 1 (|x| <= sqrt 3), so `scale` is the logit std. */
const UNIT = fc.double({ min: -Math.sqrt(3), max: Math.sqrt(3), noNaN: true });

/** Flags that are true with probability about `percent` / 100. */
function flags(length: number, percent: number): fc.Arbitrary<boolean[]> {
  return fc.array(fc.integer({ min: 0, max: 99 }).map((v) => v < percent), { minLength: length, maxLength: length });
}

/** Unmasks the first class of each row whose classes are all masked: only `maskedRows` masks whole rows. */
function keepOneClassPerRow(masked: boolean[], classes: number): boolean[] {
  const out = masked.slice();
  for (let start = 0; start < out.length; start += classes) {
    if (out.slice(start, start + classes).every(Boolean)) out[start] = false;
  }
  return out;
}

/** Arbitrary of a Case: 1 to 4 rows of 1 to 260 classes, or a single row above 64 classes. */
export function caseArbitrary(): fc.Arbitrary<Case> {
  return fc.record({ classes: CLASSES, rows: fc.integer({ min: 1, max: 4 }) }).chain(({ classes, rows: wanted }) => {
    const rows = classes > 64 ? 1 : wanted;
    const n = rows * classes;
    return fc
      .record({
        scale: logUniform(1e-3, 30),
        temperature: logUniform(0.1, 10),
        zUnit: fc.array(UNIT, { minLength: n, maxLength: n }),
        pUnit: fc.array(UNIT, { minLength: n, maxLength: n }),
        pScale: logUniform(1e-3, 30),
        withMasks: fc.boolean(),
        masked: flags(n, 20),
        pMasked: flags(n, 20),
        maskedRows: flags(rows, 15),
        shifts: fc.array(fc.double({ min: -100, max: 100, noNaN: true }), { minLength: rows, maxLength: rows }),
        labels: fc.array(fc.integer({ min: 0, max: classes - 1 }), { minLength: rows, maxLength: rows }),
        ignoredRows: flags(rows, 20),
        weight: fc.option(fc.array(fc.double({ min: 0.05, max: 3, noNaN: true }), { minLength: classes, maxLength: classes })),
        labelSmoothing: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 1, noNaN: true })),
        reduction: fc.constantFrom(...REDUCTIONS),
        gradOutput: fc.array(fc.double({ min: -2, max: 2, noNaN: true }), { minLength: rows, maxLength: rows }),
        beta: fc.oneof(fc.constantFrom(0, 0.5, 1), fc.double({ min: 0, max: 1, noNaN: true })),
        alpha: fc.double({ min: 0, max: 1, noNaN: true }),
        withLabels: fc.boolean(),
        nanRow: fc.integer({ min: 0, max: rows - 1 }),
        nanClass: fc.integer({ min: 0, max: classes - 1 }),
        nanInP: fc.boolean(),
      })
      .map((r): Case => {
        const z = Float32Array.from(r.zUnit, (v) => v * r.scale);
        const p = Float32Array.from(r.pUnit, (v) => v * r.pScale);
        return {
          rows,
          classes,
          temperature: Math.fround(r.temperature),
          z,
          p,
          masked: r.withMasks ? keepOneClassPerRow(r.masked, classes) : r.masked.map(() => false),
          pMasked: r.withMasks ? keepOneClassPerRow(r.pMasked, classes) : r.pMasked.map(() => false),
          maskedRows: r.withMasks ? r.maskedRows : r.maskedRows.map(() => false),
          shifts: r.shifts,
          labels: r.labels,
          ignoredRows: r.ignoredRows,
          weight: r.weight ?? undefined,
          // Smoothing below 1e-30 is rejected by the library (see checkLabelSmoothing).
          labelSmoothing: Math.fround(r.labelSmoothing) < 1e-30 ? 0 : Math.fround(r.labelSmoothing),
          reduction: r.reduction,
          gradOutput: r.gradOutput.map(Math.fround),
          beta: Math.fround(r.beta),
          alpha: Math.fround(r.alpha),
          withLabels: r.withLabels,
          nanRow: r.nanRow,
          nanClass: r.nanClass,
          nanInP: r.nanInP,
        };
      });
  });
}

/** Copies `data` with -Infinity at the masked classes and in the masked rows. */
function applyMask(c: Case, data: Float32Array, masked: boolean[], maskedRows: boolean[] | null): Float32Array {
  const out = data.slice();
  for (let i = 0; i < out.length; i++) {
    const row = Math.floor(i / c.classes);
    if (masked[i] || (maskedRows !== null && maskedRows[row])) out[i] = -Infinity;
  }
  return out;
}

/** Throws `message` unless `condition` holds. */
function check(condition: boolean, message: () => string): void {
  if (!condition) throw new Error(message());
}

/** Checks that `actual` is within `t` of the float64 `expected`; non-finite values must match exactly. */
function checkClose(what: string, actual: number | ArrayLike<number>, expected: number | number[], t: Tolerance): void {
  const problem = mismatch(actual, expected, t);
  check(problem === null, () => `${what}: ${problem} (rtol ${t.rtol}, atol ${t.atol})`);
}

function isNaNValue(v: number): boolean {
  return Number.isNaN(v);
}

function labelsOf(c: Case): Int32Array {
  return Int32Array.from(c.labels, (y, r) => (c.ignoredRows[r] ? IGNORE_INDEX : y));
}

function weightOf(c: Case): Float32Array | undefined {
  return c.weight === undefined ? undefined : Float32Array.from(c.weight);
}

/** The weight as the float32 values the backends read. */
function weight64(c: Case): number[] | undefined {
  const w = weightOf(c);
  return w === undefined ? undefined : Array.from(w);
}

function gradOutputOption(c: Case): { gradOutput?: Float32Array } {
  return c.reduction === "none" ? { gradOutput: Float32Array.from(c.gradOutput) } : {};
}

// ---------------------------------------------------------------------------------------------
// Softmax: rows sum to 1 and do not change when a constant is added to a row.

function softmaxSumsToOne(kit: LogitKit, c: Case): void {
  const z = applyMask(c, c.z, c.masked, c.maskedRows);
  const probs = kit.softmax(z, { classes: c.classes, temperature: c.temperature });

  for (let r = 0; r < c.rows; r++) {
    const row = probs.subarray(r * c.classes, (r + 1) * c.classes);
    const allMasked = z.subarray(r * c.classes, (r + 1) * c.classes).every((v) => v === -Infinity);
    if (allMasked) {
      check(row.every(isNaNValue), () => `softmax of the all-masked row ${r} is ${Array.from(row)}, expected NaN`);
      continue;
    }

    // p_i = e_i / s with s summed in float64 from the same e_i, so the errors of exp cancel in
    // the sum. What remains is the rounding of 1 / s (or of the division) and of each p_i to
    // float32: at most 2 ulp of each p_i, 2 * 2^-24 * sum p_i. 8 * 2^-24 = 4.8e-7 leaves room
    // for a reciprocal computed by one Newton step.
    let sum = 0;
    for (const v of row) sum += v;
    check(Math.abs(sum - 1) <= 8 * 2 ** -24, () => `softmax row ${r} sums to ${sum}, |sum - 1| = ${Math.abs(sum - 1)} > 8 * 2^-24`);
  }
}

function softmaxShiftInvariant(kit: LogitKit, c: Case): void {
  const z = applyMask(c, c.z, c.masked, null);
  const shifted = z.slice();
  let worstRounding = 0;
  for (let i = 0; i < z.length; i++) {
    const exact = z[i] + c.shifts[Math.floor(i / c.classes)];
    shifted[i] = exact;
    if (Number.isFinite(exact)) worstRounding = Math.max(worstRounding, Math.abs(shifted[i] - exact));
  }

  const o = { classes: c.classes, temperature: c.temperature };
  const before = kit.softmax(z, o);
  const after = kit.softmax(shifted, o);

  // Rounding z + s to float32 moves each logit by at most `worstRounding`, so each difference
  // z_i - z_j by twice that, and each exact probability by a factor within exp(+-2 d / T).
  // Both results are within the softmax tolerance of their exact values.
  const drift = Math.expm1((2 * worstRounding) / c.temperature);
  const t = TOLERANCE.softmax;
  for (let i = 0; i < z.length; i++) {
    const bound = before[i] * drift + 2 * (t.atol + t.rtol * before[i]) * (1 + drift);
    check(
      Math.abs(after[i] - before[i]) <= bound,
      () => `softmax[${i}] is ${before[i]}, and ${after[i]} after the shift (|diff| ${Math.abs(after[i] - before[i])} > ${bound})`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Information identities: H(P, Q) = H(P) + KL(P ‖ Q), KL >= 0, KL(P ‖ P) = 0, JSD in [0, log 2].

function crossEntropyIdentity(kit: LogitKit, c: Case): void {
  // Common support keeps the three terms finite; all-masked rows are NaN in all three.
  const q = applyMask(c, c.z, c.masked, c.maskedRows);
  const p = applyMask(c, c.p, c.masked, c.maskedRows);
  const o = { classes: c.classes, temperature: c.temperature };
  const target = kit.softmax(p, o);
  const ce = kit.crossEntropy(q, target, { ...o, reduction: "none" });
  const h = kit.entropy(target, { classes: c.classes, reduction: "none" });
  const kl = kit.klDivergence(p, q, { ...o, reduction: "none" });

  const tCe = TOLERANCE.crossEntropy;
  const tH = TOLERANCE.probs;
  const tKl = TOLERANCE.klDivergence;
  for (let r = 0; r < c.rows; r++) {
    if (c.maskedRows[r]) {
      check(isNaNValue(ce[r]) && isNaNValue(h[r]) && isNaNValue(kl[r]), () => `row ${r} is masked: CE ${ce[r]}, H ${h[r]}, KL ${kl[r]}`);
      continue;
    }

    // Each term is within its tolerance of the exact value. The target is softmax(p / T)
    // rounded to float32 (relative error rho <= the softmax rtol), which moves -sum t log q by
    // at most rho * CE and -sum t log t by at most rho * (H + 1); KL reads p itself.
    const rho = TOLERANCE.softmax.rtol;
    const bound =
      tCe.atol + tCe.rtol * Math.abs(ce[r]) + tH.atol + tH.rtol * Math.abs(h[r]) + tKl.atol + tKl.rtol * Math.abs(kl[r]) +
      rho * (Math.abs(ce[r]) + Math.abs(h[r]) + 1);
    const gap = Math.abs(ce[r] - (h[r] + kl[r]));
    check(gap <= bound, () => `row ${r}: H(P, Q) = ${ce[r]}, H(P) + KL = ${h[r]} + ${kl[r]} (|diff| ${gap} > ${bound})`);
  }
}

function divergenceRanges(kit: LogitKit, c: Case): void {
  // Independent masks: P and Q may have different, even disjoint, supports.
  const q = applyMask(c, c.z, c.masked, null);
  const p = applyMask(c, c.p, c.pMasked, null);
  const o = { classes: c.classes, temperature: c.temperature, reduction: "none" as const };

  const kl = kit.klDivergence(p, q, o);
  for (let r = 0; r < c.rows; r++) check(kl[r] >= 0, () => `KL row ${r} is ${kl[r]}, expected >= 0`);

  const self = kit.klDivergence(p, p, o);
  for (let r = 0; r < c.rows; r++) check(self[r] === 0, () => `KL(P ‖ P) row ${r} is ${self[r]}, expected 0`);

  const jsd = kit.jsDivergence(p, q, { ...o, beta: 0.5 });
  for (let r = 0; r < c.rows; r++) {
    check(jsd[r] >= 0 && jsd[r] <= Math.LN2, () => `JSD row ${r} at beta 0.5 is ${jsd[r]}, expected in [0, log 2]`);
  }
}

// ---------------------------------------------------------------------------------------------
// One-hot probability targets give the loss and gradient of the equivalent labels.

function oneHotMatchesLabels(kit: LogitKit, c: Case): void {
  const z = applyMask(c, c.z, c.masked, c.maskedRows);
  const oneHot = new Float32Array(z.length);
  c.labels.forEach((y, r) => (oneHot[r * c.classes + y] = 1));
  const o = {
    classes: c.classes,
    temperature: c.temperature,
    labelSmoothing: c.labelSmoothing,
    reduction: c.reduction,
    ...gradOutputOption(c),
  };

  const fromLabels = kit.crossEntropyWithGrad(z, c.labels, o);
  const fromTargets = kit.crossEntropyWithGrad(z, oneHot, o);
  const loss = (v: number | Float32Array) => (typeof v === "number" ? v : Array.from(v));
  const t = doubled(TOLERANCE.crossEntropy);
  checkClose("loss of one-hot targets against labels", fromTargets.loss, loss(fromLabels.loss), t);
  checkClose("gradient of one-hot targets against labels", fromTargets.grad, Array.from(fromLabels.grad), t);
}

// ---------------------------------------------------------------------------------------------
// The wasm and js backends agree on every operation.

interface Outcome {
  call: string;
  value: number | Float32Array;
  tolerance: Tolerance;
}

/** Runs every public operation on the case's inputs and options. */
function allOperations(kit: LogitKit, probsKit: LogitKit, c: Case): Outcome[] {
  const z = applyMask(c, c.z, c.masked, c.maskedRows);
  const p = applyMask(c, c.p, c.pMasked, c.maskedRows);
  const classes = c.classes;
  const temperature = c.temperature;
  const reduction = c.reduction;

  // Both backends read the same probabilities: the js softmax of the logits.
  const probsP = probsKit.softmax(p, { classes });
  const probsQ = probsKit.softmax(z, { classes });
  const labels = labelsOf(c);
  const ce = { classes, temperature, reduction, labelSmoothing: c.labelSmoothing, weight: weightOf(c), ignoreIndex: IGNORE_INDEX };
  const distill = { classes, temperature, alpha: c.alpha, ...(c.withLabels ? { labels } : {}) };
  const out: Outcome[] = [];
  const add = (call: string, tolerance: Tolerance, value: number | Float32Array) => out.push({ call, value, tolerance });
  const addGrad = (call: string, tolerance: Tolerance, result: { loss: number | Float32Array; grad: Float32Array }) => {
    add(`${call} loss`, tolerance, result.loss);
    add(`${call} grad`, tolerance, result.grad);
  };

  add("softmax", TOLERANCE.softmax, kit.softmax(z, { classes, temperature }));
  add("logSoftmax", TOLERANCE.logSoftmax, kit.logSoftmax(z, { classes, temperature }));
  add("logSumExp", TOLERANCE.logSumExp, kit.logSumExp(z, { classes, temperature }));
  add("entropy", TOLERANCE.probs, kit.entropy(probsP, { classes, reduction }));
  add("crossEntropyOfProbs", TOLERANCE.probs, kit.crossEntropyOfProbs(probsP, probsQ, { classes, reduction }));
  add("klDivergenceOfProbs", TOLERANCE.probs, kit.klDivergenceOfProbs(probsP, probsQ, { classes, reduction }));
  add("entropyOfLogits", TOLERANCE.entropyOfLogits, kit.entropyOfLogits(z, { classes, temperature, reduction }));
  addGrad(
    "entropyOfLogitsWithGrad",
    TOLERANCE.entropyOfLogits,
    kit.entropyOfLogitsWithGrad(z, { classes, temperature, reduction, ...gradOutputOption(c) }),
  );
  add("crossEntropy labels", TOLERANCE.crossEntropy, kit.crossEntropy(z, labels, ce));
  addGrad("crossEntropyWithGrad labels", TOLERANCE.crossEntropy, kit.crossEntropyWithGrad(z, labels, { ...ce, ...gradOutputOption(c) }));
  const { ignoreIndex: _unused, ...ceTargets } = ce;
  add("crossEntropy targets", TOLERANCE.crossEntropy, kit.crossEntropy(z, probsP, ceTargets));
  addGrad(
    "crossEntropyWithGrad targets",
    TOLERANCE.crossEntropy,
    kit.crossEntropyWithGrad(z, probsP, { ...ceTargets, ...gradOutputOption(c) }),
  );
  add("klDivergence", TOLERANCE.klDivergence, kit.klDivergence(p, z, { classes, temperature, reduction }));
  addGrad(
    "klDivergenceWithGrad",
    TOLERANCE.klDivergence,
    kit.klDivergenceWithGrad(p, z, { classes, temperature, reduction, ...gradOutputOption(c) }),
  );
  add("jsDivergence", TOLERANCE.jsDivergence, kit.jsDivergence(p, z, { classes, temperature, reduction, beta: c.beta }));
  addGrad(
    "jsDivergenceWithGrad",
    TOLERANCE.jsDivergence,
    kit.jsDivergenceWithGrad(p, z, { classes, temperature, reduction, beta: c.beta, ...gradOutputOption(c) }),
  );
  add("distillationLoss", TOLERANCE.distillation, kit.distillationLoss(z, p, distill));
  addGrad("distillationLossWithGrad", TOLERANCE.distillation, kit.distillationLossWithGrad(z, p, distill));
  const topK = topKTeacherOf(c, p);
  addGrad("topKDistillationLossWithGrad", TOLERANCE.distillation, kit.topKDistillationLossWithGrad(z, topK.indices, topK.values, topKOptions(c)));
  return out;
}

/**
 * Returns the teacher of top-k distillation for case `c`: the k largest logits of each row of
 * `teacher` in decreasing order, with their float32 log-probabilities over the row. The case's fields give
 * k = 1 + nanClass (1 to classes) and the tail (`bucket` when nanInP), so the case arbitrary
 * stays as the other properties draw it.
 */
function topKTeacherOf(c: Case, teacher: Float32Array): { k: number; indices: Int32Array; values: Float32Array } {
  const k = 1 + c.nanClass;
  const indices = new Int32Array(c.rows * k);
  const values = new Float32Array(c.rows * k);
  rowsOf(teacher, c.classes).forEach((row, r) => {
    const logP = logSoftmax64(row);
    const order = row.map((_, i) => i).sort((a, b) => row[b] - row[a] || a - b);
    for (let j = 0; j < k; j++) {
      indices[r * k + j] = order[j];
      values[r * k + j] = logP[order[j]];
    }
  });
  return { k, indices, values };
}

/** Options of top-k distillation for case `c`: `bucket` runs at temperature 1, and `batchmean` becomes `mean`. */
function topKOptions(c: Case) {
  const tail = c.nanInP ? ("bucket" as const) : ("drop" as const);
  return {
    classes: c.classes,
    tail,
    temperature: tail === "bucket" ? 1 : c.temperature,
    alpha: c.alpha,
    reduction: c.reduction === "batchmean" ? ("mean" as const) : c.reduction,
    ...(c.withLabels ? { labels: labelsOf(c) } : {}),
    ...gradOutputOption(c),
  };
}

function backendsAgree(kits: Kits, c: Case): void {
  const fromWasm = allOperations(kits.wasm, kits.js, c);
  const fromJs = allOperations(kits.js, kits.js, c);
  fromWasm.forEach((w, i) => {
    const j = fromJs[i];
    const expected = typeof j.value === "number" ? j.value : Array.from(j.value);
    const tolerance = doubled(w.tolerance);

    // Gradient entries are differences such as Q_c - P_c, so a float32 entry carries an absolute
    // error of about rtol times the largest entries it cancels against. Both backends round
    // differently, so they may differ by that much on an entry far smaller than the largest.
    if (Array.isArray(expected) && w.call.includes("grad")) {
      const largest = expected.reduce((max, v) => (Number.isFinite(v) ? Math.max(max, Math.abs(v)) : max), 0);
      tolerance.atol = Math.max(tolerance.atol, tolerance.rtol * largest);
    }
    checkClose(`${w.call}: wasm against js`, w.value, expected, tolerance);
  });
}

// ---------------------------------------------------------------------------------------------
// Losses match the float64 reference and gradients match its central differences.

/**
 * Compares a fused loss and gradient with the float64 reference `f` of the same inputs. The
 * gradient is checked only where the reference is finite: +Infinity losses (masked labels)
 * have the documented gradients checked by maskedClasses.
 */
function checkAgainstReference(
  what: string,
  result: { loss: number | Float32Array; grad: Float32Array },
  x: number[][],
  f: (x: number[][]) => Reduced64,
  c: Case,
  tolerance: Tolerance,
): void {
  const reference = f(x);
  const expectedLoss = c.reduction === "none" && typeof result.loss !== "number" ? reference.rowLoss : reference.loss;
  checkClose(`${what} loss against the float64 reference`, result.loss, expectedLoss, tolerance);
  if (!Number.isFinite(reference.objective)) return;

  // A step of 1e-4 in z / T, that is 1e-4 T in z: the truncation error of central differences,
  // h^2 / 6 times the third derivative, is then about 2e-9 / T per unit of gradient scale. The
  // cancellation error, a few times 1e-16 |f| / h, grows with the loss: a reverse KL near 1000
  // at T = 0.1 (logits 104 apart) with gradOutput 2 gives an estimated 1e-7, still 10 times below
  // the atol of 1e-6. So the float32 tolerance of the fused gradient is used.
  const h = 1e-4 * c.temperature;
  const expectedGrad = numericGradMatrix((m) => f(m).objective, x, h);

  // Gradient entries are differences such as Q_c - P_c, so a float32 entry carries an absolute
  // error of about rtol times the largest entries it cancels against.
  const largest = expectedGrad.reduce((max, v) => (Number.isFinite(v) ? Math.max(max, Math.abs(v)) : max), 0);
  const gradTolerance = { rtol: tolerance.rtol, atol: Math.max(tolerance.atol, tolerance.rtol * largest) };
  checkClose(`${what} gradient against central differences`, result.grad, expectedGrad, gradTolerance);
}

/** Logits with the common mask; all-masked rows only where `keepRow` allows them (NaN otherwise). */
function maskedLogits(c: Case, data: Float32Array, keepRow: (row: number) => boolean): Float32Array {
  return applyMask(c, data, c.masked, c.maskedRows.map((m, r) => m && keepRow(r)));
}

function entropyGradient(kit: LogitKit, c: Case): void {
  const z = maskedLogits(c, c.z, () => false);
  const o = { temperature: c.temperature, reduction: c.reduction, gradOutput: c.reduction === "none" ? c.gradOutput : undefined };
  const result = kit.entropyOfLogitsWithGrad(z, { classes: c.classes, temperature: c.temperature, reduction: c.reduction, ...gradOutputOption(c) });
  checkAgainstReference("entropyOfLogitsWithGrad", result, rowsOf(z, c.classes), (m) => entropyOfLogitsReduced64(m, o), c, TOLERANCE.entropyOfLogits);
}

/** Options of the cross-entropy calls of case `c`, for the library and for the float64 reference. */
function crossEntropyOptions(c: Case) {
  return {
    classes: c.classes,
    temperature: c.temperature,
    reduction: c.reduction,
    labelSmoothing: c.labelSmoothing,
    weight: weightOf(c),
    ...gradOutputOption(c),
  };
}

function crossEntropyOptions64(c: Case) {
  return {
    temperature: c.temperature,
    reduction: c.reduction,
    gradOutput: c.reduction === "none" ? c.gradOutput : undefined,
    labelSmoothing: c.labelSmoothing,
    weight: weight64(c),
    ignoreIndex: IGNORE_INDEX,
  };
}

function crossEntropyLabelsGradient(kit: LogitKit, c: Case): void {
  // Ignored rows are not read, so they may be all masked, and here they are NaN as well.
  const labels = labelsOf(c);
  const z = maskedLogits(c, c.z, (r) => c.ignoredRows[r]);
  for (let r = 0; r < c.rows; r++) if (c.ignoredRows[r] && c.maskedRows[r]) z.fill(NaN, r * c.classes, (r + 1) * c.classes);

  const o = crossEntropyOptions64(c);
  const result = kit.crossEntropyWithGrad(z, labels, crossEntropyOptions(c));
  const labelList = Array.from(labels);
  checkAgainstReference(
    "crossEntropyWithGrad with labels",
    result,
    rowsOf(z, c.classes),
    (m) => crossEntropyLabelsReduced64(m, labelList, o),
    c,
    TOLERANCE.crossEntropy,
  );
}

function crossEntropyTargetsGradient(kit: LogitKit, c: Case): void {
  const z = maskedLogits(c, c.z, () => false);
  const targets = kit.softmax(applyMask(c, c.p, c.pMasked, null), { classes: c.classes });
  const o = crossEntropyOptions64(c);
  const result = kit.crossEntropyWithGrad(z, targets, crossEntropyOptions(c));
  const targetRows = rowsOf(targets, c.classes);
  checkAgainstReference(
    "crossEntropyWithGrad with targets",
    result,
    rowsOf(z, c.classes),
    (m) => crossEntropyTargetsReduced64(m, targetRows, o),
    c,
    TOLERANCE.crossEntropy,
  );
}

function klGradient(kit: LogitKit, c: Case): void {
  const q = maskedLogits(c, c.z, () => false);
  const p = maskedLogits(c, c.p, () => false);
  const o = { temperature: c.temperature, reduction: c.reduction, gradOutput: c.reduction === "none" ? c.gradOutput : undefined };
  const result = kit.klDivergenceWithGrad(p, q, { classes: c.classes, temperature: c.temperature, reduction: c.reduction, ...gradOutputOption(c) });
  const pRows = rowsOf(p, c.classes);
  checkAgainstReference("klDivergenceWithGrad", result, rowsOf(q, c.classes), (m) => klDivergenceReduced64(pRows, m, o), c, TOLERANCE.klDivergence);
}

function jsGradient(kit: LogitKit, c: Case): void {
  const q = maskedLogits(c, c.z, () => false);
  const p = maskedLogits(c, c.p, () => false);
  const o = { temperature: c.temperature, reduction: c.reduction, gradOutput: c.reduction === "none" ? c.gradOutput : undefined };
  const result = kit.jsDivergenceWithGrad(p, q, {
    classes: c.classes,
    temperature: c.temperature,
    reduction: c.reduction,
    beta: c.beta,
    ...gradOutputOption(c),
  });
  const pRows = rowsOf(p, c.classes);
  checkAgainstReference(
    "jsDivergenceWithGrad",
    result,
    rowsOf(q, c.classes),
    (m) => jsDivergenceReduced64(pRows, m, c.beta, o),
    c,
    TOLERANCE.jsDivergence,
  );
}

function distillationGradient(kit: LogitKit, c: Case): void {
  const labels = labelsOf(c);
  const student = maskedLogits(c, c.z, (r) => c.withLabels && c.ignoredRows[r]);
  const teacher = maskedLogits(c, c.p, (r) => c.withLabels && c.ignoredRows[r]);
  const o = { temperature: c.temperature, alpha: c.alpha, labels: c.withLabels ? Array.from(labels) : undefined, ignoreIndex: IGNORE_INDEX };
  const result = kit.distillationLossWithGrad(student, teacher, {
    classes: c.classes,
    temperature: c.temperature,
    alpha: c.alpha,
    ...(c.withLabels ? { labels } : {}),
  });
  const teacherRows = rowsOf(teacher, c.classes);
  const sumCase = { ...c, reduction: "sum" as const };
  checkAgainstReference(
    "distillationLossWithGrad",
    result,
    rowsOf(student, c.classes),
    (m) => distillationReduced64(m, teacherRows, o),
    sumCase,
    TOLERANCE.distillation,
  );
}

function topKDistillationGradient(kit: LogitKit, c: Case): void {
  const student = maskedLogits(c, c.z, () => false);
  const teacher = topKTeacherOf(c, maskedLogits(c, c.p, () => false));
  const options = topKOptions(c);
  const result = kit.topKDistillationLossWithGrad(student, teacher.indices, teacher.values, options);
  const o = {
    tail: options.tail,
    temperature: options.temperature,
    alpha: c.alpha,
    labels: c.withLabels ? Array.from(labelsOf(c)) : undefined,
    ignoreIndex: IGNORE_INDEX,
  };
  const split = (data: ArrayLike<number>) => rowsOf(Float32Array.from(data), teacher.k);
  const indexRows = split(teacher.indices);
  const valueRows = split(teacher.values);
  const gradOutput = c.reduction === "none" ? c.gradOutput : undefined;
  checkAgainstReference(
    "topKDistillationLossWithGrad",
    result,
    rowsOf(student, c.classes),
    (m) => topKDistillationReduced64(m, indexRows, valueRows, o, options.reduction, gradOutput),
    { ...c, temperature: options.temperature },
    TOLERANCE.distillation,
  );
}

// ---------------------------------------------------------------------------------------------
// Masked classes: probability exactly 0 and gradient exactly 0, with the documented exceptions.

/** Checks that `grad` is exactly 0 at every masked class, except where `exception` gives a value. */
function checkMaskedGrad(what: string, c: Case, grad: Float32Array, z: Float32Array, exception?: (i: number) => number | null): void {
  for (let i = 0; i < z.length; i++) {
    if (z[i] !== -Infinity) continue;
    const expected = exception?.(i) ?? null;
    if (expected === null) {
      check(grad[i] === 0, () => `${what}: gradient[${i}] of a masked class is ${grad[i]}, expected 0`);
    } else {
      checkClose(`${what}: gradient[${i}] of a masked class`, [grad[i]], [expected], TOLERANCE.crossEntropy);
    }
  }
}

function maskedClasses(kit: LogitKit, c: Case): void {
  // Common mask, no all-masked rows: those rows are NaN by definition.
  const z = applyMask(c, c.z, c.masked, null);
  const p = applyMask(c, c.p, c.masked, null);
  const classes = c.classes;
  const temperature = c.temperature;
  const reduction = c.reduction;

  const probs = kit.softmax(z, { classes, temperature });
  const logProbs = kit.logSoftmax(z, { classes, temperature });
  for (let i = 0; i < z.length; i++) {
    if (z[i] !== -Infinity) continue;
    check(Object.is(probs[i], 0), () => `softmax[${i}] of a masked class is ${probs[i]}, expected 0`);
    check(logProbs[i] === -Infinity, () => `logSoftmax[${i}] of a masked class is ${logProbs[i]}, expected -Infinity`);
  }

  const reduced = { classes, temperature, reduction, ...gradOutputOption(c) };
  checkMaskedGrad("entropyOfLogitsWithGrad", c, kit.entropyOfLogitsWithGrad(z, reduced).grad, z);
  checkMaskedGrad("klDivergenceWithGrad", c, kit.klDivergenceWithGrad(p, z, reduced).grad, z);
  checkMaskedGrad("jsDivergenceWithGrad", c, kit.jsDivergenceWithGrad(p, z, { ...reduced, beta: c.beta }).grad, z);

  // Targets of zero mass on the masked classes: softmax of p, which shares the mask.
  const targets = kit.softmax(p, { classes });
  checkMaskedGrad("crossEntropyWithGrad with targets", c, kit.crossEntropyWithGrad(z, targets, reduced).grad, z);

  // Labels may fall on masked classes, and smoothing puts mass on every class. The documented
  // gradient of a masked class c is then -(onehot_c (1 - eps) + eps / C) w_c / T times the row's
  // gradient scale, and the row's loss is +Infinity.
  const labels = labelsOf(c);
  const weight = weight64(c);
  const ceOptions = { ...reduced, labelSmoothing: c.labelSmoothing, weight: weightOf(c) };
  const ce = kit.crossEntropyWithGrad(z, labels, { ...ceOptions, reduction: reduction === "mean" ? "sum" : reduction });
  const eps = c.labelSmoothing;
  checkMaskedGrad("crossEntropyWithGrad with labels", c, ce.grad, z, (i) => {
    const r = Math.floor(i / classes);
    const k = i % classes;
    if (labels[r] === IGNORE_INDEX) return null;
    const target = (k === labels[r] ? 1 - eps : 0) + eps / classes;
    if (target === 0) return null;
    const w = weight === undefined ? 1 : weight[k];
    let scale = 1;
    if (reduction === "none") scale = c.gradOutput[r];
    else if (reduction === "batchmean") scale = 1 / c.rows;
    return (-target * w * scale) / temperature;
  });
  if (reduction === "none") {
    const losses = ce.loss as Float32Array;
    for (let r = 0; r < c.rows; r++) {
      const hitsMask = labels[r] !== IGNORE_INDEX && (z[r * classes + labels[r]] === -Infinity || (eps > 0 && z.subarray(r * classes, (r + 1) * classes).includes(-Infinity)));
      const w = weight === undefined ? 1 : weight[labels[r]];
      if (hitsMask && (w > 0 || eps > 0)) check(losses[r] === Infinity, () => `cross-entropy row ${r} reaches a masked class but is ${losses[r]}, expected +Infinity`);
    }
  }

  // Distillation: the teacher shares the mask, and labels on masked classes are excluded here.
  const safeLabels = Int32Array.from(labels, (y, r) => (y !== IGNORE_INDEX && z[r * classes + y] === -Infinity ? IGNORE_INDEX : y));
  const distill = kit.distillationLossWithGrad(z, p, { classes, temperature, alpha: c.alpha, ...(c.withLabels ? { labels: safeLabels } : {}) });
  checkMaskedGrad("distillationLossWithGrad", c, distill.grad, z);
}

// ---------------------------------------------------------------------------------------------
// A NaN in a row makes that row NaN and leaves every other row bit for bit unchanged.

/** Row-wise outputs of every operation with `reduction: "none"`, for the NaN property. */
function rowOutputs(kit: LogitKit, c: Case, z: Float32Array, p: Float32Array, probsP: Float32Array, probsQ: Float32Array): Array<[string, Float32Array, number]> {
  const classes = c.classes;
  const temperature = c.temperature;
  const o = { classes, temperature, reduction: "none" as const };
  const labels = labelsOf(c);
  const ce = kit.crossEntropyWithGrad(z, labels, { ...o, labelSmoothing: c.labelSmoothing, weight: weightOf(c) });
  const ceTargets = kit.crossEntropyWithGrad(z, probsP, { ...o, labelSmoothing: c.labelSmoothing, weight: weightOf(c) });
  const entropy = kit.entropyOfLogitsWithGrad(z, o);
  const kl = kit.klDivergenceWithGrad(p, z, o);
  const jsd = kit.jsDivergenceWithGrad(p, z, { ...o, beta: c.beta });
  const distill = kit.distillationLossWithGrad(z, p, { classes, temperature, alpha: c.alpha, ...(c.withLabels ? { labels } : {}) });

  // [name, values, values per row]
  return [
    ["softmax", kit.softmax(z, { classes, temperature }), classes],
    ["logSoftmax", kit.logSoftmax(z, { classes, temperature }), classes],
    ["logSumExp", kit.logSumExp(z, { classes, temperature }), 1],
    ["entropy", kit.entropy(probsQ, { classes, reduction: "none" }), 1],
    ["crossEntropyOfProbs", kit.crossEntropyOfProbs(probsP, probsQ, { classes, reduction: "none" }), 1],
    ["klDivergenceOfProbs", kit.klDivergenceOfProbs(probsP, probsQ, { classes, reduction: "none" }), 1],
    ["entropyOfLogitsWithGrad loss", entropy.loss, 1],
    ["entropyOfLogitsWithGrad grad", entropy.grad, classes],
    ["crossEntropyWithGrad labels loss", ce.loss, 1],
    ["crossEntropyWithGrad labels grad", ce.grad, classes],
    ["crossEntropyWithGrad targets loss", ceTargets.loss, 1],
    ["crossEntropyWithGrad targets grad", ceTargets.grad, classes],
    ["klDivergenceWithGrad loss", kl.loss, 1],
    ["klDivergenceWithGrad grad", kl.grad, classes],
    ["jsDivergenceWithGrad loss", jsd.loss, 1],
    ["jsDivergenceWithGrad grad", jsd.grad, classes],
    ["distillationLossWithGrad grad", distill.grad, classes],
  ];
}

function nanPoisonsItsRow(kit: LogitKit, c: Case): void {
  const z = applyMask(c, c.z, c.masked, c.maskedRows);
  const p = applyMask(c, c.p, c.pMasked, c.maskedRows);
  const probsP = kit.softmax(p, { classes: c.classes });
  const probsQ = kit.softmax(z, { classes: c.classes });
  const clean = rowOutputs(kit, c, z, p, probsP, probsQ);

  // The NaN goes into the logits and into the probabilities of the same input.
  const at = c.nanRow * c.classes + c.nanClass;
  const zNaN = z.slice();
  const pNaN = p.slice();
  const probsPNaN = probsP.slice();
  const probsQNaN = probsQ.slice();
  if (c.nanInP) {
    pNaN[at] = NaN;
    probsPNaN[at] = NaN;
  } else {
    zNaN[at] = NaN;
    probsQNaN[at] = NaN;
  }
  const poisoned = rowOutputs(kit, c, zNaN, pNaN, probsPNaN, probsQNaN);

  // Outputs that read the poisoned input: the p side feeds everything but softmax, log-softmax,
  // logsumexp, entropy and the entropy of logits; a row whose label is ignored is not read.
  const labels = labelsOf(c);
  const readsP = new Set([
    "crossEntropyOfProbs",
    "klDivergenceOfProbs",
    "crossEntropyWithGrad targets loss",
    "crossEntropyWithGrad targets grad",
    "klDivergenceWithGrad loss",
    "klDivergenceWithGrad grad",
    "jsDivergenceWithGrad loss",
    "jsDivergenceWithGrad grad",
    "distillationLossWithGrad grad",
  ]);
  clean.forEach(([name, before, width], k) => {
    const after = poisoned[k][1];
    let reads = c.nanInP ? readsP.has(name) : true;
    if (name.startsWith("crossEntropyWithGrad labels") && labels[c.nanRow] === IGNORE_INDEX) reads = false;
    if (name.startsWith("distillation") && c.withLabels && labels[c.nanRow] === IGNORE_INDEX) reads = false;
    for (let r = 0; r < c.rows; r++) {
      for (let i = r * width; i < (r + 1) * width; i++) {
        if (r === c.nanRow && reads) {
          check(Number.isNaN(after[i]), () => `${name}[${i}] is ${after[i]} with NaN at row ${c.nanRow} class ${c.nanClass}, expected NaN`);
        } else {
          check(Object.is(after[i], before[i]), () => `${name}[${i}] changed from ${before[i]} to ${after[i]} by a NaN in row ${c.nanRow}`);
        }
      }
    }
  });
}

// ---------------------------------------------------------------------------------------------

type SingleBackendCheck = (kit: LogitKit, c: Case) => void;

/** Properties that run on one backend at a time, by name. */
export const SINGLE_BACKEND_PROPERTIES: ReadonlyArray<[string, SingleBackendCheck]> = [
  ["softmax rows sum to 1", softmaxSumsToOne],
  ["softmax is invariant to a row shift", softmaxShiftInvariant],
  ["H(P, Q) = H(P) + KL(P ‖ Q)", crossEntropyIdentity],
  ["KL >= 0, KL(P ‖ P) = 0, JSD in [0, log 2]", divergenceRanges],
  ["one-hot targets equal labels", oneHotMatchesLabels],
  ["entropyOfLogitsWithGrad against float64", entropyGradient],
  ["crossEntropyWithGrad labels against float64", crossEntropyLabelsGradient],
  ["crossEntropyWithGrad targets against float64", crossEntropyTargetsGradient],
  ["klDivergenceWithGrad against float64", klGradient],
  ["jsDivergenceWithGrad against float64", jsGradient],
  ["distillationLossWithGrad against float64", distillationGradient],
  ["topKDistillationLossWithGrad against float64", topKDistillationGradient],
  ["masked classes get 0 probability and gradient", maskedClasses],
  ["NaN poisons only its row", nanPoisonsItsRow],
];

/** Properties that fail on a known, documented gap of the library; none at present. */
export const KNOWN_GAPS: readonly string[] = [];

/**
 * Every property: each single-backend one on js and on wasm, then the agreement of the two.
 * With `skipKnownGaps` the properties of KNOWN_GAPS are left out.
 */
export function buildProperties(kits: Kits, skipKnownGaps = true): NamedProperty[] {
  const out: NamedProperty[] = [];
  for (const [name, run] of SINGLE_BACKEND_PROPERTIES) {
    if (skipKnownGaps && KNOWN_GAPS.includes(name)) continue;
    for (const backend of ["js", "wasm"] as const) {
      out.push({ name: `${name} [${backend}]`, backend, property: fc.property(caseArbitrary(), (c) => run(kits[backend], c)) });
    }
  }
  out.push({ name: "wasm and js agree on every operation", backend: "both", property: fc.property(caseArbitrary(), (c) => backendsAgree(kits, c)) });
  return out;
}
