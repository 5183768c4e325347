// Kernels over equal slices of one long row, for splitting a single row of a huge vocabulary
// across threads. The caller cuts the row into `slices` slices of `length` floats, runs pass 1
// on every slice, merges the slice maxima into the row maximum m, runs pass 2 with that m, and
// merges the float64 slice sums. With the same m each slice computes exactly what the row
// kernels compute for those elements; only the order of the float64 additions differs.

import { f32_raddstoreexpminusmax, f32_rmax, f32_vscale, f32_vshiftscale } from "./rows";

/** maxOut[s] (float32) = maximum of slice s. */
export function f32_rmax_slices(z: usize, slices: i32, length: i32, maxOut: usize): void {
  const sliceBytes = <usize>length << 2;
  for (let s = 0; s < slices; s++) {
    store<f32>(maxOut + (<usize>s << 2), f32_rmax(z + <usize>s * sliceBytes, length));
  }
}

/**
 * sums[s] (float64) = sum of exp((z - m) * invT) over slice s; when `out` is not 0 the
 * exponentials are stored there too.
 */
export function f32_raddstoreexpminusmax_slices(
  z: usize,
  out: usize,
  slices: i32,
  length: i32,
  m: f32,
  invT: f32,
  sums: usize,
): void {
  const sliceBytes = <usize>length << 2;
  for (let s = 0; s < slices; s++) {
    const outs: usize = out == 0 ? 0 : out + <usize>s * sliceBytes;
    store<f64>(sums + (<usize>s << 3), f32_raddstoreexpminusmax(z + <usize>s * sliceBytes, outs, length, m, invT));
  }
}

/** Multiplies every slice in place by `scale`. */
export function f32_vscale_slices(x: usize, slices: i32, length: i32, scale: f32): void {
  const sliceBytes = <usize>length << 2;
  for (let s = 0; s < slices; s++) f32_vscale(x + <usize>s * sliceBytes, length, scale);
}

/** out = (z - m) * invT - shift over every slice: the last pass of log-softmax. */
export function f32_vshiftscale_slices(
  z: usize,
  out: usize,
  slices: i32,
  length: i32,
  m: f32,
  invT: f32,
  shift: f32,
): void {
  const sliceBytes = <usize>length << 2;
  for (let s = 0; s < slices; s++) {
    f32_vshiftscale(z + <usize>s * sliceBytes, out + <usize>s * sliceBytes, length, m, invT, shift);
  }
}
