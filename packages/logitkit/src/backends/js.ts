/**
 * The `js` backend: pure TypeScript twin of the WebAssembly kernels, used where WebAssembly
 * SIMD is missing or cannot be compiled. Each function below mirrors the kernel of the same
 * name in `packages/kernels/assembly/`, pass for pass, so the two can be read side by side.
 *
 * Arithmetic is float64 (JavaScript numbers, `expNonPositive` from fast-exp.ts, `Math.log`); only the stored outputs
 * are rounded to float32. Passes over a row: the maximum, then the exponentials and their sums,
 * then the outputs.
 */
import type { ProbsKind, RowKernels } from "../backend.js";
import { PROBS_CROSS_ENTROPY, PROBS_ENTROPY, VOCAB_STATS } from "../backend.js";
import { expNonPositive } from "./fast-exp.js";
import { widenHalfLogits } from "./widen.js";

/*
 * The loops below over a whole row handle four elements per iteration (two for the maximum).
 * V8 (Node 20) hoists little out of loops, so every iteration re-checks the arrays' maps and
 * bounds and re-reads m and invT, and four elements share those checks. The exponentials are
 * added in pairs first, which shortens the chain of dependent additions.
 *
 * Loops that carry a float (a maximum or a sum) run on blocks of at most BLOCK_LENGTH
 * elements, one call per block. A loop that runs long within one call is compiled on the
 * stack (OSR), and V8 keeps float loop variables boxed in that code, which allocates on every
 * iteration. A function called once per block gets its regular compiled code soon, which
 * keeps them unboxed. Without blocks, whole runs of softmax-family calls stayed at about 1.6x
 * the plain loop instead of 2.2x.
 *
 * The length % 4 leftover elements come first, not last, and no arithmetic follows a loop.
 * Code after an OSR-compiled loop would first run without type feedback, and on Node 20 such
 * code deoptimized on every call instead of once (seen with a loop over the leftovers and with
 * `return sum0 + sum1`).
 */

/** Elements per call of the block functions below: large enough to make the calls cheap. */
const BLOCK_LENGTH = 2048;

/** Returns the maximum of `z[start .. stop)`, or the first NaN in it. */
function blockMax(z: Float32Array, start: number, stop: number): number {
  // NaN compares false, so a value that is not greater than the maximum is tested for NaN
  // there, with no other test.
  let m = -Infinity;
  let i = start;
  if (((stop - start) & 1) !== 0) {
    m = z[i++];
    if (m !== m) return m;
  }
  for (; i < stop; i += 2) {
    const a = z[i];
    const b = z[i + 1];
    if (a > m) m = a;
    else if (a !== a) return a;
    if (b > m) m = b;
    else if (b !== b) return b;
  }
  return m;
}

/**
 * Returns the maximum of `z[base .. base + classes)`. A `NaN` anywhere makes it `NaN`, like
 * WebAssembly's `f32x4.max`, so that the caller can tell a `NaN` row from a `+Infinity` one.
 */
function rowMax(z: Float32Array, base: number, classes: number): number {
  const end = base + classes;
  let m = -Infinity;
  for (let start = base; start < end; start += BLOCK_LENGTH) {
    const blockM = blockMax(z, start, Math.min(start + BLOCK_LENGTH, end));
    if (blockM > m) m = blockM;
    else if (blockM !== blockM) return blockM;
  }
  return m;
}

/** Returns sum_i exp((z_i - m) * invT) over `z[start .. stop)`. */
function blockShiftedSum(z: Float32Array, start: number, stop: number, m: number, invT: number): number {
  let sum = 0;
  let i = start;
  for (const head = start + ((stop - start) & 3); i < head; i++) sum += expNonPositive((z[i] - m) * invT);
  for (; i < stop; i += 4) {
    const pair0 = expNonPositive((z[i] - m) * invT) + expNonPositive((z[i + 1] - m) * invT);
    const pair1 = expNonPositive((z[i + 2] - m) * invT) + expNonPositive((z[i + 3] - m) * invT);
    sum += pair0 + pair1;
  }
  return sum;
}

/**
 * Returns sum_i exp((z_i - m) * invT), the sum of exponentials of the shifted, scaled row. It
 * is `NaN` when `m` is not finite (all masked, `+Infinity` or `NaN` in the row), because then
 * (z - m) is `NaN` for at least one element.
 */
function shiftedSum(z: Float32Array, base: number, classes: number, m: number, invT: number): number {
  const end = base + classes;
  let sum = 0;
  for (let start = base; start < end; start += BLOCK_LENGTH) {
    sum += blockShiftedSum(z, start, Math.min(start + BLOCK_LENGTH, end), m, invT);
  }
  return sum;
}

/** Writes exp((z_i - m) * invT) to `out[start .. stop)` and returns their sum. */
function blockStoreShiftedExp(z: Float32Array, start: number, stop: number, m: number, invT: number, out: Float32Array): number {
  let sum = 0;
  let i = start;
  for (const head = start + ((stop - start) & 3); i < head; i++) {
    const e = expNonPositive((z[i] - m) * invT);
    out[i] = e;
    sum += e;
  }
  for (; i < stop; i += 4) {
    const e0 = expNonPositive((z[i] - m) * invT);
    const e1 = expNonPositive((z[i + 1] - m) * invT);
    const e2 = expNonPositive((z[i + 2] - m) * invT);
    const e3 = expNonPositive((z[i + 3] - m) * invT);
    out[i] = e0;
    out[i + 1] = e1;
    out[i + 2] = e2;
    out[i + 3] = e3;
    sum += e0 + e1 + (e2 + e3);
  }
  return sum;
}

