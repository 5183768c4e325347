// Measures between rows of probabilities: entropy, cross-entropy and KL divergence.
// Terms where p = 0 are 0 (0 log 0 = 0, and 0 log q = 0 even for q = 0); p > 0 with q = 0
// gives +Infinity through log 0 = -Infinity. The KL term is p log(p / q), one logarithm of the
// ratio, which keeps its accuracy when p and q are close.

import { log_f32x4 } from "./math/log";
import { load_tail, sum_f64x2, widen_high, widen_low } from "./rows";

/** Selector values of f32_probs_rows. */
// @ts-ignore: decorator
@inline const ENTROPY: i32 = 0;
// @ts-ignore: decorator
@inline const CROSS_ENTROPY: i32 = 1;

/**
 * rowLoss[r] = -sum p log p (kind 0), -sum p log q (kind 1) or sum p log(p / q) (kind 2),
 * accumulated in float64. `q` is not read for kind 0. Padding lanes of a row's tail hold p = 0.
 */
export function f32_probs_rows(kind: i32, p: usize, q: usize, rows: i32, classes: i32, rowLoss: usize): void {
  const rowBytes = <usize>classes << 2;
  const zero = f32x4.splat(0);

  for (let r = 0; r < rows; r++) {
    const pr = p + <usize>r * rowBytes;
    const qr = q + <usize>r * rowBytes;
    let acc0 = f64x2.splat(0);
    let acc1 = acc0;

    for (let i = 0; i < classes; i += 4) {
      const offset = <usize>i << 2;
      const full = i + 4 <= classes;
      const pv = full ? v128.load(pr + offset) : load_tail(pr + offset, classes - i, 0);

      let term: v128;
      if (kind == ENTROPY) {
        term = f32x4.neg(f32x4.mul(pv, log_f32x4(pv)));
      } else {
        const qv = full ? v128.load(qr + offset) : load_tail(qr + offset, classes - i, 1);
        term =
          kind == CROSS_ENTROPY
            ? f32x4.neg(f32x4.mul(pv, log_f32x4(qv)))
            : f32x4.mul(pv, log_f32x4(f32x4.div(pv, qv)));
      }
      term = v128.and(term, f32x4.ne(pv, zero));

      // Lanes with p = 0 are masked, but a NaN in q there must still make the row NaN.
      if (kind != ENTROPY) {
        const qv = full ? v128.load(qr + offset) : load_tail(qr + offset, classes - i, 1);
        term = v128.or(term, v128.and(f32x4.ne(qv, qv), f32x4.splat(NaN)));
      }
      acc0 = f64x2.add(acc0, widen_low(term));
      acc1 = f64x2.add(acc1, widen_high(term));
    }
    store<f64>(rowLoss + (<usize>r << 3), sum_f64x2(f64x2.add(acc0, acc1)));
  }
}
