// Losses of softmax(z / T) with their gradients with respect to z, one row at a time.
//
// Shared contract (the `js` backend mirrors it function for function):
// - x = (z - max z) * invT is the shifted, scaled logit; L = log sum exp(x), so log q = x - L.
// - rowLoss receives one float64 per row. A gradScale of 0 means no gradient, and grad is not
//   touched. Otherwise gradScale points to one float32 per row, the derivative of the caller's
//   total with respect to that row's loss, and the gradient (with the factor invT) goes to grad.
// - Passes: the row maximum, then the float64 sums of exponentials (and any other sum the loss
//   needs), then one pass that accumulates the loss terms and writes the gradient.
// - Every term that multiplies a probability masks lanes where that probability is 0, so a
//   masked (-Infinity) class contributes exactly 0 instead of 0 * Infinity = NaN; NaN inputs
//   are not masked (NaN != 0), so they reach the row's loss and gradient.

import { exp_f32x4_rr2_p5 } from "./math/exp";
import { log_f32x4 } from "./math/log";
import {
  f32_raddstoreexpminusmax,
  f32_rmax,
  f32_vfill,
  f32_vscale,
  f32_vzero,
  load_tail,
  store_tail,
  sum_f64x2,
  tail_mask,
  widen_high,
  widen_low,
} from "./rows";

/** Keeps the lanes of `v` where `p` is not 0 and zeroes the others. */
// @ts-ignore: decorator
@inline
export function where_nonzero(v: v128, p: v128): v128 {
  return v128.and(v, f32x4.ne(p, f32x4.splat(0)));
}

/** Loads 4 floats at `base + i`, or the row's last `n - i` floats padded with `fill`. */
// @ts-ignore: decorator
@inline
export function load_lanes(base: usize, i: i32, n: i32, fill: f32): v128 {
  const p = base + (<usize>i << 2);
  return i + 4 <= n ? v128.load(p) : load_tail(p, n - i, fill);
}

// @ts-ignore: decorator
@inline
function store_lanes(base: usize, i: i32, n: i32, v: v128): void {
  const p = base + (<usize>i << 2);
  if (i + 4 <= n) v128.store(p, v);
  else store_tail(p, v, n - i);
}

/** Returns x = (z - m) * invT for 4 lanes of a row; tail padding lanes get -Infinity. */
// @ts-ignore: decorator
@inline
function shifted_lanes(base: usize, i: i32, n: i32, vm: v128, vt: v128): v128 {
  return f32x4.mul(f32x4.sub(load_lanes(base, i, n, -Infinity), vm), vt);
}

/** Returns log q = (z - m) * invT - L for 4 lanes of a row; tail padding lanes get -Infinity. */
// @ts-ignore: decorator
@inline
function log_softmax_lanes(base: usize, i: i32, n: i32, vm: v128, vt: v128, vl: v128): v128 {
  return f32x4.sub(shifted_lanes(base, i, n, vm, vt), vl);
}

/** Returns a mask of all lanes for a full vector, or of the first `n - i` lanes for the tail. */
// @ts-ignore: decorator
@inline
function lanes_mask(i: i32, n: i32): v128 {
  return i + 4 <= n ? i32x4.splat(-1) : tail_mask(n - i);
}

/**
 * Entropy of softmax(x) per row: H = L - A / S with S = sum e, A = sum e x over e != 0.
 * Gradient: dH/dx_j = p_j (A / S - x_j), exactly 0 where p_j = 0.
 */
export function f32_entropy_logits_rows(
  z: usize,
  rows: i32,
  classes: i32,
  invT: f32,
  rowLoss: usize,
  gradScale: usize,
  grad: usize,
): void {
  const rowBytes = <usize>classes << 2;
  const vt = f32x4.splat(invT);

  for (let r = 0; r < rows; r++) {
    const zr = z + <usize>r * rowBytes;
    const gr = grad + <usize>r * rowBytes;
    const m = f32_rmax(zr, classes);
    const vm = f32x4.splat(m);

    // With a gradient, the exponentials are kept in the gradient row for the last pass.
    let sum0 = f64x2.splat(0);
    let sum1 = sum0;
    let ex0 = sum0;
    let ex1 = sum0;
    for (let i = 0; i < classes; i += 4) {
      const x = shifted_lanes(zr, i, classes, vm, vt);
      const e = exp_f32x4_rr2_p5(x);
      if (gradScale != 0) store_lanes(gr, i, classes, e);
      const ex = where_nonzero(f32x4.mul(e, x), e);
      sum0 = f64x2.add(sum0, widen_low(e));
      sum1 = f64x2.add(sum1, widen_high(e));
      ex0 = f64x2.add(ex0, widen_low(ex));
      ex1 = f64x2.add(ex1, widen_high(ex));
    }
    const sum = sum_f64x2(f64x2.add(sum0, sum1));
    const mean = sum_f64x2(f64x2.add(ex0, ex1)) / sum;
    store<f64>(rowLoss + (<usize>r << 3), Math.log(sum) - mean);

    if (gradScale == 0) continue;

    // A NaN row (NaN or +Infinity logits, or all masked) gets a NaN gradient everywhere, which
    // the masking of zero probabilities below would otherwise turn into zeros.
    if (isNaN(mean)) {
      f32_vfill(gr, classes, NaN);
      continue;
    }
    const scale = f32x4.splat(<f32>(<f64>load<f32>(gradScale + (<usize>r << 2)) * <f64>invT / sum));
    const vmean = f32x4.splat(<f32>mean);
    for (let i = 0; i < classes; i += 4) {
      const x = shifted_lanes(zr, i, classes, vm, vt);
      const e = load_lanes(gr, i, classes, 0);
      store_lanes(gr, i, classes, where_nonzero(f32x4.mul(f32x4.mul(scale, e), f32x4.sub(vmean, x)), e));
    }
  }
}