/**
 * Writes exp((z_i - m) * invT) to `out` and returns their sum, as shiftedSum. Each element is
 * read before its output is written, so `out` may be `z` itself.
 */
function storeShiftedExp(z: Float32Array, base: number, classes: number, m: number, invT: number, out: Float32Array): number {
  const end = base + classes;
  let sum = 0;
  for (let start = base; start < end; start += BLOCK_LENGTH) {
    sum += blockStoreShiftedExp(z, start, Math.min(start + BLOCK_LENGTH, end), m, invT, out);
  }
  return sum;
}

/** Multiplies `out[base .. base + classes)` by `scale` in place. */
function scaleRow(out: Float32Array, base: number, classes: number, scale: number): void {
  const end = base + classes;
  let i = base;
  for (const head = base + (classes & 3); i < head; i++) out[i] *= scale;
  for (; i < end; i += 4) {
    out[i] *= scale;
    out[i + 1] *= scale;
    out[i + 2] *= scale;
    out[i + 3] *= scale;
  }
}

/** Returns log shiftedSum, the logsumexp of the shifted, scaled row. */
function shiftedLse(z: Float32Array, base: number, classes: number, m: number, invT: number): number {
  return Math.log(shiftedSum(z, base, classes, m, invT));
}

/**
 * Rows with fewer classes than this take plain loops in one function. On short rows the calls
 * to the unrolled helpers cost more than the unrolling saves: a softmax of 8 classes took about
 * 215 ns with them and 150 ns without (Node 20, 2-core AMD EPYC virtual machine).
 */
const SHORT_ROW_CLASSES = 16;

/** Maximum of z[base .. end), NaN when any element is NaN; the loop of the short-row kernels. */
function shortRowMax(z: Float32Array, base: number, end: number): number {
  let m = -Infinity;
  for (let i = base; i < end; i++) {
    const v = z[i];
    if (v > m) m = v;
    else if (v !== v) m = v;
  }
  return m;
}

/** softmaxRows for rows of fewer than SHORT_ROW_CLASSES classes. */
function softmaxShortRows(z: Float32Array, rows: number, classes: number, invT: number, out: Float32Array): void {
  for (let r = 0; r < rows; r++) {
    const base = r * classes;
    const end = base + classes;

    const m = shortRowMax(z, base, end);

    let sum = 0;
    for (let i = base; i < end; i++) {
      const e = expNonPositive((z[i] - m) * invT);
      out[i] = e;
      sum += e;
    }

    const scale = 1 / sum;
    for (let i = base; i < end; i++) out[i] *= scale;
  }
}

function softmaxRows(z: Float32Array, rows: number, classes: number, invT: number, out: Float32Array): void {
  if (classes < SHORT_ROW_CLASSES) {
    softmaxShortRows(z, rows, classes, invT, out);
    return;
  }

  for (let r = 0; r < rows; r++) {
    const base = r * classes;
    const m = rowMax(z, base, classes);
    const sum = storeShiftedExp(z, base, classes, m, invT, out);
    scaleRow(out, base, classes, 1 / sum);
  }
}

/** logSoftmaxRows for rows of fewer than SHORT_ROW_CLASSES classes. */
function logSoftmaxShortRows(z: Float32Array, rows: number, classes: number, invT: number, out: Float32Array): void {
  for (let r = 0; r < rows; r++) {
    const base = r * classes;
    const end = base + classes;

    const m = shortRowMax(z, base, end);

    let sum = 0;
    for (let i = base; i < end; i++) sum += expNonPositive((z[i] - m) * invT);

    const lse = Math.log(sum);
    for (let i = base; i < end; i++) out[i] = (z[i] - m) * invT - lse;
  }
}

function logSoftmaxRows(z: Float32Array, rows: number, classes: number, invT: number, out: Float32Array): void {
  if (classes < SHORT_ROW_CLASSES) {
    logSoftmaxShortRows(z, rows, classes, invT, out);
    return;
  }

  for (let r = 0; r < rows; r++) {
    const base = r * classes;
    const end = base + classes;
    const m = rowMax(z, base, classes);
    const lse = shiftedLse(z, base, classes, m, invT);

    let i = base;
    for (const head = base + (classes & 3); i < head; i++) out[i] = (z[i] - m) * invT - lse;
    for (; i < end; i += 4) {
      out[i] = (z[i] - m) * invT - lse;
      out[i + 1] = (z[i + 1] - m) * invT - lse;
      out[i + 2] = (z[i + 2] - m) * invT - lse;
      out[i + 3] = (z[i + 3] - m) * invT - lse;
    }
  }
}

