// Softmax, log-softmax and logsumexp of each row of z / T.
//
// Every kernel: pass 1 finds the row maximum m (f32_rmax), pass 2 sums exp((z - m) / T) in
// float64 lanes (f32_raddstoreexpminusmax, exp by rr2_p5), pass 3 writes the outputs. The
// subtraction of m keeps every exponent <= 0, so nothing overflows for any finite input.

import { f32_raddstoreexpminusmax, f32_rmax, f32_vscale, f32_vshiftscale } from "./rows";

/** out = softmax((z - max z) * invT) per row; pass 2 stores the exponentials, pass 3 scales them. */
export function f32_softmax_rows(z: usize, out: usize, rows: i32, classes: i32, invT: f32): void {
  const rowBytes = <usize>classes << 2;
  for (let r = 0; r < rows; r++) {
    const zr = z + <usize>r * rowBytes;
    const outr = out + <usize>r * rowBytes;

    const m = f32_rmax(zr, classes);
    const sum = f32_raddstoreexpminusmax(zr, outr, classes, m, invT);
    f32_vscale(outr, classes, <f32>(1.0 / sum));
  }
}

/** out = (z - max z) * invT - log(sum) per row: log-softmax without forming a probability. */
export function f32_log_softmax_rows(z: usize, out: usize, rows: i32, classes: i32, invT: f32): void {
  const rowBytes = <usize>classes << 2;
  for (let r = 0; r < rows; r++) {
    const zr = z + <usize>r * rowBytes;
    const outr = out + <usize>r * rowBytes;

    const m = f32_rmax(zr, classes);
    const lse = <f32>Math.log(f32_raddstoreexpminusmax(zr, 0, classes, m, invT));

    f32_vshiftscale(zr, outr, classes, m, invT, lse);
  }
}

/**
 * out[r] = m * invT + log(sum) per row, computed in float64. A row that is all -Infinity gives
 * -Infinity and a row with +Infinity (and no NaN) +Infinity: their shifted sums are NaN, but
 * the maximum alone determines the result.
 */
export function f32_logsumexp_rows(z: usize, out: usize, rows: i32, classes: i32, invT: f32): void {
  const rowBytes = <usize>classes << 2;
  for (let r = 0; r < rows; r++) {
    const zr = z + <usize>r * rowBytes;
    const m = f32_rmax(zr, classes);

    let lse: f64 = m;
    if (m != -Infinity && m != Infinity) {
      lse = <f64>m * <f64>invT + Math.log(f32_raddstoreexpminusmax(zr, 0, classes, m, invT));
    }
    store<f32>(out + (<usize>r << 2), <f32>lse);
  }
}