/**
 * Cross-entropy with integer labels, label smoothing eps and optional class weights w:
 * loss = (1 - eps) w_y (L - x_y) + (eps / C) sum_c w_c (L - x_c); rows whose label equals
 * ignoreIndex get loss 0 and a zero gradient without reading their logits.
 * Gradient: (q_c ((1 - eps) w_y + (eps / C) W) - (1 - eps) w_y [c = y] - (eps / C) w_c) / T,
 * with W = sum_c w_c. `weight` is 0 for unit weights.
 */
export function f32_cross_entropy_labels_rows(
  z: usize,
  labels: usize,
  rows: i32,
  classes: i32,
  invT: f32,
  weight: usize,
  ignoreIndex: i32,
  labelSmoothing: f32,
  rowLoss: usize,
  gradScale: usize,
  grad: usize,
): void {
  const rowBytes = <usize>classes << 2;
  const vt = f32x4.splat(invT);
  const smoothPerClass: f64 = <f64>labelSmoothing / <f64>classes;
  const smoothing = labelSmoothing != 0;

  let weightSum: f64 = <f64>classes;
  if (weight != 0) {
    weightSum = 0;
    for (let c = 0; c < classes; c++) weightSum += <f64>load<f32>(weight + (<usize>c << 2));
  }

  for (let r = 0; r < rows; r++) {
    const zr = z + <usize>r * rowBytes;
    const gr = grad + <usize>r * rowBytes;
    const y = load<i32>(labels + (<usize>r << 2));
    if (y == ignoreIndex) {
      store<f64>(rowLoss + (<usize>r << 3), 0);
      if (gradScale != 0) f32_vzero(gr, classes);
      continue;
    }

    const m = f32_rmax(zr, classes);
    const vm = f32x4.splat(m);

    // Pass 2: S = sum e and, with smoothing, B = sum w_c x_c (masked lanes hold w = 0). With a
    // gradient, the exponentials are kept in the gradient row for pass 3.
    const keep: usize = gradScale == 0 ? 0 : gr;
    let sum: f64;
    let weightedLogits: f64 = 0;
    if (!smoothing) {
      sum = f32_raddstoreexpminusmax(zr, keep, classes, m, invT);
    } else {
      let s0 = f64x2.splat(0);
      let s1 = s0;
      let b0 = s0;
      let b1 = s0;
      for (let i = 0; i < classes; i += 4) {
        const x = shifted_lanes(zr, i, classes, vm, vt);
        const e = exp_f32x4_rr2_p5(x);
        const w = weight == 0 ? f32x4.splat(1) : load_lanes(weight, i, classes, 0);
        const wx = v128.and(f32x4.mul(w, x), lanes_mask(i, classes));
        if (keep != 0) store_lanes(keep, i, classes, e);
        s0 = f64x2.add(s0, widen_low(e));
        s1 = f64x2.add(s1, widen_high(e));
        b0 = f64x2.add(b0, widen_low(wx));
        b1 = f64x2.add(b1, widen_high(wx));
      }
      sum = sum_f64x2(f64x2.add(s0, s1));
      weightedLogits = sum_f64x2(f64x2.add(b0, b1));
    }
    const lse = Math.log(sum);

    const wy: f64 = weight == 0 ? 1 : <f64>load<f32>(weight + (<usize>y << 2));
    const hardWeight = (1 - <f64>labelSmoothing) * wy;
    const xy = <f64>((load<f32>(zr + (<usize>y << 2)) - m) * invT);
    // A label term of weight 0 (labelSmoothing 1, or w_y = 0) adds 0 even when the label is
    // masked (0 * Infinity would be NaN). Multiplying lse still carries a NaN of the row.
    let loss = hardWeight == 0 ? hardWeight * lse : hardWeight * (lse - xy);
    if (smoothing) loss += smoothPerClass * (lse * weightSum - weightedLogits);
    store<f64>(rowLoss + (<usize>r << 3), loss);

    // Pass 3: grad_c = probScale e_c - smoothScale w_c, then the label's own term.
    if (gradScale == 0) continue;
    const scale = <f64>load<f32>(gradScale + (<usize>r << 2)) * <f64>invT;
    const probScale = f32x4.splat(<f32>((scale * (hardWeight + smoothPerClass * weightSum)) / sum));
    const smoothScale = f32x4.splat(<f32>(scale * smoothPerClass));
    const gy = gr + (<usize>y << 2);
    const ey = <f64>load<f32>(gy);
    if (!smoothing) {
      f32_vscale(gr, classes, <f32>((scale * hardWeight) / sum));
    } else {
      for (let i = 0; i < classes; i += 4) {
        const e = load_lanes(gr, i, classes, 0);
        const w = weight == 0 ? f32x4.splat(1) : load_lanes(weight, i, classes, 0);
        store_lanes(gr, i, classes, f32x4.sub(f32x4.mul(probScale, e), f32x4.mul(smoothScale, w)));
      }
    }
    // NOTE: without smoothing, sum comes from float32 partial sums (about 2e-7 relative), which
    // still bound sum - e_y. The gain here is an exact single class and no rounding of probScale e_y.
    store<f32>(gy, <f32>label_gradient(ey, sum, scale, hardWeight, smoothPerClass, weightSum, wy));
  }
}