function logSumExpRows(z: Float32Array, rows: number, classes: number, invT: number, out: Float32Array): void {
  for (let r = 0; r < rows; r++) {
    const base = r * classes;
    const m = rowMax(z, base, classes);

    // The shifted sum is NaN for these rows, but their logsumexp is defined: -Infinity when
    // every class is masked, +Infinity when a logit is +Infinity and none is NaN.
    if (m === -Infinity || m === Infinity) {
      out[r] = m;
      continue;
    }
    out[r] = m * invT + shiftedLse(z, base, classes, m, invT);
  }
}

function probsRows(
  kind: ProbsKind,
  p: Float32Array,
  q: Float32Array | null,
  rows: number,
  classes: number,
  rowLoss: Float64Array,
): void {
  for (let r = 0; r < rows; r++) {
    const base = r * classes;
    let acc = 0;

    // Terms with p = 0 are 0 (0 log 0 = 0, and 0 log q = 0 even for q = 0); p > 0 with
    // q = 0 gives +Infinity through log 0 = -Infinity.
    for (let i = base, end = base + classes; i < end; i++) {
      const pi = p[i];

      // A NaN in q still poisons the row where p = 0, as NaN anywhere in a row does.
      if (pi === 0) {
        if (q !== null && q[i] !== q[i]) acc = NaN;
        continue;
      }
      if (kind === PROBS_ENTROPY) acc -= pi * Math.log(pi);
      else if (kind === PROBS_CROSS_ENTROPY) acc -= pi * Math.log(q![i]);
      else acc += pi * (Math.log(pi) - Math.log(q![i]));
    }
    rowLoss[r] = acc;
  }
}

function entropyLogitsRows(
  z: Float32Array,
  rows: number,
  classes: number,
  invT: number,
  rowLoss: Float64Array,
  gradScale: Float32Array | null,
  grad: Float32Array | null,
): void {
  for (let r = 0; r < rows; r++) {
    const base = r * classes;
    const end = base + classes;
    const m = rowMax(z, base, classes);

    // H = L - A / S with S = sum e_i, A = sum e_i x_i, L = log S; masked classes (e = 0,
    // x = -Infinity) are skipped so that they add 0 instead of NaN.
    let sum = 0;
    let weighted = 0;
    for (let i = base; i < end; i++) {
      const x = (z[i] - m) * invT;
      const e = expNonPositive(x);
      sum += e;
      if (e !== 0) weighted += e * x;
    }
    const mean = weighted / sum;
    rowLoss[r] = Math.log(sum) - mean;

    // dH/dx_j = -p_j (log p_j + H) = p_j (A / S - x_j), exactly 0 where p_j = 0. A NaN row
    // (NaN or +Infinity logits, or all masked) gets a NaN gradient everywhere.
    if (gradScale === null || grad === null) continue;
    if (mean !== mean) {
      grad.fill(NaN, base, end);
      continue;
    }
    const scale = (gradScale[r] * invT) / sum;
    for (let i = base; i < end; i++) {
      const x = (z[i] - m) * invT;
      const e = expNonPositive(x);
      grad[i] = e === 0 ? 0 : scale * e * (mean - x);
    }
  }
}

function crossEntropyLabelsRows(
  z: Float32Array,
  labels: Int32Array,
  rows: number,
  classes: number,
  invT: number,
  weight: Float32Array | null,
  ignoreIndex: number,
  labelSmoothing: number,
  rowLoss: Float64Array,
  gradScale: Float32Array | null,
  grad: Float32Array | null,
): void {
  const smoothPerClass = labelSmoothing / classes;
  let weightSum = classes;
  if (weight !== null) {
    weightSum = 0;
    for (let c = 0; c < classes; c++) weightSum += weight[c];
  }

  for (let r = 0; r < rows; r++) {
    const base = r * classes;
    const end = base + classes;
    const y = labels[r];

    // Ignored rows are not read at all, so a NaN in them cannot leak into the loss.
    if (y === ignoreIndex) {
      rowLoss[r] = 0;
      if (gradScale !== null && grad !== null) grad.fill(0, base, end);
      continue;
    }

    let m = -Infinity;
    let sum = 0;
    let weightedLogits = 0;
    if (labelSmoothing === 0 && classes < SHORT_ROW_CLASSES) {
      for (let i = base; i < end; i++) {
        const v = z[i];
        if (v > m) m = v;
        else if (v !== v) m = v;
      }
      for (let i = base; i < end; i++) sum += expNonPositive((z[i] - m) * invT);
    } else if (labelSmoothing === 0) {
      m = rowMax(z, base, classes);
      sum = shiftedSum(z, base, classes, m, invT);
    } else {
      m = rowMax(z, base, classes);
      for (let i = base; i < end; i++) {
        const x = (z[i] - m) * invT;
        sum += expNonPositive(x);
        weightedLogits += weight === null ? x : weight[i - base] * x;
      }
    }
    const lse = Math.log(sum);

    // loss = (1 - eps) w_y (L - x_y) + (eps / C) sum_c w_c (L - x_c).
    const wy = weight === null ? 1 : weight[y];
    const hardWeight = (1 - labelSmoothing) * wy;
    // A label term of weight 0 (labelSmoothing 1, or w_y = 0) adds 0 even when the label is
    // masked (0 * Infinity would be NaN). Multiplying lse still carries a NaN of the row.
    let loss = hardWeight === 0 ? hardWeight * lse : hardWeight * (lse - (z[base + y] - m) * invT);
    if (labelSmoothing !== 0) loss += smoothPerClass * (lse * weightSum - weightedLogits);
    rowLoss[r] = loss;

    if (gradScale === null || grad === null) continue;
    const scale = gradScale[r] * invT;
    const probScale = (scale * (hardWeight + smoothPerClass * weightSum)) / sum;
    for (let i = base; i < end; i++) {
      const e = expNonPositive((z[i] - m) * invT);
      const wc = weight === null ? 1 : weight[i - base];
      grad[i] = probScale * e - scale * smoothPerClass * wc;
    }
    grad[base + y] = labelGradient(expNonPositive((z[base + y] - m) * invT), sum, scale, hardWeight, smoothPerClass, weightSum, wy);
  }
}

