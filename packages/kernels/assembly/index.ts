// The logitkit kernels: raw functions over pointers into this module's linear memory. They
// allocate nothing; the caller lays out every buffer above heap_base().

import { exp_f32x4_rr2_p5 } from "./math/exp";
import { log_f32x4 } from "./math/log";
import { load_tail, store_tail } from "./rows";

export { f32_softmax_rows, f32_log_softmax_rows, f32_logsumexp_rows } from "./softmax";
export {
  f32_entropy_logits_rows,
  f32_cross_entropy_labels_rows,
  f32_cross_entropy_targets_rows,
  f32_kl_logits_rows,
  f32_js_divergence_rows,
  f32_distillation_rows,
} from "./losses";
export { f32_probs_rows } from "./probs";
export { f32_vocab_stats_rows } from "./vocab";
export { f32_topk_distillation_rows } from "./topk";
export { bf16_vcvt_f32, f16_vcvt_f32 } from "./convert";
export {
  f32_rmax_slices,
  f32_raddstoreexpminusmax_slices,
  f32_vscale_slices,
  f32_vshiftscale_slices,
} from "./slices";

/** First address after the module's static data; the caller's buffers start here. */
export function heap_base(): usize {
  return __heap_base;
}

/** out[i] = exp(x[i]) with the kernels' exp, for measuring its error. */
export function f32_vexp_rr2_p5(x: usize, out: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const offset = <usize>i << 2;
    v128.store(out + offset, exp_f32x4_rr2_p5(v128.load(x + offset)));
  }
  if (i < n) store_tail(out + (<usize>i << 2), exp_f32x4_rr2_p5(load_tail(x + (<usize>i << 2), n - i, 0)), n - i);
}

/** out[i] = log(x[i]) with the kernels' log, for measuring its error. */
export function f32_vlog(x: usize, out: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const offset = <usize>i << 2;
    v128.store(out + offset, log_f32x4(v128.load(x + offset)));
  }
  if (i < n) store_tail(out + (<usize>i << 2), log_f32x4(load_tail(x + (<usize>i << 2), n - i, 1)), n - i);
}
