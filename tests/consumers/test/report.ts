/**
 * Checks of the report that fixtures/checks.mjs returns in every consumer, against float64
 * values computed here from the same inputs.
 */
import { expect } from "vitest";
import { LARGE, SMALL, largeLabels, makeLogits } from "../fixtures/checks.mjs";
import { crossEntropy64, logSumExp64, softmax64, worstEntry } from "../src/reference.js";

/** What `runChecks` returns, after a round trip through JSON. */
export interface ConsumerReport {
  backend: string;
  fallbackReason: string | null;
  softmax: number[];
  crossEntropy: { loss: number; grad: number[] };
  oneThread: { logSumExp: number[]; crossEntropy: number[] };
  pool: { backend: string; threads: number; threadsReason: string | null; logSumExp: number[]; crossEntropy: number[] };
  worker: { backend: string; threads: number; loss: number; grad: number[] };
}

const small = makeLogits(SMALL.rows, SMALL.classes, SMALL.seed);
const large = makeLogits(LARGE.rows, LARGE.classes, LARGE.seed);
const expected = {
  softmax: softmax64(small, SMALL.classes, SMALL.temperature),
  crossEntropy: crossEntropy64(small, SMALL.labels, SMALL.classes, SMALL.labelSmoothing),
  logSumExp: logSumExp64(large, LARGE.classes),
  largeCrossEntropy: crossEntropy64(large, largeLabels(), LARGE.classes),
};

/** Asserts that `actual` matches the float64 `reference` within the tolerance of `worstEntry`. */
function expectClose(name: string, actual: ArrayLike<number>, reference: ArrayLike<number>): void {
  expect(actual.length, `${name}: length`).toBe(reference.length);
  const worst = worstEntry(actual, reference);
  expect(worst.ratio, `${name}[${worst.index}] is ${worst.actual}, float64 value ${worst.expected}`).toBeLessThanOrEqual(1);
}

/** Checks a consumer's report: values against float64, the backend, and the pool's and worker's results. */
export function checkReport(report: ConsumerReport): void {
  expect(report.backend, `kit.backend (fallbackReason: ${report.fallbackReason})`).toBe("wasm");
  expectClose("softmax", report.softmax, expected.softmax);
  expectClose("crossEntropyWithGrad loss", [report.crossEntropy.loss], [expected.crossEntropy.mean]);
  expectClose("crossEntropyWithGrad grad", report.crossEntropy.grad, expected.crossEntropy.grad);
  expectClose("logSumExp of the large input", report.oneThread.logSumExp, expected.logSumExp);
  expectClose("crossEntropy per row of the large input", report.oneThread.crossEntropy, expected.largeCrossEntropy.perRow);

  // With the rows split between threads, the pool's results equal one thread's bit for bit.
  expect(report.pool.threadsReason, "threadsReason of loadLogitKit({ threads: 2 })").toBeNull();
  expect(report.pool.threads).toBe(2);
  expect(report.pool.backend).toBe("wasm");
  expect(report.pool.logSumExp, "logSumExp on 2 threads").toEqual(report.oneThread.logSumExp);
  expect(report.pool.crossEntropy, "crossEntropy on 2 threads").toEqual(report.oneThread.crossEntropy);

  // The worker runs the same kernels as the calling thread, so its results are the same floats.
  expect(report.worker.backend, "backend of loadLogitKitWorker()").toBe("wasm");
  expect(report.worker.threads).toBe(1);
  expect(report.worker.loss, "loss of loadLogitKitWorker()").toBe(report.crossEntropy.loss);
  expect(report.worker.grad, "grad of loadLogitKitWorker()").toEqual(report.crossEntropy.grad);
}