/**
 * Returns the gradient at the label: scale (w_y (1 - eps) (q_y - 1) + (eps / C)(W q_y - w_y)).
 * q_y - 1 comes as -(sum - e_y) / sum, the mass of the other classes, because q_y rounded first
 * loses the small 1 - q_y of a confident row (2^-24 absolute, so 0.6% of a gradient of 1e-5).
 * A single class then gets exactly 0. `sum` must be the float64 sum that includes `ey`.
 */
function labelGradient(
  ey: number,
  sum: number,
  scale: number,
  hardWeight: number,
  smoothPerClass: number,
  weightSum: number,
  wy: number,
): number {
  const hard = hardWeight === 0 ? 0 : (-hardWeight * (sum - ey)) / sum;
  const smooth = smoothPerClass === 0 ? 0 : smoothPerClass * ((weightSum * ey) / sum - wy);
  return scale * (hard + smooth);
}

function crossEntropyTargetsRows(
  z: Float32Array,
  targets: Float32Array,
  rows: number,
  classes: number,
  invT: number,
  weight: Float32Array | null,
  labelSmoothing: number,
  rowLoss: Float64Array,
  gradScale: Float32Array | null,
  grad: Float32Array | null,
): void {
  const keep = 1 - labelSmoothing;
  const smoothPerClass = labelSmoothing / classes;

  for (let r = 0; r < rows; r++) {
    const base = r * classes;
    const end = base + classes;
    const m = rowMax(z, base, classes);

    // With t' = (1 - eps) t + eps / C: loss = sum_c w_c t'_c (L - x_c) = L T - B, where
    // T = sum w_c t'_c and B = sum w_c t'_c x_c over the classes with t'_c != 0.
    let sum = 0;
    let targetMass = 0;
    let targetLogits = 0;
    for (let i = base; i < end; i++) {
      const x = (z[i] - m) * invT;
      sum += expNonPositive(x);
      const wt = (weight === null ? 1 : weight[i - base]) * (keep * targets[i] + smoothPerClass);
      if (wt !== 0) {
        targetMass += wt;
        targetLogits += wt * x;
      }
    }
    rowLoss[r] = Math.log(sum) * targetMass - targetLogits;

    // dL/dx_c = q_c T - w_c t'_c.
    if (gradScale === null || grad === null) continue;
    const scale = gradScale[r] * invT;
    const probScale = (scale * targetMass) / sum;
    for (let i = base; i < end; i++) {
      const e = expNonPositive((z[i] - m) * invT);
      const wt = (weight === null ? 1 : weight[i - base]) * (keep * targets[i] + smoothPerClass);
      grad[i] = probScale * e - scale * wt;
    }
  }
}

/** Writes the model sums of one chunk row (sz, az, the sum of z) at `stats[at + 1 ..]`. */
function vocabModelSums(z: Float32Array, base: number, classes: number, mz: number, invT: number, stats: Float64Array, at: number): void {
  let sum = 0;
  let weighted = 0;
  let zSum = 0;
  for (let i = base, end = base + classes; i < end; i++) {
    const x = (z[i] - mz) * invT;
    const e = expNonPositive(x);
    if (e !== 0) weighted += e * x;
    sum += e;
    zSum += z[i];
  }
  stats[at + 1] = sum;
  stats[at + 2] = weighted;
  stats[at + 3] = zSum;
}

/** Writes the teacher sums of one chunk row (st, ut, vt, wt, miss) at `stats[at + 5 ..]`, both maxima finite. */
function vocabPairSums(
  z: Float32Array,
  t: Float32Array,
  base: number,
  classes: number,
  mz: number,
  mt: number,
  invT: number,
  stats: Float64Array,
  at: number,
): void {
  let sum = 0;
  let linear = 0;
  let excess = 0;
  let covered = 0;
  let missing = 0;
  for (let i = base, end = base + classes; i < end; i++) {
    const et = expNonPositive((t[i] - mt) * invT);
    const ez = expNonPositive((z[i] - mz) * invT);
    const d = (z[i] - t[i] - (mz - mt)) * invT;
    sum += et;
    if (et !== 0) {
      linear += et * d;
      excess += klExcessTerm(et, d, ez);
      covered += ez;
    } else {
      missing += ez;
    }
  }
  stats[at + 5] = sum;
  stats[at + 6] = linear;
  stats[at + 7] = excess;
  stats[at + 8] = covered;
  stats[at + 9] = missing;
}