/**
 * Returns the gradient at the label: scale (w_y (1 - eps) (q_y - 1) + (eps / C)(W q_y - w_y)).
 * q_y - 1 comes as -(sum - e_y) / sum, the mass of the other classes, because q_y rounded first
 * loses the small 1 - q_y of a confident row (2^-24 absolute, so 0.6% of a gradient of 1e-5).
 * A single class then gets exactly 0. `sum` must be the float64 sum that includes `ey`.
 */
function label_gradient(ey: f64, sum: f64, scale: f64, hardWeight: f64, smoothPerClass: f64, weightSum: f64, wy: f64): f64 {
  const hard = hardWeight == 0 ? 0 : (-hardWeight * (sum - ey)) / sum;
  const smooth = smoothPerClass == 0 ? 0 : smoothPerClass * ((weightSum * ey) / sum - wy);
  return scale * (hard + smooth);
}

/**
 * Cross-entropy with probability targets t, smoothed to t' = (1 - eps) t + eps / C:
 * loss = sum_c w_c t'_c (L - x_c) = L T - B with T = sum w_c t'_c and B = sum w_c t'_c x_c
 * over the classes with w_c t'_c != 0 (so a masked class with zero target adds 0).
 * Gradient: (q_c T - w_c t'_c) / T_temperature.
 */
export function f32_cross_entropy_targets_rows(
  z: usize,
  targets: usize,
  rows: i32,
  classes: i32,
  invT: f32,
  weight: usize,
  labelSmoothing: f32,
  rowLoss: usize,
  gradScale: usize,
  grad: usize,
): void {
  const rowBytes = <usize>classes << 2;
  const vt = f32x4.splat(invT);
  const keep = f32x4.splat(1 - labelSmoothing);
  const smoothPerClass = f32x4.splat(<f32>(<f64>labelSmoothing / <f64>classes));

  for (let r = 0; r < rows; r++) {
    const zr = z + <usize>r * rowBytes;
    const tr = targets + <usize>r * rowBytes;
    const gr = grad + <usize>r * rowBytes;
    const m = f32_rmax(zr, classes);
    const vm = f32x4.splat(m);

    // With a gradient, the exponentials are kept in the gradient row for the last pass.
    let s0 = f64x2.splat(0);
    let s1 = s0;
    let mass0 = s0;
    let mass1 = s0;
    let b0 = s0;
    let b1 = s0;
    for (let i = 0; i < classes; i += 4) {
      const x = shifted_lanes(zr, i, classes, vm, vt);
      const e = exp_f32x4_rr2_p5(x);
      if (gradScale != 0) store_lanes(gr, i, classes, e);
      const w = weight == 0 ? f32x4.splat(1) : load_lanes(weight, i, classes, 0);
      const t = f32x4.add(f32x4.mul(keep, load_lanes(tr, i, classes, 0)), smoothPerClass);
      const wt = v128.and(f32x4.mul(w, t), lanes_mask(i, classes));
      const wtx = where_nonzero(f32x4.mul(wt, x), wt);
      s0 = f64x2.add(s0, widen_low(e));
      s1 = f64x2.add(s1, widen_high(e));
      mass0 = f64x2.add(mass0, widen_low(wt));
      mass1 = f64x2.add(mass1, widen_high(wt));
      b0 = f64x2.add(b0, widen_low(wtx));
      b1 = f64x2.add(b1, widen_high(wtx));
    }
    const sum = sum_f64x2(f64x2.add(s0, s1));
    const targetMass = sum_f64x2(f64x2.add(mass0, mass1));
    store<f64>(rowLoss + (<usize>r << 3), Math.log(sum) * targetMass - sum_f64x2(f64x2.add(b0, b1)));

    if (gradScale == 0) continue;
    // scale (q M - w t) with the scale applied last, so that q M and w t round alike: a row
    // whose q matches its target (a single class) gets exactly 0.
    const scale = <f64>load<f32>(gradScale + (<usize>r << 2)) * <f64>invT;
    const probScale = f32x4.splat(<f32>(targetMass / sum));
    const vscale = f32x4.splat(<f32>scale);
    for (let i = 0; i < classes; i += 4) {
      const e = load_lanes(gr, i, classes, 0);
      const w = weight == 0 ? f32x4.splat(1) : load_lanes(weight, i, classes, 0);
      const t = f32x4.add(f32x4.mul(keep, load_lanes(tr, i, classes, 0)), smoothPerClass);
      store_lanes(gr, i, classes, f32x4.mul(vscale, f32x4.sub(f32x4.mul(probScale, e), f32x4.mul(w, t))));
    }
  }
}

