// Widening of 16-bit logits (bfloat16 and IEEE binary16) to float32. Both conversions are exact:
// every 16-bit value, subnormals, signed zeros, infinities and NaN included, has a float32 with
// the same value, so the row kernels see exactly the input they would see after a float32 copy.
//
// Both kernels read x[0 .. n) (uint16 bits) and write out[0 .. n) (float32) in increasing order,
// loading each block before storing it. So `x` may sit in the upper half of the output,
// x = out + 2n: the first k outputs end at out + 4k, which is at most x + 2k, the first input
// not yet read. The caller copies a chunk's 16-bit rows there and converts them in place.

/** 2^112: scales a binary16 exponent (bias 15) placed in a float32 (bias 127). */
const F16_EXPONENT_SCALE: f32 = reinterpret<f32>(0x77800000);

/** Exponent and mantissa bits of a binary16 at or above this are Infinity or NaN. */
const F16_INFINITY_BITS: i32 = 0x7c00;

/** Converts the bfloat16 values x[0 .. n) to float32: the 16 bits are the float32's upper half. */
export function bf16_vcvt_f32(x: usize, out: usize, n: i32): void {
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const halves = v128.load(x + (<usize>i << 1));
    const low = i32x4.shl(i32x4.extend_low_i16x8_u(halves), 16);
    const high = i32x4.shl(i32x4.extend_high_i16x8_u(halves), 16);
    v128.store(out + (<usize>i << 2), low);
    v128.store(out + (<usize>i << 2), high, 16);
  }
  for (; i < n; i++) {
    const bits = <u32>load<u16>(x + (<usize>i << 1));
    store<u32>(out + (<usize>i << 2), bits << 16);
  }
}

/**
 * Widens four binary16 values (in the low 16 bits of each i32 lane) to float32. Exponent and
 * mantissa shifted left by 13 form a float32 whose exponent is 112 too small, and one multiply
 * by 2^112 corrects it. That product is exact for normals and subnormals alike, because
 * WebAssembly keeps float32 subnormals (no flush to zero). Infinity and NaN take the all-ones
 * exponent instead, and keep their mantissa bits, so a quiet NaN stays quiet.
 */
// @ts-ignore: decorator
@inline
function f16_to_f32x4(h: v128): v128 {
  const sign = i32x4.shl(v128.and(h, i32x4.splat(0x8000)), 16);
  const magnitude = v128.and(h, i32x4.splat(0x7fff));
  const shifted = i32x4.shl(magnitude, 13);
  const finite = f32x4.mul(shifted, f32x4.splat(F16_EXPONENT_SCALE));
  const special = v128.or(shifted, i32x4.splat(0x7f800000));
  const isSpecial = i32x4.ge_s(magnitude, i32x4.splat(F16_INFINITY_BITS));
  return v128.or(v128.bitselect(special, finite, isSpecial), sign);
}

/** Converts the IEEE binary16 values x[0 .. n) to float32, exactly. */
export function f16_vcvt_f32(x: usize, out: usize, n: i32): void {
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const halves = v128.load(x + (<usize>i << 1));
    const low = f16_to_f32x4(i32x4.extend_low_i16x8_u(halves));
    const high = f16_to_f32x4(i32x4.extend_high_i16x8_u(halves));
    v128.store(out + (<usize>i << 2), low);
    v128.store(out + (<usize>i << 2), high, 16);
  }

  // The tail goes through the same vector code one value at a time.
  for (; i < n; i++) {
    const bits = i32x4.splat(<i32>load<u16>(x + (<usize>i << 1)));
    store<i32>(out + (<usize>i << 2), i32x4.extract_lane(f16_to_f32x4(bits), 0));
  }
}