/** See RowKernels.vocabStatsRows; mirrors f32_vocab_stats_rows. */
function vocabStatsRows(
  z: Float32Array,
  t: Float32Array | null,
  rows: number,
  classes: number,
  invT: number,
  stats: Float64Array,
): void {
  for (let r = 0; r < rows; r++) {
    const base = r * classes;
    const at = r * VOCAB_STATS;
    const mz = rowMax(z, base, classes);
    stats[at] = mz;

    // exp(-Infinity - -Infinity) would be NaN; a masked chunk has no mass at all.
    if (mz === -Infinity) {
      stats[at + 1] = 0;
      stats[at + 2] = 0;
      stats[at + 3] = -Infinity;
    } else {
      vocabModelSums(z, base, classes, mz, invT, stats, at);
    }
    if (t === null) continue;

    const mt = rowMax(t, base, classes);
    stats[at + 4] = mt;
    if (Number.isFinite(mz) && Number.isFinite(mt)) {
      vocabPairSums(z, t, base, classes, mz, mt, invT, stats, at);
      continue;
    }

    // Special rows, as the whole-row KL treats them; see f32_vocab_stats_rows.
    if (mz !== mz || mt !== mt || mz === Infinity || mt === Infinity) stats.fill(NaN, at + 5, at + 10);
    else if (mt === -Infinity) stats.set([0, 0, 0, 0, stats[at + 1]], at + 5);
    else stats.set([1, 0, Infinity, 0, 0], at + 5);
  }
}

/**
 * Returns e h(d) with h(d) = e^d - 1 - d >= 0, where `eq` = e e^d: by the Taylor series of h
 * for |d| <= 0.5, else directly. See klFromSums.
 */
function klExcessTerm(e: number, d: number, eq: number): number {
  if (Math.abs(d) > 0.5) return eq - e - e * d;
  let p = d / 3628800 + 1 / 362880;
  p = p * d + 1 / 40320;
  p = p * d + 1 / 5040;
  p = p * d + 1 / 720;
  p = p * d + 1 / 120;
  p = p * d + 1 / 24;
  p = p * d + 1 / 6;
  p = p * d + 0.5;
  return e * d * d * p;
}

/** Returns log1p(w) - w without cancellation for small |w|. */
export function log1pMinusX(w: number): number {
  if (Math.abs(w) < 1e-3) return w * w * (-0.5 + w * (1 / 3 + w * (-0.25 + w * 0.2)));
  return Math.log1p(w) - w;
}

/**
 * Returns KL(P ‖ Q) from S = sum e, U = sum e d and V = sum e h(d) over the classes with P > 0,
 * where e = exp(x_p) and d = x_q - x_p, and M = sum exp(x_q) over the classes with P = 0.
 * Q's normalizer is S + U + V + M, so KL = -u + log(1 + u + v + m)
 * = v + m + (log1p(u + v + m) - (u + v + m)) with u = U / S, v = V / S, m = M / S. Unlike the
 * sum of P (log P - log Q), no step cancels, so a small KL between close P and Q stays accurate.
 */
function klFromSums(sum: number, linear: number, excess: number, missing: number): number {
  const u = linear / sum;
  const v = excess / sum;
  const m = missing / sum;
  if (v === Infinity) return Infinity;
  return v + m + log1pMinusX(u + v + m);
}

/**
 * Returns D_KL(P ‖ Q) of one pair of rows by klFromSums, where P = softmax(p * invT) and
 * Q = softmax(q * invT). When `grad` is not null, grad[base ..] receives
 * gradScale * invT * (Q - P), the gradient with respect to q scaled by gradScale.
 */
function klRow(
  pz: Float32Array,
  qz: Float32Array,
  base: number,
  classes: number,
  invT: number,
  grad: Float32Array | null,
  gradScale: number,
): number {
  const end = base + classes;
  const pm = rowMax(pz, base, classes);
  const qm = rowMax(qz, base, classes);
  const sum = shiftedSum(pz, base, classes, pm, invT);
  const invSumQ = grad === null ? 0 : 1 / shiftedSum(qz, base, classes, qm, invT);
  const scale = gradScale * invT;

  // Classes with P = 0 (e = 0) add no term, but their Q mass still counts in Q's normalizer.
  let linear = 0;
  let excess = 0;
  let missing = 0;
  for (let i = base; i < end; i++) {
    const e = expNonPositive((pz[i] - pm) * invT);
    const eq = expNonPositive((qz[i] - qm) * invT);
    const d = (qz[i] - pz[i] - (qm - pm)) * invT;
    if (e !== 0) {
      linear += e * d;
      excess += klExcessTerm(e, d, eq);
    } else {
      missing += eq;
    }
    if (grad !== null) grad[i] = scale * (eq * invSumQ - e / sum);
  }
  return klFromSums(sum, linear, excess, missing);
}

