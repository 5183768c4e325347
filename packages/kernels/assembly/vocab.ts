// Partial sums of one chunk of a row's vocabulary, from which the caller merges chunks in any
// order into the whole row's logsumexp, entropy, cross-entropy and KL divergence. Every sum is
// taken relative to the chunk's own maxima, so merging only rescales by exp of their differences.
//
// Per row, `stats` receives VOCAB_STATS float64 values:
//   0 mz    maximum of the model's logits z in the chunk
//   1 sz    sum of e_z = exp(x_z), x_z = (z - mz) * invT
//   2 az    sum of e_z x_z over e_z != 0 (entropy: H = log sz - az / sz)
//   3 zsum  sum of z (label smoothing spreads mass over every class)
// with teacher logits t (KL(teacher ‖ model) in the form of losses.ts, kl_from_sums):
//   4 mt    maximum of t in the chunk
//   5 st    sum of e_t = exp(x_t), x_t = (t - mt) * invT
//   6 ut    sum of e_t d over e_t != 0, d = x_z - x_t = (z - t - (mz - mt)) * invT
//   7 vt    sum of e_t h(d) over e_t != 0, h(d) = e^d - 1 - d
//   8 wt    sum of e_t e^d = e_z over e_t != 0 (the model's mass where the teacher has mass)
//   9 miss  sum of e_z over the classes with e_t = 0 (model mass where the teacher has none)
// A chunk that is all -Infinity gets zero sums. A NaN reaches every sum of its row.

import { exp_f32x4_rr2_p5 } from "./math/exp";
import { kl_excess_terms, kl_linear_terms, load_lanes, where_nonzero } from "./losses";
import { f32_rmax, sum_f64x2, widen_high, widen_low } from "./rows";

// @ts-ignore: decorator
@inline const VOCAB_STATS: i32 = 10;

/** Stores the model sums of one row: sz, az and the sum of z, in one pass. */
// @ts-ignore: decorator
@inline
function model_sums(zr: usize, classes: i32, mz: f32, invT: f32, out: usize): void {
  const vm = f32x4.splat(mz);
  const vt = f32x4.splat(invT);
  let s0 = f64x2.splat(0);
  let s1 = s0;
  let a0 = s0;
  let a1 = s0;
  let z0 = s0;
  let z1 = s0;
  for (let i = 0; i < classes; i += 4) {
    // Padding lanes load -Infinity, so e = 0 there, and 0 for the sum of z.
    const z = load_lanes(zr, i, classes, -Infinity);
    const x = f32x4.mul(f32x4.sub(z, vm), vt);
    const e = exp_f32x4_rr2_p5(x);
    const ex = where_nonzero(f32x4.mul(e, x), e);
    const zs = i + 4 <= classes ? z : load_lanes(zr, i, classes, 0);
    s0 = f64x2.add(s0, widen_low(e));
    s1 = f64x2.add(s1, widen_high(e));
    a0 = f64x2.add(a0, widen_low(ex));
    a1 = f64x2.add(a1, widen_high(ex));
    z0 = f64x2.add(z0, widen_low(zs));
    z1 = f64x2.add(z1, widen_high(zs));
  }
  store<f64>(out, sum_f64x2(f64x2.add(s0, s1)), 8);
  store<f64>(out, sum_f64x2(f64x2.add(a0, a1)), 16);
  store<f64>(out, sum_f64x2(f64x2.add(z0, z1)), 24);
}

// @ts-ignore: decorator
@inline
function store_teacher_sums(out: usize, st: f64, ut: f64, vt: f64, wt: f64, miss: f64): void {
  store<f64>(out, st, 40);
  store<f64>(out, ut, 48);
  store<f64>(out, vt, 56);
  store<f64>(out, wt, 64);
  store<f64>(out, miss, 72);
}

