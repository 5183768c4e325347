/**
 * Inputs larger than 1 GiB on the wasm backend, and a row too large for wasm32 memory. Node.js
 * only: the test keeps 2.4 GB of arrays and a 2 GiB row, more than a browser tab is given.
 */
import { describe, expect, it } from "vitest";
import { loadWasmKernels } from "../src/backends/embedded.js";
import { createKit } from "../src/kit.js";
import { logSoftmax64, randomNormal, rowsOf, softmax64 } from "./reference.js";

/** Largest relative error of a float32 row against its float64 reference, with a floor for tiny values. */
function maxRelativeError(actual: Float32Array, expected: number[]): number {
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]) / Math.max(Math.abs(expected[i]), 1e-30));
  return worst;
}

describe("wasm backend with large inputs", () => {
  it("processes 1.12 GiB of logits in chunks", async () => {
    const kernels = (await loadWasmKernels()).kernels;
    const kit = createKit(kernels);
    const rows = 6000;
    const classes = 50257;

    // Seven distinct random rows repeat through the matrix, because drawing 301 million normals
    // would take longer than the kernels.
    const block = randomNormal(7 * classes, 21, 3);
    const logits = new Float32Array(rows * classes);
    for (let row = 0; row < rows; row++) logits.set(block.subarray((row % 7) * classes, (row % 7 + 1) * classes), row * classes);
    const labels = Int32Array.from({ length: rows }, (_, r) => (r * 104729) % classes);
    expect(logits.byteLength).toBeGreaterThan(2 ** 30);

    const probs = kit.softmax(logits, { classes });
    const losses = kit.crossEntropy(logits, labels, { classes, reduction: "none" });

    // The calls copy one chunk of rows at a time, so the memory stays far below the input size.
    expect(kernels.memoryBytes()).toBeLessThan(8 * 2 ** 20);

    // Rows at the start, the middle and the end, where a chunk or offset error would show.
    const expectedRows = rowsOf(block, classes);
    for (const row of [0, 1, 2999, 5998, 5999]) {
      const expected = softmax64(expectedRows[row % 7]);
      expect(maxRelativeError(probs.subarray(row * classes, (row + 1) * classes), expected), `row ${row}`).toBeLessThan(1e-5);
      const loss = -logSoftmax64(expectedRows[row % 7])[labels[row]];
      expect(Math.abs(losses[row] - loss) / loss, `loss of row ${row}`).toBeLessThan(1e-5);
    }
  }, 300_000);

  it("rejects a row beyond the 4 GiB of wasm32", async () => {
    const kernels = (await loadWasmKernels()).kernels;
    const kit = createKit(kernels);

    // Softmax of one row of 2^29 classes needs 2 GiB for the row and 2 GiB for its output.
    const classes = 2 ** 29;
    const row = new Float32Array(classes);
    expect(() => kit.softmax(row, { classes })).toThrow(RangeError);
    expect(() => kit.softmax(row, { classes })).toThrow(/beyond the 4 GiB that wasm32 can address/);

    // The kit stays usable and the failed calls reserved nothing.
    const small = new Float32Array([1, 2, 3, 4]);
    const expected = softmax64([1, 2, 3, 4]);
    expect(maxRelativeError(kit.softmax(small, { classes: 4 }), expected)).toBeLessThan(1e-6);
    expect(kernels.memoryBytes()).toBeLessThan(8 * 2 ** 20);
  }, 120_000);
});