function klLogitsRows(
  pz: Float32Array,
  qz: Float32Array,
  rows: number,
  classes: number,
  invT: number,
  rowLoss: Float64Array,
  gradScale: Float32Array | null,
  grad: Float32Array | null,
): void {
  for (let r = 0; r < rows; r++) {
    const hasGrad = gradScale !== null && grad !== null;
    rowLoss[r] = klRow(pz, qz, r * classes, classes, invT, hasGrad ? grad : null, hasGrad ? gradScale[r] : 0);
  }
}

/**
 * KL(Q ‖ P) per row, the Jensen-Shannon divergence at beta = 1, and its gradient
 * Q_j (h_j - sum_i Q_i h_i) / T with h = log Q - log P.
 *
 * Where P is tiny on Q's support, h is close to |log P| there (about 1000 at T = 0.1 for
 * logits 100 apart) and nearly constant, so h_j - mean h cancels. Rounding h to float32 would
 * leave an error of 2^-24 |h| in that difference. The kernel uses d = h - (L_P - L_Q) instead:
 * d_j = ((z_j - p_j) - (max z - max p)) / T in float64 from the float32 logits, whose error is
 * near 2^-53 |d|, and d_j - mean d equals h_j - mean h because the constant cancels.
 * The mean divides by sum Q, so that the rounding of Q (sum Q = 1 + delta) does not add
 * delta (L_P - L_Q) to every entry. The wasm kernel computes the same formula.
 */
function reverseKlRows(
  pz: Float32Array,
  qz: Float32Array,
  rows: number,
  classes: number,
  invT: number,
  rowLoss: Float64Array,
  gradScale: Float32Array | null,
  grad: Float32Array | null,
): void {
  for (let r = 0; r < rows; r++) {
    const base = r * classes;
    const end = base + classes;
    const pm = rowMax(pz, base, classes);
    const qm = rowMax(qz, base, classes);
    const pl = shiftedLse(pz, base, classes, pm, invT);
    const ql = shiftedLse(qz, base, classes, qm, invT);
    const shift = qm - pm;

    // Classes with Q = 0 add nothing, which also keeps 0 * (-Infinity) out where z is masked.
    let massQ = 0;
    let sumQd = 0;
    for (let i = base; i < end; i++) {
      const qi = expNonPositive((qz[i] - qm) * invT - ql);
      if (qi === 0) continue;
      massQ += qi;
      sumQd += qi * ((qz[i] - pz[i] - shift) * invT);
    }
    const meanD = sumQd / massQ;
    const loss = meanD + (pl - ql);
    rowLoss[r] = loss;

    if (gradScale === null || grad === null) continue;
    const scale = gradScale[r] * invT;

    // A NaN anywhere in the row makes the loss NaN, and then every gradient entry, masked
    // classes of Q included, must be NaN too.
    const nanRow = Number.isNaN(loss);
    for (let i = base; i < end; i++) {
      const qi = expNonPositive((qz[i] - qm) * invT - ql);
      const d = (qz[i] - pz[i] - shift) * invT;
      if (nanRow) grad[i] = NaN;
      else grad[i] = qi === 0 ? 0 : scale * (qi * (d - meanD));
    }
  }
}

function jsDivergenceRows(
  pz: Float32Array,
  qz: Float32Array,
  rows: number,
  classes: number,
  invT: number,
  beta: number,
  rowLoss: Float64Array,
  gradScale: Float32Array | null,
  grad: Float32Array | null,
): void {
  // beta = 0 is the forward KL(P ‖ Q), whose gradient has the closed form (Q - P) / T.
  if (beta === 0) {
    klLogitsRows(pz, qz, rows, classes, invT, rowLoss, gradScale, grad);
    return;
  }
  if (beta === 1) {
    reverseKlRows(pz, qz, rows, classes, invT, rowLoss, gradScale, grad);
    return;
  }

  const alphaQ = 1 - beta;
  for (let r = 0; r < rows; r++) {
    const base = r * classes;
    const end = base + classes;
    const pm = rowMax(pz, base, classes);
    const qm = rowMax(qz, base, classes);
    const pl = shiftedLse(pz, base, classes, pm, invT);
    const ql = shiftedLse(qz, base, classes, qm, invT);

    // With h = dL/dQ (up to a constant that the softmax Jacobian removes) = (1 - beta)
    // (log Q - log M), the gradient is Q_j (h_j - mean h) with mean h = sum_i Q_i h_i / sum_i Q_i.
    // Dividing by sum Q keeps the rounding of Q out of the mean. h is kept in `grad` between
    // the passes, rounded to float32, as in the wasm kernel; its NOTE gives the cost.
    let loss = 0;
    let massQ = 0;
    let sumQh = 0;
    for (let i = base; i < end; i++) {
      const logP = (pz[i] - pm) * invT - pl;
      const logQ = (qz[i] - qm) * invT - ql;
      const pi = expNonPositive(logP);
      const qi = expNonPositive(logQ);
      const logM = Math.log(beta * pi + alphaQ * qi);
      let h = 0;
      if (pi !== 0) loss += beta * pi * (logP - logM);
      if (qi !== 0) {
        h = alphaQ * (logQ - logM);
        loss += qi * h;
        massQ += qi;
        sumQh += qi * h;
      }
      if (grad !== null && gradScale !== null) grad[i] = h;
    }
    rowLoss[r] = loss;

    if (gradScale === null || grad === null) continue;
    const scale = gradScale[r] * invT;
    const meanH = sumQh / massQ;

    // A NaN anywhere in the row makes the loss NaN, and then every gradient entry, masked
    // classes of Q included, must be NaN too.
    const nanRow = Number.isNaN(loss);
    for (let i = base; i < end; i++) {
      const qi = expNonPositive((qz[i] - qm) * invT - ql);
      if (nanRow) grad[i] = NaN;
      else grad[i] = qi === 0 ? 0 : scale * (qi * (grad[i] - meanH));
    }
  }
}