/** Stores the teacher sums of one row (st, ut, vt, wt, miss) when both maxima are finite. */
// @ts-ignore: decorator
@inline
function pair_sums(zr: usize, tr: usize, classes: i32, mz: f32, mt: f32, invT: f32, out: usize): void {
  const vmz = f32x4.splat(mz);
  const vmt = f32x4.splat(mt);
  const vt = f32x4.splat(invT);
  const shift = f32x4.splat(mz - mt);
  const zero = f32x4.splat(0);
  let s0 = f64x2.splat(0);
  let s1 = s0;
  let u0 = s0;
  let u1 = s0;
  let v0 = s0;
  let v1 = s0;
  let w0 = s0;
  let w1 = s0;
  let m0 = s0;
  let m1 = s0;
  for (let i = 0; i < classes; i += 4) {
    const z = load_lanes(zr, i, classes, -Infinity);
    const t = load_lanes(tr, i, classes, -Infinity);
    const et = exp_f32x4_rr2_p5(f32x4.mul(f32x4.sub(t, vmt), vt));
    const ez = exp_f32x4_rr2_p5(f32x4.mul(f32x4.sub(z, vmz), vt));

    // d from the raw difference, exact when the logits are close.
    const d = f32x4.mul(f32x4.sub(f32x4.sub(z, t), shift), vt);
    const linear = kl_linear_terms(et, d);
    const excess = kl_excess_terms(et, d, ez);
    const covered = where_nonzero(ez, et);
    const missing = v128.bitselect(ez, zero, f32x4.eq(et, zero));
    s0 = f64x2.add(s0, widen_low(et));
    s1 = f64x2.add(s1, widen_high(et));
    u0 = f64x2.add(u0, widen_low(linear));
    u1 = f64x2.add(u1, widen_high(linear));
    v0 = f64x2.add(v0, widen_low(excess));
    v1 = f64x2.add(v1, widen_high(excess));
    w0 = f64x2.add(w0, widen_low(covered));
    w1 = f64x2.add(w1, widen_high(covered));
    m0 = f64x2.add(m0, widen_low(missing));
    m1 = f64x2.add(m1, widen_high(missing));
  }
  store_teacher_sums(
    out,
    sum_f64x2(f64x2.add(s0, s1)),
    sum_f64x2(f64x2.add(u0, u1)),
    sum_f64x2(f64x2.add(v0, v1)),
    sum_f64x2(f64x2.add(w0, w1)),
    sum_f64x2(f64x2.add(m0, m1)),
  );
}

/**
 * Writes the chunk sums of every row (see the file comment). `t` is 0 without teacher logits,
 * and then fields 4 to 9 are left untouched.
 */
export function f32_vocab_stats_rows(z: usize, t: usize, rows: i32, classes: i32, invT: f32, stats: usize): void {
  const rowBytes = <usize>classes << 2;
  for (let r = 0; r < rows; r++) {
    const zr = z + <usize>r * rowBytes;
    const out = stats + <usize>(r * VOCAB_STATS) * 8;
    const mz = f32_rmax(zr, classes);
    store<f64>(out, <f64>mz);

    // exp(-Infinity - -Infinity) would be NaN; a masked chunk has no mass at all.
    if (mz == -Infinity) {
      store<f64>(out, 0, 8);
      store<f64>(out, 0, 16);
      store<f64>(out, -Infinity, 24);
    } else {
      model_sums(zr, classes, mz, invT, out);
    }
    if (t == 0) continue;

    const tr = t + <usize>r * rowBytes;
    const mt = f32_rmax(tr, classes);
    store<f64>(out, <f64>mt, 32);
    if (isFinite(mz) && isFinite(mt)) {
      pair_sums(zr, tr, classes, mz, mt, invT, out);
      continue;
    }

    // Special rows follow the whole-row KL. Without teacher mass, all of the model's mass is
    // missing. Teacher mass where the model is all -Infinity makes KL infinite. A NaN or
    // +Infinity makes every sum NaN.
    if (isNaN(mz) || isNaN(mt) || mz == Infinity || mt == Infinity) {
      store_teacher_sums(out, NaN, NaN, NaN, NaN, NaN);
    } else if (mt == -Infinity) {
      store_teacher_sums(out, 0, 0, 0, 0, load<f64>(out, 8));
    } else {
      // The teacher's sum is only a marker here (its maximum alone adds 1), since KL is infinite.
      store_teacher_sums(out, 1, 0, Infinity, 0, 0);
    }
  }
}
