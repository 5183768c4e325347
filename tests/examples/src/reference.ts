/**
 * Float64 values that the example tests compare with, computed from the same float32 inputs.
 */

/** Returns log softmax(z / T) of each row in float64, row-major like the input. */
export function logSoftmax64(logits: ArrayLike<number>, classes: number, temperature = 1): Float64Array {
  const out = new Float64Array(logits.length);
  for (let start = 0; start < logits.length; start += classes) {
    let max = -Infinity;
    for (let c = 0; c < classes; c++) max = Math.max(max, logits[start + c] / temperature);
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += Math.exp(logits[start + c] / temperature - max);
    const lse = max + Math.log(sum);
    for (let c = 0; c < classes; c++) out[start + c] = logits[start + c] / temperature - lse;
  }
  return out;
}

/** Returns the entropy of softmax(z) per row, in nats. */
export function entropy64(logits: ArrayLike<number>, classes: number): Float64Array {
  const logQ = logSoftmax64(logits, classes);
  const rows = logits.length / classes;
  return Float64Array.from({ length: rows }, (_, r) => {
    let h = 0;
    for (let c = 0; c < classes; c++) h -= Math.exp(logQ[r * classes + c]) * logQ[r * classes + c];
    return h;
  });
}

/** Returns the mean over rows of T² KL(softmax(p / T) ‖ softmax(q / T)). */
export function distillationLoss64(teacher: ArrayLike<number>, student: ArrayLike<number>, classes: number, temperature: number): number {
  const logP = logSoftmax64(teacher, classes, temperature);
  const logQ = logSoftmax64(student, classes, temperature);
  let sum = 0;
  for (let i = 0; i < logP.length; i++) sum += Math.exp(logP[i]) * (logP[i] - logQ[i]);
  return (temperature * temperature * sum) / (teacher.length / classes);
}

/** Returns x W in float64 for x of shape [rows, stride], of which the first `inner` columns are used, and W of shape [inner, columns]. */
export function matMul64(x: ArrayLike<number>, weights: ArrayLike<number>, rows: number, stride: number, inner: number, columns: number): Float64Array {
  const out = new Float64Array(rows * columns);
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < inner; k++) {
      for (let c = 0; c < columns; c++) out[r * columns + c] += x[r * stride + k] * weights[k * columns + c];
    }
  }
  return out;
}

/** Returns the largest |actual - expected| / (absolute + relative |expected|), at most 1 when every entry is within the tolerance; NaN counts as Infinity. */
export function worstRatio(actual: ArrayLike<number>, expected: ArrayLike<number>, relative: number, absolute: number): number {
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const ratio = Math.abs(actual[i] - expected[i]) / (absolute + relative * Math.abs(expected[i]));
    worst = Math.max(worst, Number.isNaN(ratio) ? Infinity : ratio);
  }
  return worst;
}

/** Returns `count` uniform numbers in [-scale, scale) from a 32-bit seed, as float32 (mulberry32). */
export function randomLogits(count: number, scale: number, seed: number): Float32Array {
  let state = seed >>> 0;
  return Float32Array.from({ length: count }, () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 * scale - scale;
  });
}