/** Returns log sum exp((z - m) * invT) of one row, the L of log q = x - L. */
// @ts-ignore: decorator
@inline
function shifted_lse(zr: usize, classes: i32, m: f32, invT: f32): f32 {
  return <f32>Math.log(f32_raddstoreexpminusmax(zr, 0, classes, m, invT));
}

// KL divergence in a form that keeps its relative accuracy when P and Q are close.
//
// The direct sum of P (log P - log Q) adds terms of size |log P - log Q| ~ eps whose total is
// only ~eps^2, so float32 rounding of each log-probability (about 1e-7 of its magnitude)
// swamps a small KL. With d = x_q - x_p (shifted, scaled logits), weights e = exp(x_p) and
// S = sum e:
//   u = sum e d / S,  v = sum e h(d) / S with h(d) = e^d - 1 - d >= 0,  w = u + v,
//   KL = -u + log(sum e e^d / S) = -u + log1p(w) = v + (log1p(w) - w).
// v is a sum of non-negative terms and log1p(w) - w ~ -w^2 / 2 is computed in float64, so no
// step cancels. h(d) comes from its Taylor series for |d| <= 0.5 and from e^{x_q} - e - e d
// (bounded by 1, no overflow) beyond.

// @ts-ignore: decorator
@inline const SERIES_LIMIT: f32 = 0.5;

/** Returns h(d) / d^2 = 1/2 + d/6 + ... + d^8/10!, whose truncation error is below 1e-9 relative for |d| <= 0.5. */
// @ts-ignore: decorator
@inline
function expm1_minus_x_over_x2(d: v128): v128 {
  let p = f32x4.add(f32x4.mul(d, f32x4.splat(<f32>(1.0 / 3628800.0))), f32x4.splat(<f32>(1.0 / 362880.0)));
  p = f32x4.add(f32x4.mul(p, d), f32x4.splat(<f32>(1.0 / 40320.0)));
  p = f32x4.add(f32x4.mul(p, d), f32x4.splat(<f32>(1.0 / 5040.0)));
  p = f32x4.add(f32x4.mul(p, d), f32x4.splat(<f32>(1.0 / 720.0)));
  p = f32x4.add(f32x4.mul(p, d), f32x4.splat(<f32>(1.0 / 120.0)));
  p = f32x4.add(f32x4.mul(p, d), f32x4.splat(<f32>(1.0 / 24.0)));
  p = f32x4.add(f32x4.mul(p, d), f32x4.splat(<f32>(1.0 / 6.0)));
  return f32x4.add(f32x4.mul(p, d), f32x4.splat(0.5));
}

/** Returns the lanes' terms e d of u, 0 where e = 0 (masked in P). */
// @ts-ignore: decorator
@inline
export function kl_linear_terms(e: v128, d: v128): v128 {
  return where_nonzero(f32x4.mul(e, d), e);
}

/** Returns the lanes' terms e h(d) of v, 0 where e = 0; `eq` = exp(x_q) = e e^d. */
// @ts-ignore: decorator
@inline
export function kl_excess_terms(e: v128, d: v128, eq: v128): v128 {
  const series = f32x4.mul(f32x4.mul(e, f32x4.mul(d, d)), expm1_minus_x_over_x2(d));
  const direct = f32x4.sub(f32x4.sub(eq, e), f32x4.mul(e, d));
  const small = f32x4.le(f32x4.abs(d), f32x4.splat(SERIES_LIMIT));
  return where_nonzero(v128.bitselect(series, direct, small), e);
}

/** Returns log1p(w) - w in float64 without cancellation for small |w|. */
function log1p_minus_x(w: f64): f64 {
  if (Math.abs(w) < 1e-3) {
    // -w^2/2 + w^3/3 - w^4/4 + w^5/5; the next term is below 3e-13 of the result.
    return w * w * (-0.5 + w * (1.0 / 3.0 + w * (-0.25 + w * 0.2)));
  }
  return Math.log1p(w) - w;
}

