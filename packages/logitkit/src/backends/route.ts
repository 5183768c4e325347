/**
 * Kernels that send each row call to one of several backends, chosen per call. The wasm backend
 * uses it twice: small inputs go to the js kernels, and on a kit with threads the calls that stay
 * on one thread go to an instance with ordinary memory.
 */
import type { Logits, RowKernels } from "../backend.js";

/**
 * Chooses the kernels for one call from its shape, whether it is softmax, log-softmax or
 * logsumexp, and up to three of its matrices (null when absent).
 */
export type RowRoute = (
  rows: number,
  classes: number,
  softmaxLike: boolean,
  first: Logits | null,
  second: Logits | null,
  third: Logits | null,
) => RowKernels;

/** Returns kernels that run each row call on the kernels from `route`; other members are `base`'s. */
export function routeRowKernels(base: RowKernels, route: RowRoute): RowKernels {
  return {
    ...base,
    softmaxRows: (z, rows, classes, invT, out) => route(rows, classes, true, z, out, null).softmaxRows(z, rows, classes, invT, out),
    logSoftmaxRows: (z, rows, classes, invT, out) =>
      route(rows, classes, true, z, out, null).logSoftmaxRows(z, rows, classes, invT, out),
    logSumExpRows: (z, rows, classes, invT, out) =>
      route(rows, classes, true, z, out, null).logSumExpRows(z, rows, classes, invT, out),
    probsRows: (kind, p, q, rows, classes, rowLoss) =>
      route(rows, classes, false, p, q, null).probsRows(kind, p, q, rows, classes, rowLoss),
    entropyLogitsRows: (z, rows, classes, invT, rowLoss, gradScale, grad) =>
      route(rows, classes, false, z, grad, null).entropyLogitsRows(z, rows, classes, invT, rowLoss, gradScale, grad),
    crossEntropyLabelsRows: (z, labels, rows, classes, invT, weight, ignoreIndex, labelSmoothing, rowLoss, gradScale, grad) =>
      route(rows, classes, false, z, grad, null).crossEntropyLabelsRows(
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
      route(rows, classes, false, z, targets, grad).crossEntropyTargetsRows(
        z,
        targets,
        rows,
        classes,
        invT,
        weight,
        labelSmoothing,
        rowLoss,
        gradScale,
        grad,
      ),
    klLogitsRows: (p, q, rows, classes, invT, rowLoss, gradScale, grad) =>
      route(rows, classes, false, p, q, grad).klLogitsRows(p, q, rows, classes, invT, rowLoss, gradScale, grad),
    jsDivergenceRows: (p, q, rows, classes, invT, beta, rowLoss, gradScale, grad) =>
      route(rows, classes, false, p, q, grad).jsDivergenceRows(p, q, rows, classes, invT, beta, rowLoss, gradScale, grad),
    distillationRows: (student, teacher, labels, ignoreIndex, rows, classes, invT, alpha, rowLoss, gradScale, grad) =>
      route(rows, classes, false, student, teacher, grad).distillationRows(
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
    vocabStatsRows: (z, t, rows, classes, invT, stats) =>
      route(rows, classes, false, z, t, null).vocabStatsRows(z, t, rows, classes, invT, stats),
    topKDistillationRows: (student, teacher, k, labels, ignoreIndex, rows, classes, invT, alpha, rowLoss, gradScale, grad) =>
      route(rows, classes, false, student, grad, null).topKDistillationRows(
        student,
        teacher,
        k,
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
