/**
 * exp(x) for x <= 0 in float64, for the hot loops of the `js` backend. On the 2-core AMD EPYC
 * benchmark machine under Node 20 it took 10 ns per call against 26 ns for `Math.exp` in a
 * plain loop, and softmax at 8 x 50257 went from about 19 ms to 12 ms.
 *
 * Method: j = round(-x * 64 / ln2), so x = -j ln2 / 64 + r with |r| <= ln2 / 128; then
 * exp(x) = 2^-(j >> 6) * 2^-((j & 63) / 64) * exp(r), the two powers of 2 from tables and
 * exp(r) from its Taylor series to r^4 (truncation error below 4e-11 relative). Measured
 * maximum relative error against `Math.exp`: 4.2e-14 over 2^20 random x in [-90, 0].
 *
 * Like the wasm kernels' exp, it returns exactly 0 below -87.33654 (where a float32 result
 * would be subnormal) and for -Infinity, so both backends drop the same terms; NaN stays NaN.
 */

const SIXTY_FOUR_OVER_LN2 = 64 / Math.LN2;

// ln2 / 64 split so that j * LN2_64_HI is exact for the j that occur (j < 2^13).
const LN2_64_HI = Math.fround(Math.LN2 / 64);
const LN2_64_LO = Math.LN2 / 64 - LN2_64_HI;

/** Same cutoff as the kernels: ln(2^-126), the smallest normal float32. */
const UNDERFLOW_CUTOFF = -87.33654;

/** 2^-(i / 64) for i in [0, 64). */
const FRACTION_POWERS = Float64Array.from({ length: 64 }, (_, i) => 2 ** (-i / 64));

/** 2^-i for i in [0, 128), enough for j >> 6 at the cutoff (j <= 8072). */
const INTEGER_POWERS = Float64Array.from({ length: 128 }, (_, i) => 2 ** -i);

/** Returns exp(x) for x <= 0; larger x fall back to `Math.exp`. */
export function expNonPositive(x: number): number {
  if (!(x >= UNDERFLOW_CUTOFF)) return x !== x ? x : 0;
  if (x > 0) return Math.exp(x);

  // j >= 0 because x <= 0; `| 0` truncates the non-negative 0.5 - x * 64 / ln2 to round.
  const j = (0.5 - x * SIXTY_FOUR_OVER_LN2) | 0;
  const r = x + j * LN2_64_HI + j * LN2_64_LO;
  const series = 1 + r * (1 + r * (0.5 + r * (1 / 6 + r * (1 / 24))));
  return INTEGER_POWERS[j >> 6] * FRACTION_POWERS[j & 63] * series;
}