/**
 * Returns KL = v + m + (log1p(u + v + m) - (u + v + m)) from the sums S = sum e, U = sum e d,
 * V = sum e h(d) over the classes with P > 0 and M = sum exp(x_q) over those with P = 0, whose
 * Q mass still counts in Q's normalizer S + U + V + M.
 */
function kl_from_sums(sum: f64, linear: f64, excess: f64, missing: f64): f64 {
  const u = linear / sum;
  const v = excess / sum;
  const m = missing / sum;

  // A class with P > 0 and Q = 0 makes v infinite (and u -Infinity): the divergence is infinite.
  if (v == Infinity) return Infinity;
  return v + m + log1p_minus_x(u + v + m);
}

/**
 * Returns D_KL(P ‖ Q) of one pair of rows by kl_from_sums, where P = softmax(p * invT) and
 * Q = softmax(q * invT); classes with P = 0 add only their Q mass. When `gradRow` is not 0, it receives
 * gradScale * invT * (Q - P), the gradient with respect to q scaled by gradScale.
 */
// @ts-ignore: decorator
@inline
function kl_row(pr: usize, qr: usize, classes: i32, invT: f32, gradRow: usize, gradScale: f32): f64 {
  const vt = f32x4.splat(invT);
  const pm = f32_rmax(pr, classes);
  const qm = f32_rmax(qr, classes);
  const vpm = f32x4.splat(pm);
  const vqm = f32x4.splat(qm);
  const shift = f32x4.splat(qm - pm);
  const sum = f32_raddstoreexpminusmax(pr, 0, classes, pm, invT);

  // Q and P for the gradient; Q's sum is only needed then.
  const invSumP = f32x4.splat(<f32>(1.0 / sum));
  let invSumQ = f32x4.splat(0);
  if (gradRow != 0) invSumQ = f32x4.splat(<f32>(1.0 / f32_raddstoreexpminusmax(qr, gradRow, classes, qm, invT)));
  const scale = f32x4.splat(gradScale * invT);

  let lin0 = f64x2.splat(0);
  let lin1 = lin0;
  let exc0 = lin0;
  let exc1 = lin0;
  let mis0 = lin0;
  let mis1 = lin0;
  const zero = f32x4.splat(0);
  for (let i = 0; i < classes; i += 4) {
    const zp = load_lanes(pr, i, classes, -Infinity);
    const zq = load_lanes(qr, i, classes, -Infinity);
    const e = exp_f32x4_rr2_p5(f32x4.mul(f32x4.sub(zp, vpm), vt));

    // With a gradient, the sum pass left exp(x_q) in the gradient row.
    const eq = gradRow != 0 ? load_lanes(gradRow, i, classes, 0) : exp_f32x4_rr2_p5(f32x4.mul(f32x4.sub(zq, vqm), vt));

    // d = x_q - x_p from the raw difference, exact when the logits are close.
    const d = f32x4.mul(f32x4.sub(f32x4.sub(zq, zp), shift), vt);
    const linear = kl_linear_terms(e, d);
    const excess = kl_excess_terms(e, d, eq);
    lin0 = f64x2.add(lin0, widen_low(linear));
    lin1 = f64x2.add(lin1, widen_high(linear));
    exc0 = f64x2.add(exc0, widen_low(excess));
    exc1 = f64x2.add(exc1, widen_high(excess));

    // Q mass of the classes with P = 0; padding lanes have eq = 0.
    const missing = v128.bitselect(eq, zero, f32x4.eq(e, zero));
    mis0 = f64x2.add(mis0, widen_low(missing));
    mis1 = f64x2.add(mis1, widen_high(missing));

    if (gradRow != 0) {
      store_lanes(gradRow, i, classes, f32x4.mul(scale, f32x4.sub(f32x4.mul(eq, invSumQ), f32x4.mul(e, invSumP))));
    }
  }
  return kl_from_sums(
    sum,
    sum_f64x2(f64x2.add(lin0, lin1)),
    sum_f64x2(f64x2.add(exc0, exc1)),
    sum_f64x2(f64x2.add(mis0, mis1)),
  );
}

/** D_KL(P ‖ Q) per row from logits (kl_row); gradient with respect to the q logits: (Q - P) / T. */
export function f32_kl_logits_rows(
  p: usize,
  q: usize,
  rows: i32,
  classes: i32,
  invT: f32,
  rowLoss: usize,
  gradScale: usize,
  grad: usize,
): void {
  const rowBytes = <usize>classes << 2;
  for (let r = 0; r < rows; r++) {
    const offset = <usize>r * rowBytes;
    const gradRow: usize = gradScale == 0 ? 0 : grad + offset;
    const scale: f32 = gradScale == 0 ? 0 : load<f32>(gradScale + (<usize>r << 2));
    store<f64>(rowLoss + (<usize>r << 3), kl_row(p + offset, q + offset, classes, invT, gradRow, scale));
  }
}

