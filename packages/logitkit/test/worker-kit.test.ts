/**
 * loadLogitKitWorker: a kit on its own worker thread that returns promises. Its results must
 * equal those of a kit on the calling thread bit for bit, its errors must be the same errors, and
 * calls made before earlier ones finish, or pending at dispose(), must behave as documented.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadLogitKit, loadLogitKitWorker, type LogitKit, type LogitKitWorker } from "../src/index.js";
import { firstDifference, logSoftmax64, randomNormal, rowsOf } from "./reference.js";

type AnyMethod = (...args: unknown[]) => unknown;

const ROWS = 6;
const CLASSES = 37;
const logits = randomNormal(ROWS * CLASSES, 11, 2);
const other = randomNormal(ROWS * CLASSES, 12, 2);
const labels = Int32Array.from({ length: ROWS }, (_, r) => (r * 7) % CLASSES);
const probs = new Float32Array(ROWS * CLASSES);
const targets = new Float32Array(ROWS * CLASSES);

/** Every forwarded method with arguments that exercise its options. */
const CALLS: Array<[string, unknown[]]> = [
  ["softmax", [logits, { classes: CLASSES, temperature: 0.7 }]],
  ["logSoftmax", [logits, { classes: CLASSES }]],
  ["logSumExp", [logits, { classes: CLASSES, temperature: 2 }]],
  ["entropy", [probs, { classes: CLASSES, reduction: "none" }]],
  ["crossEntropyOfProbs", [probs, targets, { classes: CLASSES }]],
  ["klDivergenceOfProbs", [probs, targets, { classes: CLASSES, reduction: "sum" }]],
  ["entropyOfLogits", [logits, { classes: CLASSES, temperature: 3 }]],
  ["entropyOfLogitsWithGrad", [logits, { classes: CLASSES, reduction: "none", gradOutput: [1, 2, 3, 4, 5, 6] }]],
  ["crossEntropy", [logits, labels, { classes: CLASSES, labelSmoothing: 0.1, weight: new Float32Array(CLASSES).fill(2) }]],
  ["crossEntropyWithGrad", [logits, [...labels].map((label, r) => (r === 2 ? -100 : label)), { classes: CLASSES }]],
  ["crossEntropyWithGrad", [logits, targets, { classes: CLASSES, reduction: "sum" }]],
  ["klDivergence", [logits, other, { classes: CLASSES, reduction: "none" }]],
  ["klDivergenceWithGrad", [logits, other, { classes: CLASSES, temperature: 2 }]],
  ["jsDivergence", [logits, other, { classes: CLASSES, beta: 0.3 }]],
  ["jsDivergenceWithGrad", [logits, other, { classes: CLASSES }]],
  ["distillationLoss", [logits, other, { classes: CLASSES, temperature: 4, labels, alpha: 0.7 }]],
  ["distillationLossWithGrad", [logits, other, { classes: CLASSES, temperature: 2 }]],
];

/** Fails unless two results (number, array or loss with gradient) are identical bit for bit. */
function expectIdentical(actual: unknown, expected: unknown, label: string): void {
  if (expected instanceof Float32Array) {
    expect(actual, label).toBeInstanceOf(Float32Array);
    expect((actual as Float32Array).length, label).toBe(expected.length);
    expect(firstDifference(actual as Float32Array, expected), label).toBe(-1);
  } else if (typeof expected === "number") {
    expect(Object.is(actual, expected), `${label}: ${String(actual)} vs ${expected}`).toBe(true);
  } else {
    const { loss, grad } = expected as { loss: unknown; grad: Float32Array };
    expectIdentical((actual as { loss: unknown }).loss, loss, `${label} loss`);
    expectIdentical((actual as { grad: unknown }).grad, grad, `${label} grad`);
  }
}

