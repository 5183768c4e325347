// exp for float32 lanes. Row tails go through the same vector code (padded partial vectors), so
// every element of a row is rounded the same way.
//
// Algorithm "rr2_p5": n = round(x * log2(e)) by the magic-bias trick, 2^n built by shifting
// the biased integer into the exponent field; r = x - n * ln2 with ln2 split in a high part
// (exact product with n) and a low part, so r is accurate to a few ulp; exp(r) by a degree-5
// polynomial on |r| <= ln2 / 2; result s + (r * s) * p(r).
//
// Domain: the softmax kernels call it with x <= 0. Results are exactly 0 for
// x < -87.33654 (where exp(x) would be a float32 subnormal) and for -Infinity; NaN stays NaN.
// Measured error: see `tools/exp-ulp.mjs`, which compares every float32 in [-87.34, 0] with
// Math.exp; the maximum is written down in packages/kernels/README.md.

// 1.5 * 2^23 + 127: adding it to a float in [-2^22, 2^22] rounds it to an integer held in the
// low mantissa bits, already offset by the exponent bias 127.
// @ts-ignore: decorator
@inline const MAGIC_BIAS: f32 = reinterpret<f32>(0x4B40007F); // 12583039.0

// @ts-ignore: decorator
@inline const LOG2E: f32 = reinterpret<f32>(0x3FB8AA3B); // 1.44269502 = log2(e)

// -ln2 split: HI keeps 16 significant bits, so n * MINUS_LN2_HI is exact for |n| < 2^8.
// @ts-ignore: decorator
@inline const MINUS_LN2_HI: f32 = reinterpret<f32>(0xBF317200); // -0.693145752
// @ts-ignore: decorator
@inline const MINUS_LN2_LO: f32 = reinterpret<f32>(0xB5BFBE8E); // -1.42860677e-6

// Coefficients of p(r) ~ (exp(r) - 1) / r on [-ln2 / 2, ln2 / 2], fitted to minimize the maximum
// relative error of 1 + r p(r). That error is 9.5e-8 with these float32 values, before rounding
// in the evaluation. `tools/fit-exp.py` recomputes them.
// @ts-ignore: decorator
@inline const C5: f32 = reinterpret<f32>(0x3C07D3AF); // 8.2902154e-3
// @ts-ignore: decorator
@inline const C4: f32 = reinterpret<f32>(0x3D2B9CEB); // 4.18976955e-2
// @ts-ignore: decorator
@inline const C3: f32 = reinterpret<f32>(0x3E2AAD35); // 0.166676357
// @ts-ignore: decorator
@inline const C2: f32 = reinterpret<f32>(0x3EFFFEE3); // 0.499991506
// @ts-ignore: decorator
@inline const C1: f32 = reinterpret<f32>(0x3F7FFFFB); // 0.999999702

// Below ln(2^-126) the result would be subnormal; it is flushed to 0 instead.
// @ts-ignore: decorator
@inline const UNDERFLOW_CUTOFF: f32 = reinterpret<f32>(0xC2AEAC50); // -87.33654

// The same constants as a table in static memory. V8 (Node 20) materializes each v128.const
// operand anew inside a loop with several instructions, while a 4-byte load with splat is one
// instruction: reading the constants from here made this loop about 1.5x faster.
const EXP_TABLE: StaticArray<f32> = [
  MAGIC_BIAS,
  LOG2E,
  MINUS_LN2_HI,
  MINUS_LN2_LO,
  C5,
  C4,
  C3,
  C2,
  C1,
  UNDERFLOW_CUTOFF,
];

// Index of each constant in EXP_TABLE.
// @ts-ignore: decorator
@inline const AT_MAGIC_BIAS: usize = 0;
// @ts-ignore: decorator
@inline const AT_LOG2E: usize = 1;
// @ts-ignore: decorator
@inline const AT_MINUS_LN2_HI: usize = 2;
// @ts-ignore: decorator
@inline const AT_MINUS_LN2_LO: usize = 3;
// @ts-ignore: decorator
@inline const AT_C5: usize = 4;
// @ts-ignore: decorator
@inline const AT_C4: usize = 5;
// @ts-ignore: decorator
@inline const AT_C3: usize = 6;
// @ts-ignore: decorator
@inline const AT_C2: usize = 7;
// @ts-ignore: decorator
@inline const AT_C1: usize = 8;
// @ts-ignore: decorator
@inline const AT_UNDERFLOW_CUTOFF: usize = 9;

/** Returns entry `index` of EXP_TABLE in all four lanes. */
// @ts-ignore: decorator
@inline
function table(index: usize): v128 {
  return v128.load32_splat(changetype<usize>(EXP_TABLE) + (index << 2));
}

/** exp(x) for each lane; exact 0 below UNDERFLOW_CUTOFF and for -Infinity, NaN stays NaN. */
// @ts-ignore: decorator
@inline
export function exp_f32x4_rr2_p5(x: v128): v128 {
  const magic = table(AT_MAGIC_BIAS);

  // n = round(x / ln2); s = 2^n from the biased integer in the low bits of n.
  let n = f32x4.add(f32x4.mul(x, table(AT_LOG2E)), magic);
  const s = i32x4.shl(n, 23);
  n = f32x4.sub(n, magic);

  // r = x - n ln2 in two steps, |r| <= ln2 / 2 up to rounding.
  let r = f32x4.add(f32x4.mul(n, table(AT_MINUS_LN2_HI)), x);
  r = f32x4.add(f32x4.mul(n, table(AT_MINUS_LN2_LO)), r);

  // p = (exp(r) - 1) / r by Horner's rule.
  let p = f32x4.add(f32x4.mul(table(AT_C5), r), table(AT_C4));
  p = f32x4.add(f32x4.mul(p, r), table(AT_C3));
  p = f32x4.add(f32x4.mul(p, r), table(AT_C2));
  p = f32x4.add(f32x4.mul(p, r), table(AT_C1));

  // exp(x) = s * (1 + r p) = s + (r s) p.
  const rs = f32x4.mul(r, s);
  const result = f32x4.add(f32x4.mul(rs, p), s);

  // Lanes below the cutoff (including -Infinity) hold garbage exponents: force them to 0.
  return v128.andnot(result, f32x4.lt(x, table(AT_UNDERFLOW_CUTOFF)));
}