/** Returns lanes 0 and 1 (`high` false) or 2 and 3 of the float64 d = ((z - p) - shift) * invT. */
// @ts-ignore: decorator
@inline
function logit_gap_f64x2(zq: v128, zp: v128, shift: v128, vt: v128, high: bool): v128 {
  const z = high ? widen_high(zq) : widen_low(zq);
  const p = high ? widen_high(zp) : widen_low(zp);
  return f64x2.mul(f64x2.sub(f64x2.sub(z, p), shift), vt);
}

/**
 * KL(Q ‖ P) per row, the Jensen-Shannon divergence at beta = 1, with the gradient
 * Q_j (h_j - sum_i Q_i h_i) / T, h = log Q - log P.
 *
 * Where P is tiny on Q's support, h is close to |log P| there (about 1000 at T = 0.1 for
 * logits 100 apart) and nearly constant, so h_j - mean h cancels, and float32
 * log-probabilities would leave 2^-24 |h| in it. The kernel uses d = h - (L_P - L_Q) instead:
 * d_j = ((z_j - p_j) - (max z - max p)) * invT in float64 from the float32 logits, with an
 * error near 2^-53 |d|, and d_j - mean d = h_j - mean h. The mean divides by sum Q, so that the
 * rounding of Q (sum Q = 1 + delta) does not add delta (L_P - L_Q) to every entry.
 */
function f32_reverse_kl_rows(
  p: usize,
  q: usize,
  rows: i32,
  classes: i32,
  invT: f32,
  rowLoss: usize,
  gradScale: usize,
  grad: usize,
): void {
  const rowBytes = <usize>classes << 2;
  const vt = f32x4.splat(invT);
  const vt64 = f64x2.splat(<f64>invT);
  const zero64 = f64x2.splat(0);

  for (let r = 0; r < rows; r++) {
    const pr = p + <usize>r * rowBytes;
    const qr = q + <usize>r * rowBytes;
    const gr = grad + <usize>r * rowBytes;
    const pm = f32_rmax(pr, classes);
    const qm = f32_rmax(qr, classes);
    const vqm = f32x4.splat(qm);
    const pl = shifted_lse(pr, classes, pm, invT);
    const ql = shifted_lse(qr, classes, qm, invT);
    const vql = f32x4.splat(ql);
    const shift = f64x2.splat(<f64>qm - <f64>pm);

    // Lanes with Q = 0 add nothing, which keeps 0 * (-Infinity) out where z is masked and in
    // the padding lanes (-Infinity - -Infinity).
    let mass0 = zero64;
    let mass1 = zero64;
    let qd0 = zero64;
    let qd1 = zero64;
    for (let i = 0; i < classes; i += 4) {
      const zq = load_lanes(qr, i, classes, -Infinity);
      const zp = load_lanes(pr, i, classes, -Infinity);
      const qi = exp_f32x4_rr2_p5(log_softmax_lanes(qr, i, classes, vqm, vt, vql));
      const q0 = widen_low(qi);
      const q1 = widen_high(qi);
      const d0 = logit_gap_f64x2(zq, zp, shift, vt64, false);
      const d1 = logit_gap_f64x2(zq, zp, shift, vt64, true);
      mass0 = f64x2.add(mass0, q0);
      mass1 = f64x2.add(mass1, q1);
      qd0 = f64x2.add(qd0, v128.and(f64x2.mul(q0, d0), f64x2.ne(q0, zero64)));
      qd1 = f64x2.add(qd1, v128.and(f64x2.mul(q1, d1), f64x2.ne(q1, zero64)));
    }
    const meanD = sum_f64x2(f64x2.add(qd0, qd1)) / sum_f64x2(f64x2.add(mass0, mass1));
    const loss = meanD + (<f64>pl - <f64>ql);
    store<f64>(rowLoss + (<usize>r << 3), loss);

    if (gradScale == 0) continue;
    const scale = f64x2.splat(<f64>load<f32>(gradScale + (<usize>r << 2)) * <f64>invT);
    const vmeanD = f64x2.splat(meanD);

    // A NaN anywhere in the row makes the loss NaN, and then every gradient entry, masked
    // classes of Q included, must be NaN too.
    const nanRow = isNaN(loss);
    for (let i = 0; i < classes; i += 4) {
      const zq = load_lanes(qr, i, classes, -Infinity);
      const zp = load_lanes(pr, i, classes, -Infinity);
      const qi = exp_f32x4_rr2_p5(log_softmax_lanes(qr, i, classes, vqm, vt, vql));
      const d0 = logit_gap_f64x2(zq, zp, shift, vt64, false);
      const d1 = logit_gap_f64x2(zq, zp, shift, vt64, true);
      const g0 = f64x2.mul(scale, f64x2.mul(widen_low(qi), f64x2.sub(d0, vmeanD)));
      const g1 = f64x2.mul(scale, f64x2.mul(widen_high(qi), f64x2.sub(d1, vmeanD)));
      const g = i32x4.shuffle(f32x4.demote_f64x2_zero(g0), f32x4.demote_f64x2_zero(g1), 0, 1, 4, 5);
      store_lanes(gr, i, classes, nanRow ? f32x4.splat(NaN) : where_nonzero(g, qi));
    }
  }
}

