/**
 * Row clamping and reductions shared by the kit's operations and the vocabulary accumulator.
 * Sums run in float64 over the float64 row values.
 */
import type { Reduction } from "./types.js";

/**
 * Clamps each row value into [lower, upper], the mathematical range of the measure, which
 * float32 rounding can leave by a few ulp (a KL of -1e-9, a JSD of log 2 + 2e-9). NaN stays NaN.
 */
export function clampRows(rowLoss: Float64Array, lower: number, upper: number): void {
  upper = float32AtMost(upper);
  for (let i = 0; i < rowLoss.length; i++) {
    if (rowLoss[i] < lower) rowLoss[i] = lower;
    else if (rowLoss[i] > upper) rowLoss[i] = upper;
  }
}

// One float32 and its bits, shared so that float32AtMost allocates nothing per call.
const float32Bits = new Float32Array(1);
const int32Bits = new Int32Array(float32Bits.buffer);

/** Returns the largest float32 value <= x, so a bound survives the rounding of `none` results. */
function float32AtMost(x: number): number {
  const rounded = Math.fround(x);
  if (rounded <= x) return rounded;
  float32Bits[0] = rounded;
  int32Bits[0] += rounded > 0 ? -1 : 1;
  return float32Bits[0];
}

/** Reduces per-row losses; `meanDivisor` is the divisor of `mean`. Sums run in float64. */
export function reduce(rowLoss: Float64Array, reduction: Reduction, meanDivisor: number): number | Float32Array {
  if (reduction === "none") return Float32Array.from(rowLoss);

  let total = 0;
  for (let i = 0; i < rowLoss.length; i++) total += rowLoss[i];
  if (reduction === "sum") return total;
  if (reduction === "batchmean") return total / rowLoss.length;
  return total / meanDivisor;
}

