/**
 * Float64 oracle for the tests: every operation written directly from its formula, row by row,
 * with no shared code with either backend. Inputs are float32 arrays; all arithmetic is float64.
 */

export function rowsOf(data: Float32Array, classes: number): number[][] {
  const rows: number[][] = [];
  for (let r = 0; r < data.length / classes; r++) rows.push(Array.from(data.subarray(r * classes, (r + 1) * classes)));
  return rows;
}

/** log softmax(z / T) of one row, through the maximum of z / T. */
export function logSoftmax64(z: number[], temperature = 1): number[] {
  const x = z.map((v) => v / temperature);
  const m = Math.max(...x);
  const lse = m + Math.log(x.reduce((s, v) => s + Math.exp(v - m), 0));
  return x.map((v) => v - lse);
}

export function softmax64(z: number[], temperature = 1): number[] {
  return logSoftmax64(z, temperature).map(Math.exp);
}

export function logSumExp64(z: number[], temperature = 1): number {
  const x = z.map((v) => v / temperature);
  const m = Math.max(...x);
  return m + Math.log(x.reduce((s, v) => s + Math.exp(v - m), 0));
}

/** 0 * log(anything) = 0. */
function xlogy(x: number, y: number): number {
  return x === 0 ? 0 : x * Math.log(y);
}

export function entropy64(p: number[]): number {
  return -p.reduce((s, v) => s + xlogy(v, v), 0);
}

export function crossEntropyProbs64(p: number[], q: number[]): number {
  return -p.reduce((s, v, i) => s + xlogy(v, q[i]), 0);
}

export function klProbs64(p: number[], q: number[]): number {
  return p.reduce((s, v, i) => s + (v === 0 ? 0 : v * (Math.log(v) - Math.log(q[i]))), 0);
}

/** Entropy of softmax(z / T) and its gradient with respect to z. */
export function entropyOfLogits64(z: number[], temperature = 1): { loss: number; grad: number[] } {
  const logP = logSoftmax64(z, temperature);
  const p = logP.map(Math.exp);
  const h = -p.reduce((s, v, i) => s + (v === 0 ? 0 : v * logP[i]), 0);
  return { loss: h, grad: p.map((v, i) => (v === 0 ? 0 : (-v * (logP[i] + h)) / temperature)) };
}

/** Cross-entropy of one row with a label, smoothing and weights; gradient of this row's loss. */
export function crossEntropyLabel64(
  z: number[],
  label: number,
  options: { temperature?: number; labelSmoothing?: number; weight?: number[] } = {},
): { loss: number; grad: number[] } {
  const T = options.temperature ?? 1;
  const eps = options.labelSmoothing ?? 0;
  const C = z.length;
  const w = options.weight ?? z.map(() => 1);
  const logQ = logSoftmax64(z, T);
  const q = logQ.map(Math.exp);

  // The target distribution weighted per class: (1 - eps) w_y onehot + (eps / C) w.
  const target = w.map((wc, c) => (c === label ? (1 - eps) * wc : 0) + (eps / C) * wc);
  const mass = target.reduce((s, v) => s + v, 0);
  const loss = -target.reduce((s, t, c) => s + (t === 0 ? 0 : t * logQ[c]), 0);
  return { loss, grad: q.map((qc, c) => (qc * mass - target[c]) / T) };
}

/** KL(softmax(p / T) ‖ softmax(q / T)) of one row and its gradient with respect to q. */
export function klLogits64(p: number[], q: number[], temperature = 1): { loss: number; grad: number[] } {
  const logP = logSoftmax64(p, temperature);
  const logQ = logSoftmax64(q, temperature);
  const P = logP.map(Math.exp);
  const Q = logQ.map(Math.exp);
  const loss = P.reduce((s, v, i) => s + (v === 0 ? 0 : v * (logP[i] - logQ[i])), 0);
  return { loss, grad: Q.map((v, i) => (v - P[i]) / temperature) };
}

/** log(e^u + e^v) without overflow; -Infinity when both are -Infinity, NaN when either is NaN. */
function logAddExp64(u: number, v: number): number {
  const m = Math.max(u, v);
  if (m === -Infinity) return -Infinity;
  return m + Math.log1p(Math.exp(Math.min(u, v) - m));
}

/**
 * Generalized JSD of one row; the gradient by central differences of this same function.
 *
 * Every term is a KL term A (log A - log B) taken from log-probabilities, never A log(A / B)
 * from probabilities: at T = 0.1 a logit gap of 71 puts a probability below 1e-308, where
 * A / B overflows to Infinity (a finite KL read as +Infinity, and its central difference as
 * NaN) and B itself can underflow to 0. log M = logaddexp(log beta + log P, log(1 - beta) +
 * log Q) is finite wherever P or Q is nonzero. A term counts only where A > 0 (log A >
 * -Infinity), so a class masked in both rows adds 0 and never -Infinity - -Infinity. Where
 * A > 0 and B = 0 the term is +Infinity, even when e^(log A) underflows to 0.
 */
