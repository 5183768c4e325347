/**
 * Soak test of the wasm backend: 100,000 mixed calls of varying sizes, handles and failing calls
 * on one kit. The WebAssembly memory must stop growing once the largest input has been seen,
 * and the JavaScript heap must not grow beyond noise. It runs in Node.js only, because it
 * measures the heap after explicit garbage collections.
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { loadWasmKernels } from "../src/backends/embedded.js";
import { loadLogitKit, type LogitKit } from "../src/index.js";
import { createKit } from "../src/kit.js";
import { randomNormal } from "./reference.js";

const CALLS = 100_000;

/** Heap growth allowed over the soak, in bytes: noise of V8's heap after a full collection. */
const HEAP_GROWTH_LIMIT = 4 * 1024 * 1024;

// V8 exposes gc() to contexts created after the flag is set.
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

/** Deterministic generator, so that a failure replays with the same calls. */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/** Shapes of the soak: mostly small, some medium, and the largest one first. */
const LARGEST: [number, number] = [96, 32000];
const SHAPES: Array<[number, number]> = [[1, 1], [1, 8], [3, 17], [2, 64], [16, 100], [4, 1000], [8, 4096], [1, 50257], [33, 257], [128, 10]];

interface Call {
  name: string;
  run(kit: LogitKit, rows: number, classes: number): unknown;
}

function makeCalls(z: Float32Array, q: Float32Array): Call[] {
  const labels = (rows: number, classes: number) => Int32Array.from({ length: rows }, (_, r) => (r * 7919) % classes);
  const view = (data: Float32Array, rows: number, classes: number) => data.subarray(0, rows * classes);

  return [
    { name: "softmax", run: (kit, rows, classes) => kit.softmax(view(z, rows, classes), { classes, temperature: 1.5 }) },
    { name: "logSoftmax", run: (kit, rows, classes) => kit.logSoftmax(view(z, rows, classes), { classes }) },
    { name: "logSumExp", run: (kit, rows, classes) => kit.logSumExp(view(z, rows, classes), { classes }) },
    { name: "entropyOfLogitsWithGrad", run: (kit, rows, classes) => kit.entropyOfLogitsWithGrad(view(z, rows, classes), { classes }) },
    {
      name: "crossEntropyWithGrad",
      run: (kit, rows, classes) => kit.crossEntropyWithGrad(view(z, rows, classes), labels(rows, classes), { classes, labelSmoothing: 0.1 }),
    },
    { name: "klDivergenceWithGrad", run: (kit, rows, classes) => kit.klDivergenceWithGrad(view(q, rows, classes), view(z, rows, classes), { classes, temperature: 2 }) },
    { name: "jsDivergenceWithGrad", run: (kit, rows, classes) => kit.jsDivergenceWithGrad(view(q, rows, classes), view(z, rows, classes), { classes }) },
    {
      name: "distillationLossWithGrad",
      run: (kit, rows, classes) =>
        kit.distillationLossWithGrad(view(z, rows, classes), view(q, rows, classes), { classes, temperature: 2, labels: labels(rows, classes) }),
    },
    {
      name: "upload, softmax into a handle, free",
      run: (kit, rows, classes) => {
        const logits = kit.upload(view(z, rows, classes), { classes });
        const probs = kit.alloc(rows * classes, { classes });
        kit.softmax(logits, { classes, out: probs });
        const entropy = kit.entropy(probs, { classes });
        logits.free();
        probs.free();
        return entropy;
      },
    },
    {
      name: "failing call",
      run: (kit, rows, classes) => {
        const bad = labels(rows, classes);
        bad[rows - 1] = classes;
        try {
          kit.crossEntropyWithGrad(view(z, rows, classes), bad, { classes });
        } catch (error) {
          return error instanceof RangeError ? "RangeError" : error;
        }
        return "no error";
      },
    },
  ];
}

/** Largest |a - b| over two results of one call: numbers, arrays or { loss, grad }. */
function maxDifference(a: unknown, b: unknown): number {
  if (typeof a === "number" && typeof b === "number") return Object.is(a, b) ? 0 : Math.abs(a - b) / Math.max(1, Math.abs(b));
  if (typeof a === "string" || typeof b === "string") return a === b ? 0 : Infinity;
  if (a instanceof Float32Array && b instanceof Float32Array) {
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i])));
    return worst;
  }
  const x = a as { loss: unknown; grad: unknown };
  const y = b as { loss: unknown; grad: unknown };
  return Math.max(maxDifference(x.loss, y.loss), maxDifference(x.grad, y.grad));
}

describe("wasm backend soak", () => {
  it("runs 100,000 mixed calls in bounded memory", async () => {
    const kernels = (await loadWasmKernels()).kernels;
    const kit = createKit(kernels);
    const js = await loadLogitKit({ backend: "js" });
    const z = randomNormal(LARGEST[0] * LARGEST[1], 11, 3);
    const q = randomNormal(LARGEST[0] * LARGEST[1], 12, 3);
    const calls = makeCalls(z, q);
    const random = lcg(5);

    // Every call once at the largest shape: after this the memory must not grow again.
    for (const call of calls) call.run(kit, LARGEST[0], LARGEST[1]);
    const peakBytes = kernels.memoryBytes();

    // Warm-up, so that V8's compiled code and caches are in the heap before the baseline.
    for (let i = 0; i < 5000; i++) calls[i % calls.length].run(kit, 3, 17);
    gc();
    const heapBefore = process.memoryUsage().heapUsed;

    let checked = 0;
    let worst = 0;
    for (let i = 0; i < CALLS; i++) {
      const [rows, classes] = SHAPES[Math.floor(random() * SHAPES.length)];
      const call = calls[Math.floor(random() * calls.length)];
      const result = call.run(kit, rows, classes);

      // Every 500th call is compared with the js backend, whose kernels share no code with wasm.
      if (i % 500 === 0) {
        worst = Math.max(worst, maxDifference(result, call.run(js, rows, classes)));
        checked++;
      }
      if (kernels.memoryBytes() !== peakBytes) {
        throw new Error(`call ${i} (${call.name} at ${rows}x${classes}) grew the memory from ${peakBytes} to ${kernels.memoryBytes()} bytes`);
      }
    }

    gc();
    const heapGrowth = process.memoryUsage().heapUsed - heapBefore;

    expect(checked).toBe(CALLS / 500);
    expect(worst).toBeLessThan(1e-4);
    expect(kernels.memoryBytes()).toBe(peakBytes);
    expect(heapGrowth).toBeLessThan(HEAP_GROWTH_LIMIT);
    console.info(
      `soak: ${CALLS} calls, WebAssembly memory ${(peakBytes / 2 ** 20).toFixed(2)} MiB after the largest input and at the end, ` +
        `heap growth ${(heapGrowth / 2 ** 20).toFixed(2)} MiB, largest relative difference to js ${worst.toExponential(2)}`,
    );
  }, 300_000);
});
