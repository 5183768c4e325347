// Distillation from a teacher that gave only its top-k tokens per row, with the gradient with
// respect to the student's logits over every class. The `js` backend mirrors it
// (topKDistillationRows in packages/logitkit/src/backends/js.ts).

import { exp_f32x4_rr2_p5 } from "./math/exp";
import { f32_raddstoreexpminusmax, f32_rmax, f32_vscale, f32_vzero, load_tail, store_tail } from "./rows";

/** Returns exp(x) of one float with the vector exp, so that it equals the lanes of the row passes. */
// @ts-ignore: decorator
@inline
function exp_scalar(x: f32): f32 {
  return f32x4.extract_lane(exp_f32x4_rr2_p5(f32x4.splat(x)), 0);
}

/**
 * Top-k distillation per row: alpha T^2 KL(P ‖ Q_T) + (1 - alpha) CE(Q_1, y).
 *
 * `teacher` has 2k + 4 words per row. Words [0, k) list the k tokens S in ascending order, with
 * padding (-1) first. Words [k, 2k) are the teacher's probability t_j of each token, as f32.
 * Words [2k, 2k + 4) are two f64. The first is the tail mass r that P puts on the classes
 * outside S as one bucket, the second the teacher's term sum t log t + r log r + 1 - r - sum t.
 * A `labels` pointer of 0 means no hard term, and the caller then passes alpha 1. Rows whose
 * label equals ignoreIndex get loss 0 and a zero gradient.
 *
 * With x = (z - m) invT, q = softmax(x), mass = sum_S t and q_tail = sum of q outside S:
 *   KL = sum t log t + r log r + 1 - r - mass - sum_S t_j log q_j - r log q_tail.
 * The term 1 - r - mass is 0 up to the float32 rounding of t, and it keeps that rounding from
 * adding to KL when P and Q are close (KL of unnormalised t is then the generalized KL). Then
 *   dKL/dx_i = q_i (mass + r) - t_i for i in S, and q_i (mass + r) - r q_i / q_tail outside S.
 * The classes outside S are the gaps between the sorted tokens. Their exponentials are taken
 * from the tail's own maximum, e'_i = exp((z_i - tailMax) invT), so q_i / q_tail = e'_i / sum e'
 * stays exact when the tail lies far enough below the tokens for exp(x_i) to underflow.
 *
 * NOTE: KL is a difference of float64 sums, not kl_from_sums of losses.ts, so small divergences
 * lose relative accuracy: against klDivergence, 1e-4 at a KL of 4e-8 and 2% at 4e-12.
 */