export function jsDivergence64(p: number[], q: number[], beta: number, temperature = 1): number {
  const logP = logSoftmax64(p, temperature);
  const logQ = logSoftmax64(q, temperature);
  const term = (la: number, lb: number) => {
    if (la === -Infinity) return 0;
    if (lb === -Infinity) return Infinity;
    return Math.exp(la) * (la - lb);
  };
  const kl = (logA: number[], logB: number[]) => logA.reduce((s, la, i) => s + term(la, logB[i]), 0);
  if (beta === 0) return kl(logP, logQ);
  if (beta === 1) return kl(logQ, logP);
  const logM = logP.map((lp, i) => logAddExp64(Math.log(beta) + lp, Math.log1p(-beta) + logQ[i]));
  return beta * kl(logP, logM) + (1 - beta) * kl(logQ, logM);
}

/**
 * Gradient of jsDivergence64 with respect to q, from its closed form Q_j (h_j - sum_i Q_i h_i) / T
 * with h = log Q - log P at beta = 1 and h = (1 - beta)(log Q - log M) below; (Q - P) / T at
 * beta = 0. Log-probabilities come straight from the logits, as in jsDivergence64.
 */
export function jsDivergenceGrad64(p: number[], q: number[], beta: number, temperature = 1): number[] {
  const logP = logSoftmax64(p, temperature);
  const logQ = logSoftmax64(q, temperature);
  const Q = logQ.map(Math.exp);
  if (beta === 0) return Q.map((v, i) => (v - Math.exp(logP[i])) / temperature);

  const h = logQ.map((lq, i) => {
    if (Q[i] === 0) return 0;
    if (beta === 1) return lq - logP[i];
    return (1 - beta) * (lq - logAddExp64(Math.log(beta) + logP[i], Math.log1p(-beta) + lq));
  });
  const meanH = h.reduce((s, v, i) => s + Q[i] * v, 0);
  return Q.map((v, i) => (v === 0 ? 0 : (v * (h[i] - meanH)) / temperature));
}

/** Central finite difference of `f` with respect to each element of `x`, in float64. */
export function numericGrad(f: (x: number[]) => number, x: number[], h = 1e-5): number[] {
  return x.map((_, i) => {
    const plus = x.slice();
    const minus = x.slice();
    plus[i] += h;
    minus[i] -= h;
    return (f(plus) - f(minus)) / (2 * h);
  });
}

/** Seeded generator of normal float32 values (mulberry32 and Box-Muller). */
export function randomNormal(n: number, seed: number, std = 1): Float32Array {
  let state = seed >>> 0;
  const uniform = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(uniform(), 1e-12);
    out[i] = std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * uniform());
  }
  return out;
}

/**
 * Returns the first index where two arrays differ bit for bit (Object.is, so NaN equals NaN and
 * 0 differs from -0), 0 when their lengths differ, and -1 when they are identical.
 */
export function firstDifference(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return 0;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

/** Largest |a - b| / (atol + rtol |b|) over the arrays; <= 1 means within tolerance. */
export function worstRatio(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, atol: number): number {
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const ratio = Math.abs(actual[i] - expected[i]) / (atol + rtol * Math.abs(expected[i]));
    if (!(ratio <= worst)) worst = ratio;
  }
  return worst;
}

// Reduced losses of whole matrices, as the README defines the reductions. Each returns the
// per-row losses, the reduced loss, and `objective`: the scalar whose gradient the matching
// `...WithGrad` function returns (the reduced loss, or sum_i gradOutput_i loss_i for `none`).

export type Reduction64 = "none" | "sum" | "mean" | "batchmean";

export interface Reduced64 {
  rowLoss: number[];
  /** The reduced loss; for `none` the plain sum of the rows. */
  loss: number;
  objective: number;
}

/** Reduces row losses: `mean` divides by `meanDivisor`, `batchmean` by the number of rows. */
function reduceRows64(rowLoss: number[], reduction: Reduction64, meanDivisor: number, gradOutput?: number[]): Reduced64 {
  const sum = rowLoss.reduce((s, v) => s + v, 0);
  if (reduction === "none") {
    const objective = rowLoss.reduce((s, v, i) => s + (gradOutput === undefined ? 1 : gradOutput[i]) * v, 0);
    return { rowLoss, loss: sum, objective };
  }
  let loss = sum / meanDivisor;
  if (reduction === "sum") loss = sum;
  else if (reduction === "batchmean") loss = sum / rowLoss.length;
  return { rowLoss, loss, objective: loss };
}

