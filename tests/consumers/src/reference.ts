/**
 * Float64 reference values of the operations that the consumer program calls, computed from the
 * same float32 inputs.
 */

/** logsumexp(z / T) of one row. */
function logSumExpRow(logits: Float32Array, start: number, classes: number, temperature: number): number {
  let max = -Infinity;
  for (let c = 0; c < classes; c++) max = Math.max(max, logits[start + c] / temperature);
  let sum = 0;
  for (let c = 0; c < classes; c++) sum += Math.exp(logits[start + c] / temperature - max);
  return max + Math.log(sum);
}

/** logsumexp(z / T) per row. */
export function logSumExp64(logits: Float32Array, classes: number, temperature = 1): Float64Array {
  const rows = logits.length / classes;
  return Float64Array.from({ length: rows }, (_, r) => logSumExpRow(logits, r * classes, classes, temperature));
}

/** softmax(z / T), row-major like the input. */
export function softmax64(logits: Float32Array, classes: number, temperature = 1): Float64Array {
  const out = new Float64Array(logits.length);
  for (let start = 0; start < logits.length; start += classes) {
    const lse = logSumExpRow(logits, start, classes, temperature);
    for (let c = 0; c < classes; c++) out[start + c] = Math.exp(logits[start + c] / temperature - lse);
  }
  return out;
}

/** Per-row cross-entropy with labels and label smoothing ε, its mean and the mean's gradient. */
export interface CrossEntropy64 {
  perRow: Float64Array;
  mean: number;
  grad: Float64Array;
}

/**
 * PyTorch's `cross_entropy` without weights or ignored rows: loss_i = (1 - ε)(-log q_{i,y_i}) +
 * (ε / C) sum_c (-log q_{i,c}), and the gradient of the mean is (q - t') / rows with
 * t' = (1 - ε) onehot(y_i) + ε / C.
 */
export function crossEntropy64(logits: Float32Array, labels: ArrayLike<number>, classes: number, labelSmoothing = 0): CrossEntropy64 {
  const rows = logits.length / classes;
  const perRow = new Float64Array(rows);
  const grad = new Float64Array(logits.length);

  for (let r = 0; r < rows; r++) {
    const start = r * classes;
    const lse = logSumExpRow(logits, start, classes, 1);
    let smoothTerm = 0;
    for (let c = 0; c < classes; c++) {
      const logQ = logits[start + c] - lse;
      smoothTerm -= logQ;
      const target = (c === labels[r] ? 1 - labelSmoothing : 0) + labelSmoothing / classes;
      grad[start + c] = (Math.exp(logQ) - target) / rows;
    }
    perRow[r] = (1 - labelSmoothing) * (lse - logits[start + labels[r]]) + (labelSmoothing / classes) * smoothTerm;
  }

  const mean = perRow.reduce((sum, value) => sum + value, 0) / rows;
  return { perRow, mean, grad };
}

/** The entry that is furthest outside the tolerance, or the largest error when all are inside. */
export interface WorstEntry {
  index: number;
  actual: number;
  expected: number;
  /** |actual - expected| / (absolute + relative |expected|): at most 1 inside the tolerance. */
  ratio: number;
}

/**
 * Compares float32 results with float64 values entry by entry. The default tolerance, 1e-5
 * relative plus 1e-7 absolute, is 80 to 170 float32 ulp: well above the kernels' 2.5-ulp exp and
 * log, and far below the error of a wrong temperature, label or row.
 */
export function worstEntry(actual: ArrayLike<number>, expected: ArrayLike<number>, relative = 1e-5, absolute = 1e-7): WorstEntry {
  let worst: WorstEntry = { index: -1, actual: NaN, expected: NaN, ratio: 0 };
  for (let i = 0; i < expected.length; i++) {
    // JSON turns NaN into null, which arithmetic would read as 0.
    const error = typeof actual[i] === "number" ? Math.abs(actual[i] - expected[i]) : NaN;
    const ratio = Number.isNaN(error) ? Infinity : error / (absolute + relative * Math.abs(expected[i]));
    if (worst.index < 0 || ratio > worst.ratio) worst = { index: i, actual: actual[i], expected: expected[i], ratio };
  }
  return worst;
}