/**
 * Generalized Jensen-Shannon divergence per row with M = beta P + (1 - beta) Q:
 * beta KL(P ‖ M) + (1 - beta) KL(Q ‖ M); beta = 0 is KL(P ‖ Q) and beta = 1 is KL(Q ‖ P).
 * Gradient: Q_j (h_j - mean h) / T with h = (1 - beta)(log Q - log M) and
 * mean h = sum_i Q_i h_i / sum_i Q_i, which keeps the rounding of Q out of the mean. h is kept
 * in `grad` between the last two passes. beta = 1 has its own kernel (f32_reverse_kl_rows).
 * Below 1, h = -(1 - beta) log(1 - beta + beta P / Q) is small where Q carries mass:
 * 0 <= h <= (1 - beta) log(1 / (1 - beta)) where P <= Q, and |h| <= (1 - beta) log(1 / Q)
 * elsewhere, so float32 rounding of h costs far less than at beta = 1.
 *
 * NOTE: h_j - mean h still cancels in two cases, within the atol of 1e-6 but not in relative
 * terms (measured in test/jsd-gradient.test.ts). Where P is far below Q on all of Q's support,
 * h is nearly (1 - beta) log(1 / (1 - beta)) there: entries of about 3e-6 are off by about
 * 1e-9 on both backends. Between close P and Q, log Q and log M are rounded to float32 before
 * they are subtracted: at 50257 classes with logits 1e-3 apart, the largest error is 8.5e-5 of
 * the largest entry, against 3.6e-8 on js. Taking log(M / Q) = log(1 - beta + beta e^r) from
 * r = log P - log Q computed from logit differences, evaluated like log1p near r = 0, would
 * remove the second, for an extra exp and a division per class.
 *
 * NOTE: the loss sums P log(P / M) term by term in float32, so between close P and Q (a JSD
 * below about 1e-6) its relative error grows like 1e-8 / JSD; KL avoids this (kl_from_sums).
 */
export function f32_js_divergence_rows(
  p: usize,
  q: usize,
  rows: i32,
  classes: i32,
  invT: f32,
  beta: f32,
  rowLoss: usize,
  gradScale: usize,
  grad: usize,
): void {
  if (beta == 0) {
    f32_kl_logits_rows(p, q, rows, classes, invT, rowLoss, gradScale, grad);
    return;
  }
  if (beta == 1) {
    f32_reverse_kl_rows(p, q, rows, classes, invT, rowLoss, gradScale, grad);
    return;
  }

  const rowBytes = <usize>classes << 2;
  const vt = f32x4.splat(invT);
  const vbeta = f32x4.splat(beta);
  const valpha = f32x4.splat(1 - beta);

  for (let r = 0; r < rows; r++) {
    const pr = p + <usize>r * rowBytes;
    const qr = q + <usize>r * rowBytes;
    const gr = grad + <usize>r * rowBytes;
    const pm = f32_rmax(pr, classes);
    const qm = f32_rmax(qr, classes);
    const vpm = f32x4.splat(pm);
    const vqm = f32x4.splat(qm);
    const vpl = f32x4.splat(shifted_lse(pr, classes, pm, invT));
    const vql = f32x4.splat(shifted_lse(qr, classes, qm, invT));

    // loss accumulates every term, mass sum Q and qh sum Q h.
    let loss0 = f64x2.splat(0);
    let loss1 = loss0;
    let mass0 = loss0;
    let mass1 = loss0;
    let qh0 = loss0;
    let qh1 = loss0;
    for (let i = 0; i < classes; i += 4) {
      const logP = log_softmax_lanes(pr, i, classes, vpm, vt, vpl);
      const logQ = log_softmax_lanes(qr, i, classes, vqm, vt, vql);
      const pi = exp_f32x4_rr2_p5(logP);
      const qi = exp_f32x4_rr2_p5(logQ);

      const logM = log_f32x4(f32x4.add(f32x4.mul(vbeta, pi), f32x4.mul(valpha, qi)));
      const h = where_nonzero(f32x4.mul(valpha, f32x4.sub(logQ, logM)), qi);
      // The P term is masked by beta P, not P: with a tiny beta (such as a subnormal), beta P
      // rounds to 0 where Q = 0, so M is 0 and the term would be 0 * Infinity.
      const betaP = f32x4.mul(vbeta, pi);
      const term = f32x4.add(where_nonzero(f32x4.mul(betaP, f32x4.sub(logP, logM)), betaP), f32x4.mul(qi, h));
      const qh = f32x4.mul(qi, h);
      loss0 = f64x2.add(loss0, widen_low(term));
      loss1 = f64x2.add(loss1, widen_high(term));
      mass0 = f64x2.add(mass0, widen_low(qi));
      mass1 = f64x2.add(mass1, widen_high(qi));
      qh0 = f64x2.add(qh0, widen_low(qh));
      qh1 = f64x2.add(qh1, widen_high(qh));
      if (gradScale != 0) store_lanes(gr, i, classes, h);
    }
    const loss = sum_f64x2(f64x2.add(loss0, loss1));
    store<f64>(rowLoss + (<usize>r << 3), loss);

    if (gradScale == 0) continue;
    const scale = f32x4.splat(load<f32>(gradScale + (<usize>r << 2)) * invT);
    const meanH = f32x4.splat(<f32>(sum_f64x2(f64x2.add(qh0, qh1)) / sum_f64x2(f64x2.add(mass0, mass1))));

    // A NaN anywhere in the row makes the loss NaN, and then every gradient entry, masked
    // classes of Q included, must be NaN too.
    const nanRow = isNaN(loss);
    for (let i = 0; i < classes; i += 4) {
      const qi = exp_f32x4_rr2_p5(log_softmax_lanes(qr, i, classes, vqm, vt, vql));
      const h = load_lanes(gr, i, classes, 0);
      const g = where_nonzero(f32x4.mul(scale, f32x4.mul(qi, f32x4.sub(h, meanH))), qi);
      store_lanes(gr, i, classes, nanRow ? f32x4.splat(NaN) : g);
    }
  }
}