export interface ReducedOptions64 {
  temperature: number;
  reduction: Reduction64;
  gradOutput?: number[];
}

export function entropyOfLogitsReduced64(z: number[][], o: ReducedOptions64): Reduced64 {
  const classes = z[0].length;
  const rows = z.map((row) => entropyOfLogits64(row, o.temperature).loss);
  return reduceRows64(rows, o.reduction, z.length * classes, o.gradOutput);
}

export interface CrossEntropyOptions64 extends ReducedOptions64 {
  labelSmoothing: number;
  weight?: number[];
  ignoreIndex: number;
}

/** Cross-entropy with labels; ignored rows add nothing, and `mean` divides by the summed weight. */
export function crossEntropyLabelsReduced64(z: number[][], labels: number[], o: CrossEntropyOptions64): Reduced64 {
  let weightSum = 0;
  const rows = z.map((row, i) => {
    if (labels[i] === o.ignoreIndex) return 0;
    weightSum += o.weight === undefined ? 1 : o.weight[labels[i]];
    return crossEntropyLabel64(row, labels[i], o).loss;
  });
  return reduceRows64(rows, o.reduction, weightSum, o.gradOutput);
}

/** Cross-entropy with probability targets t: -sum_c w_c t'_c log q_c with t' = (1 - eps) t + eps / C. */
export function crossEntropyTargetsReduced64(z: number[][], targets: number[][], o: CrossEntropyOptions64): Reduced64 {
  const rows = z.map((row, i) => {
    const C = row.length;
    const logQ = logSoftmax64(row, o.temperature);
    return -logQ.reduce((s, lq, c) => {
      const t = ((1 - o.labelSmoothing) * targets[i][c] + o.labelSmoothing / C) * (o.weight === undefined ? 1 : o.weight[c]);
      return s + (t === 0 ? 0 : t * lq);
    }, 0);
  });
  return reduceRows64(rows, o.reduction, z.length, o.gradOutput);
}

export function klDivergenceReduced64(p: number[][], q: number[][], o: ReducedOptions64): Reduced64 {
  const rows = p.map((row, i) => klLogits64(row, q[i], o.temperature).loss);
  return reduceRows64(rows, o.reduction, p.length * p[0].length, o.gradOutput);
}

export function jsDivergenceReduced64(p: number[][], q: number[][], beta: number, o: ReducedOptions64): Reduced64 {
  const rows = p.map((row, i) => jsDivergence64(row, q[i], beta, o.temperature));
  return reduceRows64(rows, o.reduction, p.length * p[0].length, o.gradOutput);
}

export interface DistillationOptions64 {
  temperature: number;
  alpha: number;
  labels?: number[];
  ignoreIndex: number;
}

/**
 * alpha T^2 KL(teacher_T ‖ student_T) + (1 - alpha) CE(student, label) averaged over the rows
 * that are not ignored; without labels, T^2 KL averaged over every row.
 */
export function distillationReduced64(student: number[][], teacher: number[][], o: DistillationOptions64): Reduced64 {
  const T2 = o.temperature * o.temperature;
  let counted = 0;
  const rows = student.map((row, i) => {
    const soft = T2 * klLogits64(teacher[i], row, o.temperature).loss;
    if (o.labels === undefined) {
      counted++;
      return soft;
    }
    if (o.labels[i] === o.ignoreIndex) return 0;
    counted++;
    // A hard term of weight 0 (alpha 1) adds 0 even on a masked label, as documented for
    // cross-entropy, but still carries a NaN of the row.
    const hard = crossEntropyLabel64(row, o.labels[i]).loss;
    if (o.alpha !== 1) return o.alpha * soft + (1 - o.alpha) * hard;
    return soft + (Number.isNaN(hard) ? NaN : 0);
  });
  return reduceRows64(rows, "mean", counted);
}

/**
 * Central differences of `f` with respect to each element of the row-major matrix `x`, with a
 * step of `h` in every coordinate. Coordinates that are -Infinity (masked) get 0.
 */
export function numericGradMatrix(f: (x: number[][]) => number, x: number[][], h: number): number[] {
  const grad: number[] = [];
  for (let r = 0; r < x.length; r++) {
    for (let c = 0; c < x[r].length; c++) {
      if (x[r][c] === -Infinity) {
        grad.push(0);
        continue;
      }
      const plus = x.map((row) => row.slice());
      const minus = x.map((row) => row.slice());
      plus[r][c] += h;
      minus[r][c] -= h;
      grad.push((f(plus) - f(minus)) / (2 * h));
    }
  }
  return grad;
}