export function f32_topk_distillation_rows(
  student: usize,
  teacher: usize,
  k: i32,
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
  const temperature: f64 = 1.0 / <f64>invT;
  const softWeight: f64 = <f64>alpha * temperature * temperature;
  const hardWeight: f64 = 1.0 - <f64>alpha;
  const hasHard = labels != 0 && hardWeight != 0;

  for (let r = 0; r < rows; r++) {
    const zr = student + <usize>r * rowBytes;
    const gr = grad + <usize>r * rowBytes;
    const ir = teacher + ((<usize>r * <usize>(2 * k + 4)) << 2);
    const tr = ir + (<usize>k << 2);
    const terms = tr + (<usize>k << 2);
    const y = labels == 0 ? -1 : load<i32>(labels + (<usize>r << 2));
    if (labels != 0 && y == ignoreIndex) {
      store<f64>(rowLoss + (<usize>r << 3), 0);
      if (gradScale != 0) f32_vzero(gr, classes);
      continue;
    }

    // The tail's maximum, then the row's. The f32 max is NaN when either operand is NaN.
    let tailMax: f32 = -Infinity;
    let from = 0;
    for (let j = 0; j < k; j++) {
      const token = load<i32>(ir + (<usize>j << 2));
      if (token < 0) continue;
      tailMax = max(tailMax, f32_rmax(zr + (<usize>from << 2), token - from));
      from = token + 1;
    }
    tailMax = max(tailMax, f32_rmax(zr + (<usize>from << 2), classes - from));
    let m = tailMax;
    for (let j = 0; j < k; j++) {
      const token = load<i32>(ir + (<usize>j << 2));
      if (token >= 0) m = max(m, load<f32>(zr + (<usize>token << 2)));
    }

    // Tail sum over the gaps. With a gradient, e' is kept in the gradient row. A tail that is
    // empty or all masked has no maximum, and any shift then gives exp = 0.
    const tailShift: f32 = tailMax == -Infinity ? 0 : tailMax;
    const keep = gradScale != 0;
    let tail: f64 = 0;
    from = 0;
    for (let j = 0; j <= k; j++) {
      const stop = j < k ? load<i32>(ir + (<usize>j << 2)) : classes;
      if (stop < 0) continue;
      const offset = <usize>from << 2;
      tail += f32_raddstoreexpminusmax(zr + offset, keep ? gr + offset : 0, stop - from, tailShift, invT);
      from = stop + 1;
    }

    // The tokens: their share of the normalizer and the cross-entropy terms sum t log e. Taking
    // log e rather than x makes log q = log e - L agree with the e in the normalizer, so the exp's
    // rounding cancels when P and Q are close. Where e underflows to 0, x is the better log.
    let topSum: f64 = 0;
    let mass: f64 = 0;
    let weighted: f64 = 0;
    for (let j = 0; j < k; j++) {
      const token = load<i32>(ir + (<usize>j << 2));
      if (token < 0) continue;
      const x: f32 = (load<f32>(zr + (<usize>token << 2)) - m) * invT;
      const e = exp_scalar(x);
      topSum += <f64>e;
      const t = load<f32>(tr + (<usize>j << 2));
      mass += <f64>t;
      if (t != 0) weighted += <f64>t * (e != 0 ? Math.log(<f64>e) : <f64>x);
    }

    // sum exp(x) = topSum + tail exp((tailShift - m) invT), and log q_tail = log tail + (tailShift - m) invT - L.
    const tailLogShift: f64 = (<f64>tailShift - <f64>m) * <f64>invT;
    const tailWeight: f64 = tail == 0 ? 0 : Math.exp(tailLogShift);
    const sum = topSum + tail * tailWeight;
    const lse = Math.log(sum);
    const tailMass = load<f64>(terms);
    const teacherTerm = load<f64>(terms, 8);
    const crossEntropy = lse * mass - weighted;
    const tailTerm: f64 = tailMass == 0 ? 0 : tailMass * (lse - Math.log(tail) - tailLogShift);
    let loss = softWeight * (teacherTerm + crossEntropy + tailTerm);

    // Hard term: the student at temperature 1, whose logsumexp is L itself when T = 1.
    const sameTemperature = invT == 1;
    let hardLse = lse;
    if (hasHard && !sameTemperature) hardLse = Math.log(f32_raddstoreexpminusmax(zr, 0, classes, m, 1));
    if (hasHard) loss += hardWeight * (hardLse - <f64>(load<f32>(zr + (<usize>y << 2)) - m));
    store<f64>(rowLoss + (<usize>r << 3), loss);
    if (gradScale == 0) continue;

    // grad = c (q (mass + r) - target) + h (q_1 - onehot(y)), with c = gradScale alpha T^2 / T.
    // At T = 1, q_1 = q and the hard term joins probScale.
    const scale = <f64>load<f32>(gradScale + (<usize>r << 2));
    const c = scale * softWeight * <f64>invT;
    const h: f64 = hasHard ? scale * hardWeight : 0;
    const probScale = (c * (mass + tailMass) + (sameTemperature ? h : 0)) / sum;

    // The tail's stored e' give q_i = e'_i tailWeight / sum. An empty tail keeps the row's NaN.
    let tailScale: f64 = tail == 0 ? 0 * probScale : probScale * tailWeight;
    if (tail != 0 && tailMass != 0) tailScale -= (c * tailMass) / tail;
    f32_vscale(gr, classes, <f32>tailScale);
    for (let j = 0; j < k; j++) {
      const token = load<i32>(ir + (<usize>j << 2));
      if (token < 0) continue;
      const e = exp_scalar((load<f32>(zr + (<usize>token << 2)) - m) * invT);
      const t = load<f32>(tr + (<usize>j << 2));
      store<f32>(gr + (<usize>token << 2), <f32>(probScale * <f64>e - c * <f64>t));
    }

    if (!hasHard) continue;
    if (!sameTemperature) addHardProbs(zr, gr, classes, m, <f32>hardLse, <f32>h);
    const gy = gr + (<usize>y << 2);
    store<f32>(gy, <f32>(<f64>load<f32>(gy) - h));
  }
}

/** Adds scale * exp(z_i - m - lse) to grad_i over the row: the hard term's h q_1 when T != 1. */
function addHardProbs(zr: usize, gr: usize, classes: i32, m: f32, lse: f32, scale: f32): void {
  const vm = f32x4.splat(m);
  const vlse = f32x4.splat(lse);
  const vscale = f32x4.splat(scale);
  let i = 0;
  for (; i + 4 <= classes; i += 4) {
    const offset = <usize>i << 2;
    const q1 = exp_f32x4_rr2_p5(f32x4.sub(f32x4.sub(v128.load(zr + offset), vm), vlse));
    v128.store(gr + offset, f32x4.add(v128.load(gr + offset), f32x4.mul(vscale, q1)));
  }
  if (i < classes) {
    const offset = <usize>i << 2;
    const q1 = exp_f32x4_rr2_p5(f32x4.sub(f32x4.sub(load_tail(zr + offset, classes - i, -Infinity), vm), vlse));
    store_tail(gr + offset, f32x4.add(load_tail(gr + offset, classes - i, 0), f32x4.mul(vscale, q1)), classes - i);
  }
}
