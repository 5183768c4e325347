// Building blocks shared by the row kernels: partial vectors for row tails, the row maximum and
// the sum of exponentials. A row of n floats is processed as floor(n / 4) full f32x4 vectors
// plus, when n is not a multiple of 4, one partial vector. The missing lanes of that vector are
// filled with a neutral value and masked out of every sum, so tails use the body's arithmetic.

import { exp_f32x4_rr2_p5 } from "./math/exp";

/** Loads the first `count` (1 to 3) floats at `ptr` into a vector; the other lanes get `fill`. */
// @ts-ignore: decorator
@inline
export function load_tail(ptr: usize, count: i32, fill: f32): v128 {
  let v = f32x4.splat(fill);
  v = f32x4.replace_lane(v, 0, load<f32>(ptr));
  if (count > 1) v = f32x4.replace_lane(v, 1, load<f32>(ptr, 4));
  if (count > 2) v = f32x4.replace_lane(v, 2, load<f32>(ptr, 8));
  return v;
}

/** Stores the first `count` (1 to 3) lanes of `v` at `ptr`. */
// @ts-ignore: decorator
@inline
export function store_tail(ptr: usize, v: v128, count: i32): void {
  store<f32>(ptr, f32x4.extract_lane(v, 0));
  if (count > 1) store<f32>(ptr, f32x4.extract_lane(v, 1), 4);
  if (count > 2) store<f32>(ptr, f32x4.extract_lane(v, 2), 8);
}

/** All-ones in the first `count` lanes, zero in the others. */
// @ts-ignore: decorator
@inline
export function tail_mask(count: i32): v128 {
  return i32x4.lt_s(i32x4(0, 1, 2, 3), i32x4.splat(count));
}

/** Widens lanes 0 and 1 of `v` to float64. */
// @ts-ignore: decorator
@inline
export function widen_low(v: v128): v128 {
  return f64x2.promote_low_f32x4(v);
}

/** Widens lanes 2 and 3 of `v` to float64. */
// @ts-ignore: decorator
@inline
export function widen_high(v: v128): v128 {
  return f64x2.promote_low_f32x4(i32x4.shuffle(v, v, 2, 3, 2, 3));
}

/** Sum of the two float64 lanes. */
// @ts-ignore: decorator
@inline
export function sum_f64x2(v: v128): f64 {
  return f64x2.extract_lane(v, 0) + f64x2.extract_lane(v, 1);
}

/**
 * Maximum of the row `z[0 .. n)`. NaN anywhere gives NaN, so callers can tell NaN rows from
 * rows with +Infinity.
 *
 * The loop uses f32x4.pmax, one x86 `maxps`, and tracks NaN lanes apart with `x != x`. V8 lowers
 * the NaN-propagating f32x4.max to about eight instructions, which made this pass a quarter of
 * a whole softmax.
 */
export function f32_rmax(z: usize, n: i32): f32 {
  let acc0 = f32x4.splat(-Infinity);
  let acc1 = acc0;
  let nan0 = v128.splat<i32>(0);
  let nan1 = nan0;
  let i = 0;

  // Two accumulators of each kind hide the latency of the max and the comparison.
  for (; i + 8 <= n; i += 8) {
    const p = z + (<usize>i << 2);
    const x0 = v128.load(p);
    const x1 = v128.load(p, 16);
    acc0 = f32x4.pmax(acc0, x0);
    acc1 = f32x4.pmax(acc1, x1);
    nan0 = v128.or(nan0, f32x4.ne(x0, x0));
    nan1 = v128.or(nan1, f32x4.ne(x1, x1));
  }
  if (i + 4 <= n) {
    const x = v128.load(z + (<usize>i << 2));
    acc0 = f32x4.pmax(acc0, x);
    nan0 = v128.or(nan0, f32x4.ne(x, x));
    i += 4;
  }
  if (i < n) {
    const x = load_tail(z + (<usize>i << 2), n - i, -Infinity);
    acc1 = f32x4.pmax(acc1, x);
    nan1 = v128.or(nan1, f32x4.ne(x, x));
  }

  if (v128.any_true(v128.or(nan0, nan1))) return NaN;
  const acc = f32x4.pmax(acc0, acc1);
  return max(max(f32x4.extract_lane(acc, 0), f32x4.extract_lane(acc, 1)), max(f32x4.extract_lane(acc, 2), f32x4.extract_lane(acc, 3)));
}

/** Returns exp((z - m) * invT) of the 4 lanes at `p`. */
// @ts-ignore: decorator
@inline
function exp_shifted(p: usize, vm: v128, vt: v128): v128 {
  return exp_f32x4_rr2_p5(f32x4.mul(f32x4.sub(v128.load(p), vm), vt));
}

