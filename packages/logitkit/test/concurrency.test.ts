/**
 * Calls that interleave: many asynchronous tasks share one kit with worker threads, each
 * uploading, computing and freeing between awaits. Every call is synchronous, so tasks can only
 * interleave between calls; handles and scratch memory must still never mix between tasks.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadLogitKit, type LogitKit } from "../src/index.js";
import { firstDifference, randomNormal } from "./reference.js";

/** Resolves after a macrotask, so that other tasks run in between. */
const yieldToOthers = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

describe("concurrent tasks on one kit", () => {
  let threaded: LogitKit;
  let single: LogitKit;

  beforeAll(async () => {
    threaded = await loadLogitKit({ backend: "wasm", threads: 2 });
    single = await loadLogitKit({ backend: "wasm" });
  });

  afterAll(() => {
    threaded.dispose();
  });

  it("gives each Promise.all task its own results", async () => {
    const tasks = Array.from({ length: 24 }, (_, task) => {
      // Sizes around the pool's thresholds: small rows, 2 MiB arrays, and a wide vocabulary.
      const [rows, classes] = [[3, 17], [16, 32768], [2, 50257], [64, 8000]][task % 4];
      const logits = randomNormal(rows * classes, 100 + task, 3);
      const labels = Int32Array.from({ length: rows }, (_, r) => (r * 31 + task) % classes);
      return { task, rows, classes, logits, labels };
    });

    const results = await Promise.all(
      tasks.map(async ({ task, rows, classes, logits, labels }) => {
        await yieldToOthers();
        const handle = threaded.upload(logits, { classes });
        await yieldToOthers();
        const probs = threaded.alloc(rows * classes, { classes });
        threaded.softmax(handle, { classes, out: probs });
        await yieldToOthers();
        const fromHandle = probs.toArray();
        const grad = threaded.crossEntropyWithGrad(handle, labels, { classes, reduction: "sum" });
        await yieldToOthers();
        const fromArray = threaded.logSoftmax(logits, { classes });
        handle.free();
        probs.free();
        return { task, fromHandle, grad, fromArray };
      }),
    );

    for (const { task, fromHandle, grad, fromArray } of results) {
      const { classes, logits, labels } = tasks[task];
      expect(firstDifference(fromHandle, single.softmax(logits, { classes })), `task ${task} softmax`).toBe(-1);
      const expected = single.crossEntropyWithGrad(logits, labels, { classes, reduction: "sum" });
      expect(grad.loss, `task ${task} loss`).toBe(expected.loss);
      expect(firstDifference(grad.grad, expected.grad), `task ${task} grad`).toBe(-1);
      expect(firstDifference(fromArray, single.logSoftmax(logits, { classes })), `task ${task} logSoftmax`).toBe(-1);
    }
  }, 120_000);
});