function distillationRows(
  sz: Float32Array,
  tz: Float32Array,
  labels: Int32Array | null,
  ignoreIndex: number,
  rows: number,
  classes: number,
  invT: number,
  alpha: number,
  rowLoss: Float64Array,
  gradScale: Float32Array | null,
  grad: Float32Array | null,
): void {
  const temperature = 1 / invT;
  const softWeight = alpha * temperature * temperature;
  const hardWeight = 1 - alpha;

  for (let r = 0; r < rows; r++) {
    const base = r * classes;
    const end = base + classes;
    const y = labels === null ? -1 : labels[r];

    if (labels !== null && y === ignoreIndex) {
      rowLoss[r] = 0;
      if (gradScale !== null && grad !== null) grad.fill(0, base, end);
      continue;
    }

    // Soft term: klRow writes scale alpha T^2 (1 / T)(Q_T - P_T), the gradient of the weighted
    // KL, with the teacher as P and the student as Q.
    const hasGrad = gradScale !== null && grad !== null;
    const scale = hasGrad ? gradScale[r] : 0;
    const kl = klRow(tz, sz, base, classes, invT, hasGrad ? grad : null, scale * softWeight);

    // Hard term: the student at temperature 1, whose gradient Q_1 - onehot(y) is added in place.
    const hasHard = labels !== null && hardWeight !== 0;
    const sm = hasHard ? rowMax(sz, base, classes) : 0;
    const sl1 = hasHard ? shiftedLse(sz, base, classes, sm, 1) : 0;
    if (hasHard && hasGrad) {
      for (let i = base; i < end; i++) grad[i] += scale * hardWeight * expNonPositive(sz[i] - sm - sl1);
    }

    let loss = softWeight * kl;
    if (hasHard) loss += hardWeight * (sl1 - (sz[base + y] - sm));
    rowLoss[r] = loss;
    if (hasHard && hasGrad) grad[base + y] -= scale * hardWeight;
  }
}

/** Returns the larger of a and b, or NaN when either is NaN, like WebAssembly's `f32.max`. */
function maxOrNaN(a: number, b: number): number {
  if (a !== a || b > a || b !== b) return a !== a ? a : b;
  return a;
}

/**
 * Top-k distillation per row. The classes outside the row's tokens (the tail) are the gaps
 * between the sorted tokens, so each pass over the row runs over the gaps with the block
 * loops, and the k tokens are visited one by one.
 *
 * With x = (z - m) invT, q = softmax(x), targets t_j on the tokens S, tail mass r and
 * q_tail = sum of q outside S, the soft term is
 *   KL = sum_S t log t + r log r + 1 - r - mass - sum_S t_j log q_j - r log q_tail,
 * with mass = sum_S t (1 - r up to the float32 rounding of t, which the term 1 - r - mass keeps
 * out of KL when P and Q are close). Its gradient with respect to x is
 *   q_i (mass + r) - t_i        for i in S,
 *   q_i (mass + r) - r q_i / q_tail   for i outside S.
 * The tail's exponentials e'_i = exp((z_i - tailMax) invT) are taken from the tail's own
 * maximum, so q_i / q_tail = e'_i / sum e' stays exact when the tail lies far below the top-k
 * tokens, where exp(x_i) would underflow to 0.
 */