/**
 * Sum over the row of exp((z_i - m) * invT), accumulated in float64 lanes. When `out` is not 0
 * the exponentials are also stored there. NaN when m is not finite or the row has a NaN.
 *
 * The body handles 16 floats per iteration, as four independent exps for instruction-level
 * parallelism. Each lane adds its 4 values in float32 (three roundings, a relative error below
 * 2e-7 on that partial sum) and is widened to float64 once per 16 floats instead of once per 4.
 */
export function f32_raddstoreexpminusmax(z: usize, out: usize, n: i32, m: f32, invT: f32): f64 {
  if (out != 0) return raddexp(z, out, n, m, invT, true);
  return raddexp(z, 0, n, m, invT, false);
}

/** Body of f32_raddstoreexpminusmax, inlined twice so that `store` is a constant in each copy. */
// @ts-ignore: decorator
@inline
function raddexp(z: usize, out: usize, n: i32, m: f32, invT: f32, store: bool): f64 {
  const vm = f32x4.splat(m);
  const vt = f32x4.splat(invT);
  let acc0 = f64x2.splat(0);
  let acc1 = acc0;
  let i = 0;

  for (; i + 16 <= n; i += 16) {
    const p = z + (<usize>i << 2);
    const e0 = exp_shifted(p, vm, vt);
    const e1 = exp_shifted(p + 16, vm, vt);
    const e2 = exp_shifted(p + 32, vm, vt);
    const e3 = exp_shifted(p + 48, vm, vt);
    if (store) {
      const o = out + (<usize>i << 2);
      v128.store(o, e0);
      v128.store(o, e1, 16);
      v128.store(o, e2, 32);
      v128.store(o, e3, 48);
    }
    const block = f32x4.add(f32x4.add(e0, e1), f32x4.add(e2, e3));
    acc0 = f64x2.add(acc0, widen_low(block));
    acc1 = f64x2.add(acc1, widen_high(block));
  }
  for (; i + 4 <= n; i += 4) {
    const offset = <usize>i << 2;
    const e = exp_shifted(z + offset, vm, vt);
    if (store) v128.store(out + offset, e);
    acc0 = f64x2.add(acc0, widen_low(e));
    acc1 = f64x2.add(acc1, widen_high(e));
  }

  // Padding lanes hold -Infinity, whose exponential is exactly 0.
  if (i < n) {
    const offset = <usize>i << 2;
    const e = exp_f32x4_rr2_p5(f32x4.mul(f32x4.sub(load_tail(z + offset, n - i, -Infinity), vm), vt));
    if (store) store_tail(out + offset, e, n - i);
    acc0 = f64x2.add(acc0, widen_low(e));
    acc1 = f64x2.add(acc1, widen_high(e));
  }
  return sum_f64x2(f64x2.add(acc0, acc1));
}

/**
 * Multiplies the row in place by `scale`. The body takes 16 floats per iteration, which made
 * softmax's kernel 1.05x (64 x 32000) to 1.1x (8 x 50257) faster than 4 per iteration.
 */
export function f32_vscale(x: usize, n: i32, scale: f32): void {
  const vs = f32x4.splat(scale);
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const p = x + (<usize>i << 2);
    const a = f32x4.mul(v128.load(p), vs);
    const b = f32x4.mul(v128.load(p, 16), vs);
    const c = f32x4.mul(v128.load(p, 32), vs);
    const d = f32x4.mul(v128.load(p, 48), vs);
    v128.store(p, a);
    v128.store(p, b, 16);
    v128.store(p, c, 32);
    v128.store(p, d, 48);
  }
  for (; i + 4 <= n; i += 4) {
    const p = x + (<usize>i << 2);
    v128.store(p, f32x4.mul(v128.load(p), vs));
  }
  for (; i < n; i++) {
    const p = x + (<usize>i << 2);
    store<f32>(p, load<f32>(p) * scale);
  }
}

/** out = (z - m) * invT - shift over `n` floats; `out` may equal `z`. */
export function f32_vshiftscale(z: usize, out: usize, n: i32, m: f32, invT: f32, shift: f32): void {
  const vm = f32x4.splat(m);
  const vt = f32x4.splat(invT);
  const vs = f32x4.splat(shift);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const offset = <usize>i << 2;
    v128.store(out + offset, f32x4.sub(f32x4.mul(f32x4.sub(v128.load(z + offset), vm), vt), vs));
  }
  if (i < n) {
    const offset = <usize>i << 2;
    const x = load_tail(z + offset, n - i, 0);
    store_tail(out + offset, f32x4.sub(f32x4.mul(f32x4.sub(x, vm), vt), vs), n - i);
  }
}

/** Sets `n` floats at `x` to `value`. */
export function f32_vfill(x: usize, n: i32, value: f32): void {
  const v = f32x4.splat(value);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(x + (<usize>i << 2), v);
  for (; i < n; i++) store<f32>(x + (<usize>i << 2), value);
}

/** Sets `n` floats at `x` to 0. */
export function f32_vzero(x: usize, n: i32): void {
  memory.fill(x, 0, <usize>n << 2);
}