/** Returns the error that `run` throws or rejects with, or fails. */
async function errorOf(run: () => unknown): Promise<Error> {
  try {
    await run();
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected an error");
}

/** Fills the probability inputs from logits through a float64 softmax. */
function fillProbabilities(): void {
  rowsOf(logits, CLASSES).forEach((row, r) => probs.set(logSoftmax64(row).map(Math.exp), r * CLASSES));
  rowsOf(other, CLASSES).forEach((row, r) => targets.set(logSoftmax64(row).map(Math.exp), r * CLASSES));
}

describe.each([
  ["wasm", 1],
  ["js", 1],
  ["wasm", 2],
] as const)("loadLogitKitWorker on %s with %i thread(s)", (backend, threads) => {
  let remote: LogitKitWorker;
  let local: LogitKit;

  beforeAll(async () => {
    fillProbabilities();
    remote = await loadLogitKitWorker({ backend, threads });
    local = await loadLogitKit({ backend });
  });

  afterAll(async () => {
    await remote.dispose();
  });

  it("reports its backend and threads", () => {
    expect(remote.backend).toBe(backend);
    expect(remote.fallbackReason).toBeUndefined();
    if (threads === 1) expect(remote.threads).toBe(1);
    else expect(remote.threads === 2 || remote.threadsReason !== undefined).toBe(true);
  });

  it("gives every method's results bit for bit", async () => {
    for (const [method, args] of CALLS) {
      const expected = (local[method as keyof LogitKit] as AnyMethod)(...args);
      const actual = await (remote[method as keyof LogitKitWorker] as AnyMethod)(...args);
      expectIdentical(actual, expected, method);
    }
  });

  it("settles pending calls with their own results", async () => {
    const shapes = [
      [1, 8],
      [3, 17],
      [16, 32768],
      [2, 50257],
    ];
    const inputs = Array.from({ length: 32 }, (_, i) => {
      const [rows, classes] = shapes[i % shapes.length];
      return { rows, classes, z: randomNormal(rows * classes, 200 + i, 3) };
    });

    const results = await Promise.all(
      inputs.map(({ classes, z }, i) =>
        i % 2 === 0 ? remote.logSoftmax(z, { classes }) : remote.entropyOfLogitsWithGrad(z, { classes, reduction: "none" }),
      ),
    );

    results.forEach((result, i) => {
      const { classes, z } = inputs[i];
      const expected = i % 2 === 0 ? local.logSoftmax(z, { classes }) : local.entropyOfLogitsWithGrad(z, { classes, reduction: "none" });
      expectIdentical(result, expected, `call ${i}`);
    });
  });

  it("copies arguments at call time", async () => {
    const z = randomNormal(4 * 100, 3, 1);
    const expected = local.softmax(z, { classes: 100 });
    const options = { classes: 100 };

    const pending = remote.softmax(z, options);
    z.fill(0);
    options.classes = 7;

    expectIdentical(await pending, expected, "softmax");
  });

  it("reads views and shared arrays", async () => {
    const big = new Float32Array(1 << 20);
    big.set(logits, 1000);
    const view = big.subarray(1000, 1000 + logits.length);
    expectIdentical(await remote.softmax(view, { classes: CLASSES }), local.softmax(logits, { classes: CLASSES }), "view");

    if (typeof SharedArrayBuffer === "function") {
      const shared = new Float32Array(new SharedArrayBuffer(logits.byteLength));
      shared.set(logits);
      expectIdentical(await remote.logSumExp(shared, { classes: CLASSES }), local.logSumExp(logits, { classes: CLASSES }), "shared");
    }
  });

  it("rejects invalid input like LogitKit", async () => {
    const detached = new Float32Array(CLASSES);
    structuredClone(detached.buffer, { transfer: [detached.buffer] });
    const bad: Array<[string, unknown[]]> = [
      ["softmax", [logits, { classes: 5 }]],
      ["softmax", [logits, { classes: CLASSES, temperature: Number.NaN }]],
      ["softmax", [logits, { classes: CLASSES, colour: "red" }]],
      ["softmax", [new Float64Array(logits), { classes: CLASSES }]],
      ["softmax", [{ length: 3 }, { classes: CLASSES }]],
      ["softmax", [logits, null]],
      ["softmax", [detached, { classes: CLASSES }]],
      ["crossEntropy", [logits, Int32Array.of(0, 1, 2, 3, 4, CLASSES), { classes: CLASSES }]],
      ["crossEntropy", [logits, labels, { classes: CLASSES, reduction: "average" }]],
      ["crossEntropy", [logits, labels, { classes: CLASSES, weight: detached }]],
      ["crossEntropyWithGrad", [logits, labels, { classes: CLASSES, gradOutput: [1, 2, 3, 4, 5, 6] }]],
      ["klDivergence", [logits, other.subarray(1), { classes: CLASSES }]],
      ["jsDivergence", [logits, other, { classes: CLASSES, beta: 1.5 }]],
      ["distillationLoss", [logits, other, { classes: CLASSES, alpha: -1 }]],
    ];

    for (const [method, args] of bad) {
      const expected = await errorOf(() => (local[method as keyof LogitKit] as AnyMethod)(...args));
      const actual = await errorOf(() => (remote[method as keyof LogitKitWorker] as AnyMethod)(...args));
      expect(actual.constructor, `${method} ${actual.message}`).toBe(expected.constructor);
      expect(actual.message).toBe(expected.message);
    }
    expectIdentical(await remote.softmax(logits, { classes: CLASSES }), local.softmax(logits, { classes: CLASSES }), "after");
  });

  it("rejects handles, out and functions", async () => {
    const handle = local.upload(logits, { classes: CLASSES });
    const cases: Array<[() => Promise<unknown>, ErrorConstructor, string]> = [
      [() => remote.softmax(handle as never, { classes: CLASSES }), TypeError, "softmax: logits is a handle of a LogitKit"],
      [() => remote.softmax(logits, { classes: CLASSES, out: new Float32Array(logits.length) } as never), TypeError, "options.out is not available"],
      [() => remote.klDivergenceWithGrad(logits, other, { classes: CLASSES, gradOut: handle } as never), TypeError, "options.gradOut is not available"],
      [() => remote.softmax(logits, { classes: CLASSES, temperature: (() => 1) as never }), TypeError, "could not be copied to the worker thread"],
    ];
    for (const [run, type, text] of cases) {
      const error = await errorOf(run);
      expect(error).toBeInstanceOf(type);
      expect(error.message).toContain(text);
    }
    handle.free();
  });

  it("keeps the calling thread free", async () => {
    const classes = 50257;
    const z = randomNormal(64 * classes, 5, 4);
    let timerRan = false;
    setTimeout(() => (timerRan = true), 0);

    const result = await remote.klDivergenceWithGrad(z, z, { classes, reduction: "none" });
    // A call that blocked its thread would return before any timer of that thread could run.
    expect(timerRan).toBe(true);
    expect(Math.max(...(result.loss as Float32Array))).toBeLessThan(1e-6);
  });
});

describe("loadLogitKitWorker options", () => {
  it("rejects invalid load options like loadLogitKit", async () => {
    for (const options of [{ backend: "gpu" }, { threads: 0 }, { threads: 1.5 }, { colour: 1 }]) {
      const expected = await errorOf(() => loadLogitKit(options as never));
      const actual = await errorOf(() => loadLogitKitWorker(options as never));
      expect(actual.constructor).toBe(expected.constructor);
      expect(actual.message).toBe(expected.message.replaceAll(/\bloadLogitKit\b/g, "loadLogitKitWorker"));
    }
  });
});

describe("dispose() of a LogitKitWorker", () => {
  it("rejects pending and later calls", async () => {
    const remote = await loadLogitKitWorker({ backend: "wasm" });
    const z = randomNormal(256 * 1000, 9, 2);
    const pending = Array.from({ length: 8 }, (_, i) => remote.logSoftmax(z, { classes: 1000, temperature: 1 + i }));
    const settled = Promise.allSettled(pending);

    await remote.dispose();
    const outcomes = await settled;
    for (const outcome of outcomes) {
      expect(outcome.status).toBe("rejected");
      expect(((outcome as PromiseRejectedResult).reason as Error).message).toBe(
        "logSoftmax: dispose() was called before the call finished.",
      );
    }

    const later = await errorOf(() => remote.softmax(z, { classes: 1000 }));
    expect(later.message).toBe("softmax: this LogitKitWorker was disposed; load a new one with loadLogitKitWorker().");
    await remote.dispose();
  });
});
