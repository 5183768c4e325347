/**
 * Dispatch of small inputs from the wasm kernels to the js kernels. A wasm call costs a fixed
 * amount beyond the work itself: laying out the buffers, copying into WebAssembly memory and
 * out of it, and crossing into the module. Below about 64 logits that cost exceeds the work,
 * so the js kernels finish first.
 */
import type { RowKernels } from "../backend.js";
import { jsKernels } from "./js.js";
import { routeRowKernels } from "./route.js";

/**
 * Largest input, in logits (rows x classes of one logits or probabilities argument), that
 * `withSmallInputsOnJs` sends to the js kernels. At 64 logits the two backends took about
 * the same time per call for softmax and log-softmax, and the js kernels were 1.3x faster for
 * cross-entropy (2-core AMD EPYC virtual machine, Node 20). At 128 logits wasm was 1.1x to 2x
 * faster.
 */
export const SMALL_INPUT_MAX_LOGITS = 64;

/**
 * Returns kernels that run inputs of at most `maxLogits` logits on the js kernels and larger
 * ones on `wasm`. Results of small calls are the js backend's (float64 arithmetic, rounded to
 * float32), which can differ from the wasm kernels' in the last float32 digits.
 */
export function withSmallInputsOnJs(wasm: RowKernels, maxLogits = SMALL_INPUT_MAX_LOGITS): RowKernels {
  // Members without inputs (threads, memory, handles) are the wasm kernels' own.
  return routeRowKernels(wasm, (rows, classes) => (rows * classes <= maxLogits ? jsKernels : wasm));
}
