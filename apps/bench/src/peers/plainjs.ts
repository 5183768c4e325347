/**
 * The `plainjs` peer: the textbook loops that a caller would write without a library, the
 * baseline of the `ratioVsPlainJs` ratios. Each row subtracts its max before `Math.exp`, so
 * that no exponential overflows.
 */

/** Writes the softmax of each row of `logits` (row-major, `classes` per row) into `out`. */
export function plainSoftmax(logits: Float32Array, classes: number, out: Float32Array): Float32Array {
  for (let start = 0; start < logits.length; start += classes) {
    const end = start + classes;
    let max = -Infinity;
    for (let i = start; i < end; i++) {
      if (logits[i] > max) max = logits[i];
    }

    let sum = 0;
    for (let i = start; i < end; i++) {
      const e = Math.exp(logits[i] - max);
      out[i] = e;
      sum += e;
    }

    for (let i = start; i < end; i++) {
      out[i] /= sum;
    }
  }
  return out;
}

/** Writes the log-softmax of each row, z - max - log(sum of exp(z - max)), into `out`. */
export function plainLogSoftmax(logits: Float32Array, classes: number, out: Float32Array): Float32Array {
  for (let start = 0; start < logits.length; start += classes) {
    const end = start + classes;
    let max = -Infinity;
    for (let i = start; i < end; i++) {
      if (logits[i] > max) max = logits[i];
    }

    let sum = 0;
    for (let i = start; i < end; i++) {
      sum += Math.exp(logits[i] - max);
    }

    const shift = max + Math.log(sum);
    for (let i = start; i < end; i++) {
      out[i] = logits[i] - shift;
    }
  }
  return out;
}

/**
 * Returns the mean cross-entropy log(sum of exp(z - max)) + max - z[label] over the rows whose
 * label is not `ignoreIndex`, as logitkit's `crossEntropy` does; NaN when every row is ignored.
 */
export function plainCrossEntropy(logits: Float32Array, labels: Int32Array, classes: number, ignoreIndex: number): number {
  let total = 0;
  let counted = 0;

  for (let row = 0; row < labels.length; row++) {
    const label = labels[row];
    if (label === ignoreIndex) continue;
    if (label < 0 || label >= classes) {
      throw new RangeError(`invalid label ${label} in row ${row}: expected a class from 0 to ${classes - 1} or ${ignoreIndex}`);
    }

    const start = row * classes;
    const end = start + classes;
    let max = -Infinity;
    for (let i = start; i < end; i++) {
      if (logits[i] > max) max = logits[i];
    }

    let sum = 0;
    for (let i = start; i < end; i++) {
      sum += Math.exp(logits[i] - max);
    }

    total += Math.log(sum) + max - logits[start + label];
    counted++;
  }
  return counted === 0 ? NaN : total / counted;
}