/**
 * Distillation per row: alpha T^2 KL(P_T ‖ Q_T) + (1 - alpha) CE(Q_1, y), where P is the
 * teacher and Q the student. A `labels` pointer of 0 means no hard term, and the caller then
 * passes alpha 1. Rows whose label equals ignoreIndex get loss 0 and a zero gradient.
 * Gradient: alpha T (Q_T - P_T) + (1 - alpha)(Q_1 - [c = y]).
 */
export function f32_distillation_rows(
  student: usize,
  teacher: usize,
  labels: usize,
  ignoreIndex: i32,
  rows: i32,
  classes: i32,
  invT: f32,
  alpha: f32,
  rowLoss: usize,
  gradScale: usize,
  grad: usize,
): void {
  const rowBytes = <usize>classes << 2;
  const vt = f32x4.splat(invT);
  const temperature: f64 = 1.0 / <f64>invT;
  const softWeight: f64 = <f64>alpha * temperature * temperature;
  const hardWeight: f32 = 1 - alpha;
  const hasHard = labels != 0 && hardWeight != 0;

  for (let r = 0; r < rows; r++) {
    const sr = student + <usize>r * rowBytes;
    const tr = teacher + <usize>r * rowBytes;
    const gr = grad + <usize>r * rowBytes;
    const y = labels == 0 ? -1 : load<i32>(labels + (<usize>r << 2));
    if (labels != 0 && y == ignoreIndex) {
      store<f64>(rowLoss + (<usize>r << 3), 0);
      if (gradScale != 0) f32_vzero(gr, classes);
      continue;
    }

    // Soft term: kl_row writes scale alpha T^2 (1 / T)(Q_T - P_T), the gradient of the
    // weighted KL, with the teacher as P and the student as Q.
    const scale: f32 = gradScale == 0 ? 0 : load<f32>(gradScale + (<usize>r << 2));
    const gradRow: usize = gradScale == 0 ? 0 : gr;
    const kl = kl_row(tr, sr, classes, invT, gradRow, <f32>(<f64>scale * softWeight));

    // Hard term: the student at temperature 1, whose gradient Q_1 - onehot(y) is added in place.
    const sm: f32 = hasHard ? f32_rmax(sr, classes) : 0;
    const sl1 = hasHard ? shifted_lse(sr, classes, sm, 1) : 0;
    if (hasHard && gradScale != 0) {
      const vsm = f32x4.splat(sm);
      const vsl1 = f32x4.splat(sl1);
      const hardScale = f32x4.splat(scale * hardWeight);
      for (let i = 0; i < classes; i += 4) {
        const q1 = exp_f32x4_rr2_p5(f32x4.sub(f32x4.sub(load_lanes(sr, i, classes, -Infinity), vsm), vsl1));
        store_lanes(gr, i, classes, f32x4.add(load_lanes(gr, i, classes, 0), f32x4.mul(hardScale, q1)));
      }
    }

    let loss = softWeight * kl;
    if (hasHard) {
      const sy = load<f32>(sr + (<usize>y << 2));
      loss += <f64>hardWeight * (<f64>sl1 - <f64>(sy - sm));
      if (gradScale != 0) {
        const gy = gr + (<usize>y << 2);
        store<f32>(gy, load<f32>(gy) - scale * hardWeight);
      }
    }
    store<f64>(rowLoss + (<usize>r << 3), loss);
  }
}
