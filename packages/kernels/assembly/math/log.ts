// Natural logarithm for float32 lanes.
//
// Algorithm: x = 2^k * m with m in [2/3, 4/3) (subnormals are first scaled by 2^23), then
// log(m) = 2 atanh(s) with s = (m - 1) / (m + 1), |s| <= 1/5, by the odd series
// 2 s (1 + s^2/3 + s^4/5 + ... + s^10/11), whose truncation error is below 2e-9 relative;
// log x = k ln2_hi + (k ln2_lo + log m). Special values: log 0 = -Infinity, log of a negative
// number or NaN is NaN, log(+Infinity) = +Infinity.

// Bits of 2/3: subtracting them from x's bits puts the mantissa range [2/3, 4/3) on one exponent.
// @ts-ignore: decorator
@inline const TWO_THIRDS_BITS: i32 = 0x3F2AAAAB;

// @ts-ignore: decorator
@inline const LN2_HI: f32 = reinterpret<f32>(0x3F317200); // 0.693145752: ln2 to 16 bits, so k ln2_hi is exact
// @ts-ignore: decorator
@inline const LN2_LO: f32 = reinterpret<f32>(0x35BFBE8E); // 1.42860677e-6 = ln2 - ln2_hi

// @ts-ignore: decorator
@inline const TWO_POW_23: f32 = reinterpret<f32>(0x4B000000); // 8388608
// @ts-ignore: decorator
@inline const MIN_NORMAL: f32 = reinterpret<f32>(0x00800000); // 1.17549435e-38

// The constants as tables in static memory, loaded with load32_splat, because V8 (Node 20)
// rebuilds each v128.const operand inside a loop with several instructions (see exp.ts).
const LOG_F32_TABLE: StaticArray<f32> = [
  MIN_NORMAL,
  TWO_POW_23,
  1,
  <f32>(1.0 / 11.0),
  <f32>(1.0 / 9.0),
  <f32>(1.0 / 7.0),
  <f32>(1.0 / 5.0),
  <f32>(1.0 / 3.0),
  LN2_LO,
  LN2_HI,
  -Infinity,
  Infinity,
];
const LOG_I32_TABLE: StaticArray<i32> = [TWO_THIRDS_BITS, 0x007fffff, -23];

// Index of each constant in LOG_F32_TABLE.
// @ts-ignore: decorator
@inline const AT_MIN_NORMAL: usize = 0;
// @ts-ignore: decorator
@inline const AT_TWO_POW_23: usize = 1;
// @ts-ignore: decorator
@inline const AT_ONE: usize = 2;
// @ts-ignore: decorator
@inline const AT_ONE_11TH: usize = 3;
// @ts-ignore: decorator
@inline const AT_ONE_9TH: usize = 4;
// @ts-ignore: decorator
@inline const AT_ONE_7TH: usize = 5;
// @ts-ignore: decorator
@inline const AT_ONE_5TH: usize = 6;
// @ts-ignore: decorator
@inline const AT_ONE_3RD: usize = 7;
// @ts-ignore: decorator
@inline const AT_LN2_LO: usize = 8;
// @ts-ignore: decorator
@inline const AT_LN2_HI: usize = 9;
// @ts-ignore: decorator
@inline const AT_MINUS_INFINITY: usize = 10;
// @ts-ignore: decorator
@inline const AT_INFINITY: usize = 11;

// Index of each constant in LOG_I32_TABLE.
// @ts-ignore: decorator
@inline const AT_TWO_THIRDS_BITS: usize = 0;
// @ts-ignore: decorator
@inline const AT_MANTISSA_MASK: usize = 1;
// @ts-ignore: decorator
@inline const AT_SUBNORMAL_EXPONENT: usize = 2;

/** Returns entry `index` of LOG_F32_TABLE in all four lanes. */
// @ts-ignore: decorator
@inline
function f32_constant(index: usize): v128 {
  return v128.load32_splat(changetype<usize>(LOG_F32_TABLE) + (index << 2));
}

/** Returns entry `index` of LOG_I32_TABLE in all four lanes. */
// @ts-ignore: decorator
@inline
function i32_constant(index: usize): v128 {
  return v128.load32_splat(changetype<usize>(LOG_I32_TABLE) + (index << 2));
}

/** log(x) for each lane. */
// @ts-ignore: decorator
@inline
export function log_f32x4(x: v128): v128 {
  const zero = f32x4.splat(0);

  // Subnormal inputs are scaled into the normal range and their exponent corrected by -23.
  const subnormal = v128.and(f32x4.lt(x, f32_constant(AT_MIN_NORMAL)), f32x4.gt(x, zero));
  const scaled = v128.bitselect(f32x4.mul(x, f32_constant(AT_TWO_POW_23)), x, subnormal);
  const exponentFix = v128.and(subnormal, i32_constant(AT_SUBNORMAL_EXPONENT));

  // k = exponent of x relative to [2/3, 4/3); m = x / 2^k.
  const shifted = i32x4.sub(scaled, i32_constant(AT_TWO_THIRDS_BITS));
  const k = i32x4.add(i32x4.shr_s(shifted, 23), exponentFix);
  const m = i32x4.add(v128.and(shifted, i32_constant(AT_MANTISSA_MASK)), i32_constant(AT_TWO_THIRDS_BITS));

  // log m = 2 atanh(s), s = (m - 1) / (m + 1).
  const one = f32_constant(AT_ONE);
  const s = f32x4.div(f32x4.sub(m, one), f32x4.add(m, one));
  const z = f32x4.mul(s, s);
  let series = f32x4.add(f32x4.mul(z, f32_constant(AT_ONE_11TH)), f32_constant(AT_ONE_9TH));
  series = f32x4.add(f32x4.mul(series, z), f32_constant(AT_ONE_7TH));
  series = f32x4.add(f32x4.mul(series, z), f32_constant(AT_ONE_5TH));
  series = f32x4.add(f32x4.mul(series, z), f32_constant(AT_ONE_3RD));
  const twoS = f32x4.add(s, s);
  const logM = f32x4.add(f32x4.mul(f32x4.mul(twoS, z), series), twoS);

  // The small terms are added first so that the large k ln2_hi does not absorb them.
  const kf = f32x4.convert_i32x4_s(k);
  let result = f32x4.add(f32x4.mul(kf, f32_constant(AT_LN2_LO)), logM);
  result = f32x4.add(f32x4.mul(kf, f32_constant(AT_LN2_HI)), result);

  // Special values: 0 -> -Infinity, negative -> NaN, +Infinity and NaN pass through.
  const isZero = f32x4.eq(x, zero);
  result = v128.bitselect(f32_constant(AT_MINUS_INFINITY), result, isZero);
  result = v128.bitselect(f32x4.splat(NaN), result, f32x4.lt(x, zero));
  const passThrough = v128.or(f32x4.ne(x, x), f32x4.eq(x, f32_constant(AT_INFINITY)));
  return v128.bitselect(x, result, passThrough);
}