export interface TopKOptions64 {
  tail: "drop" | "bucket";
  temperature: number;
  alpha: number;
  labels?: number[];
  ignoreIndex: number;
}

/**
 * The teacher of one row of top-k distillation, from its definition: the tokens that are not
 * padding (-1), their target probabilities P and the tail mass r.
 */
export function topKTeacher64(
  indices: number[],
  values: number[],
  classes: number,
  tail: "drop" | "bucket",
  temperature: number,
): { tokens: number[]; target: number[]; tailMass: number } {
  const tokens = indices.filter((i) => i >= 0);
  const v = values.filter((_, j) => indices[j] >= 0);
  if (tail === "drop") {
    return { tokens, target: softmax64(v, temperature), tailMass: 0 };
  }

  const p = v.map(Math.exp);
  const sum = p.reduce((s, x) => s + x, 0);
  if (sum >= 1 || tokens.length === classes) return { tokens, target: p.map((x) => x / sum), tailMass: 0 };
  return { tokens, target: p, tailMass: 1 - sum };
}

/**
 * Soft term of one row of top-k distillation without the T^2 factor: KL from the teacher over
 * the tokens and the tail bucket to the student softmax(s / T) over every class, with its
 * gradient with respect to s in closed form: (Q_i - P_i) / T on the tokens and
 * Q_i (1 - r / Q_tail) / T elsewhere.
 */
export function topKSoft64(
  student: number[],
  indices: number[],
  values: number[],
  tail: "drop" | "bucket",
  temperature: number,
): { loss: number; grad: number[] } {
  const { tokens, target, tailMass } = topKTeacher64(indices, values, student.length, tail, temperature);
  const logQ = logSoftmax64(student, temperature);
  const inTop = new Set(tokens);

  // log Q_tail as a logsumexp of the tail's log-probabilities, exact when they are tiny.
  const tailLogQ = logQ.filter((_, i) => !inTop.has(i));
  const tailMax = tailLogQ.length === 0 ? -Infinity : Math.max(...tailLogQ);
  const logTail = tailMax === -Infinity ? -Infinity : tailMax + Math.log(tailLogQ.reduce((s, x) => s + Math.exp(x - tailMax), 0));

  let loss = tailMass === 0 ? 0 : tailMass * (Math.log(tailMass) - logTail);
  tokens.forEach((token, j) => {
    if (target[j] !== 0) loss += target[j] * (Math.log(target[j]) - logQ[token]);
  });

  const grad = logQ.map((lq) => Math.exp(lq) / temperature);
  tokens.forEach((token, j) => (grad[token] -= target[j] / temperature));
  if (tailMass !== 0) {
    logQ.forEach((lq, i) => {
      if (!inTop.has(i)) grad[i] -= (tailMass * Math.exp(lq - logTail)) / temperature;
    });
  }
  return { loss, grad };
}

/**
 * Reduced top-k distillation: per row alpha T^2 soft + (1 - alpha) CE(student, label); ignored
 * rows add 0 and `mean` divides by the rows that count. `grad` is that of `objective`.
 */
export function topKDistillationReduced64(
  student: number[][],
  indices: number[][],
  values: number[][],
  o: TopKOptions64,
  reduction: "none" | "sum" | "mean" = "mean",
  gradOutput?: number[],
): Reduced64 & { grad: number[] } {
  const T2 = o.temperature * o.temperature;
  const alpha = o.labels === undefined ? 1 : o.alpha;
  let counted = 0;
  const rowGrads: number[][] = [];
  const rows = student.map((row, i) => {
    if (o.labels !== undefined && o.labels[i] === o.ignoreIndex) {
      rowGrads.push(row.map(() => 0));
      return 0;
    }
    counted++;
    const soft = topKSoft64(row, indices[i], values[i], o.tail, o.temperature);
    const grad = soft.grad.map((g) => alpha * T2 * g);
    let loss = alpha * T2 * soft.loss;
    if (o.labels !== undefined && alpha !== 1) {
      const hard = crossEntropyLabel64(row, o.labels[i]);
      loss += (1 - alpha) * hard.loss;
      hard.grad.forEach((g, c) => (grad[c] += (1 - alpha) * g));
    }
    rowGrads.push(grad);
    return loss;
  });

  const reduced = reduceRows64(rows, reduction, counted, gradOutput);
  const rowScale = (i: number) => {
    if (reduction === "none") return gradOutput === undefined ? 1 : gradOutput[i];
    return reduction === "sum" ? 1 : 1 / counted;
  };
  return { ...reduced, grad: rowGrads.flatMap((g, i) => g.map((x) => x * rowScale(i))) };
}