function topKDistillationRows(
  sz: Float32Array,
  teacher: Int32Array,
  k: number,
  labels: Int32Array | null,
  ignoreIndex: number,
  rows: number,
  classes: number,
  invT: number,
  alpha: number,
  rowLoss: Float64Array,
  gradScale: Float32Array | null,
  grad: Float32Array | null,
): void {
  const temperature = 1 / invT;
  const softWeight = alpha * temperature * temperature;
  const hardWeight = 1 - alpha;
  const hasHard = labels !== null && hardWeight !== 0;

  // Views of the teacher's rows: tokens at top + j, targets at top + k + j, terms at term, term + 1.
  const words = 2 * k + 4;
  const targets = new Float32Array(teacher.buffer, teacher.byteOffset, teacher.length);
  const terms = new Float64Array(teacher.buffer, teacher.byteOffset, teacher.length / 2);

  for (let r = 0; r < rows; r++) {
    const base = r * classes;
    const end = base + classes;
    const top = r * words;
    const term = (top + 2 * k) / 2;
    const y = labels === null ? -1 : labels[r];

    if (labels !== null && y === ignoreIndex) {
      rowLoss[r] = 0;
      if (gradScale !== null && grad !== null) grad.fill(0, base, end);
      continue;
    }

    // The tail's maximum, then the row's. Padding indices (-1) come first and are skipped.
    let tailMax = -Infinity;
    let from = base;
    for (let j = 0; j < k; j++) {
      const token = teacher[top + j];
      if (token < 0) continue;
      tailMax = maxOrNaN(tailMax, rowMax(sz, from, base + token - from));
      from = base + token + 1;
    }
    tailMax = maxOrNaN(tailMax, rowMax(sz, from, end - from));
    let m = tailMax;
    for (let j = 0; j < k; j++) {
      const token = teacher[top + j];
      if (token >= 0) m = maxOrNaN(m, sz[base + token]);
    }

    // A tail that is empty or all masked has no maximum, so any shift gives exp = 0 there.
    const tailShift = tailMax === -Infinity ? 0 : tailMax;
    const gradRow = gradScale === null ? null : grad;
    let tail = 0;
    from = base;
    for (let j = 0; j <= k; j++) {
      const stop = j < k ? base + teacher[top + j] : end;
      if (stop < base) continue;
      const length = stop - from;
      tail += gradRow === null ? shiftedSum(sz, from, length, tailShift, invT) : storeShiftedExp(sz, from, length, tailShift, invT, gradRow);
      from = stop + 1;
    }

    // The tokens: their share of the normalizer and the cross-entropy terms sum t log e, with
    // log e rather than x so that log q = log e - L agrees with the normalizer (see the kernel).
    let topSum = 0;
    let mass = 0;
    let weighted = 0;
    for (let j = 0; j < k; j++) {
      const token = teacher[top + j];
      if (token < 0) continue;
      const x = (sz[base + token] - m) * invT;
      const e = expNonPositive(x);
      topSum += e;
      const t = targets[top + k + j];
      mass += t;
      if (t !== 0) weighted += t * (e !== 0 ? Math.log(e) : x);
    }

    // sum = sum_i exp(x_i) = topSum + tail exp((tailShift - m) invT), and log q_tail = log tail + (tailShift - m) invT - L.
    const tailLogShift = (tailShift - m) * invT;
    const tailWeight = tail === 0 ? 0 : Math.exp(tailLogShift);
    const sum = topSum + tail * tailWeight;
    const lse = Math.log(sum);
    const tailMass = terms[term];
    const crossEntropy = lse * mass - weighted;
    const tailTerm = tailMass === 0 ? 0 : tailMass * (lse - Math.log(tail) - tailLogShift);
    let loss = softWeight * (terms[term + 1] + crossEntropy + tailTerm);

    // Hard term: the student at temperature 1, whose logsumexp is L itself when T = 1.
    const sameTemperature = invT === 1;
    const hardLse = hasHard && !sameTemperature ? Math.log(shiftedSum(sz, base, classes, m, 1)) : lse;
    if (hasHard) loss += hardWeight * (hardLse - (sz[base + y] - m));
    rowLoss[r] = loss;
    if (gradScale === null || grad === null) continue;

    // grad = c (q (mass + r) - target) + h (q_1 - onehot(y)), with c = gradScale alpha T^2 / T.
    // At T = 1, q_1 = q and the hard term joins probScale.
    const c = gradScale[r] * softWeight * invT;
    const h = hasHard ? gradScale[r] * hardWeight : 0;
    const probScale = (c * (mass + tailMass) + (sameTemperature ? h : 0)) / sum;

    // The tail's stored e' give q_i = e'_i tailWeight / sum. An empty tail keeps the row's NaN.
    let tailScale = tail === 0 ? 0 * probScale : probScale * tailWeight;
    if (tail !== 0 && tailMass !== 0) tailScale -= (c * tailMass) / tail;
    scaleRow(grad, base, classes, tailScale);
    for (let j = 0; j < k; j++) {
      const token = teacher[top + j];
      if (token < 0) continue;
      const e = expNonPositive((sz[base + token] - m) * invT);
      grad[base + token] = probScale * e - c * targets[top + k + j];
    }

    if (!hasHard) continue;
    if (!sameTemperature) {
      for (let i = base; i < end; i++) grad[i] += h * expNonPositive(sz[i] - m - hardLse);
    }
    grad[base + y] -= h;
  }
}

/** The float32 row kernels of the pure TypeScript backend. */
const float32Kernels: RowKernels<Float32Array> = {
  name: "js",
  threads: () => 1,

  dispose() {},

  // A js handle is an ordinary array, which every call reads where it is.
  isStoredView: () => false,

  memoryBytes: () => 0,
  store(data) {
    let copy: Float32Array | null = data.slice();
    return {
      view: () => copy!,
      release: () => {
        copy = null;
      },
    };
  },
  reserve(length) {
    let data: Float32Array | null = new Float32Array(length);
    return {
      view: () => data!,
      release: () => {
        data = null;
      },
    };
  },
  softmaxRows,
  logSoftmaxRows,
  logSumExpRows,
  probsRows,
  entropyLogitsRows,
  crossEntropyLabelsRows,
  crossEntropyTargetsRows,
  klLogitsRows,
  jsDivergenceRows,
  distillationRows,
  vocabStatsRows,
  topKDistillationRows,
};

/** The pure TypeScript backend; 16-bit logits are widened to float32 a chunk of rows at a time. */
export const jsKernels: RowKernels = widenHalfLogits(float32Kernels);
