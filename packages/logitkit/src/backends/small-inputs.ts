/**
 * Dispatch of small inputs from the wasm kernels to the js kernels. A wasm call costs a fixed
 * amount beyond the work itself: laying out the buffers, copying into WebAssembly memory and
 * out of it, and crossing into the module. Below about 64 logits that cost exceeds the work,
 * so the js kernels finish first.
 */
import type { RowKernels } from "../backend.js";
import { jsKernels } from "./js.js";

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
  const pick = (rows: number, classes: number): RowKernels => (rows * classes <= maxLogits ? jsKernels : wasm);

  // Members without inputs (threads, memory, handles) are the wasm kernels' own.
  return {
    ...wasm,
    softmaxRows: (z, rows, classes, invT, out) => pick(rows, classes).softmaxRows(z, rows, classes, invT, out),
    logSoftmaxRows: (z, rows, classes, invT, out) => pick(rows, classes).logSoftmaxRows(z, rows, classes, invT, out),
    logSumExpRows: (z, rows, classes, invT, out) => pick(rows, classes).logSumExpRows(z, rows, classes, invT, out),
    probsRows: (kind, p, q, rows, classes, rowLoss) => pick(rows, classes).probsRows(kind, p, q, rows, classes, rowLoss),
    entropyLogitsRows: (z, rows, classes, invT, rowLoss, gradScale, grad) =>
      pick(rows, classes).entropyLogitsRows(z, rows, classes, invT, rowLoss, gradScale, grad),
    crossEntropyLabelsRows: (z, labels, rows, classes, invT, weight, ignoreIndex, labelSmoothing, rowLoss, gradScale, grad) =>
      pick(rows, classes).crossEntropyLabelsRows(
        z,
        labels,
        rows,
        classes,
        invT,
        weight,
        ignoreIndex,
        labelSmoothing,
        rowLoss,
        gradScale,
        grad,
      ),
    crossEntropyTargetsRows: (z, targets, rows, classes, invT, weight, labelSmoothing, rowLoss, gradScale, grad) =>
      pick(rows, classes).crossEntropyTargetsRows(z, targets, rows, classes, invT, weight, labelSmoothing, rowLoss, gradScale, grad),
    klLogitsRows: (p, q, rows, classes, invT, rowLoss, gradScale, grad) =>
      pick(rows, classes).klLogitsRows(p, q, rows, classes, invT, rowLoss, gradScale, grad),
    jsDivergenceRows: (p, q, rows, classes, invT, beta, rowLoss, gradScale, grad) =>
      pick(rows, classes).jsDivergenceRows(p, q, rows, classes, invT, beta, rowLoss, gradScale, grad),
    distillationRows: (student, teacher, labels, ignoreIndex, rows, classes, invT, alpha, rowLoss, gradScale, grad) =>
      pick(rows, classes).distillationRows(
        student,
        teacher,
        labels,
        ignoreIndex,
        rows,
        classes,
        invT,
        alpha,
        rowLoss,
        gradScale,
        grad,
      ),
  };
}
