import { describe, expect, it } from "vitest";
import { loadWasmKernels } from "../src/backends/embedded.js";
import { loadLogitKit } from "../src/index.js";
import { createKit } from "../src/kit.js";
import { randomNormal } from "./reference.js";

describe("wasm backend memory", () => {
  it("chunks inputs larger than one call", async () => {
    const wasm = await loadLogitKit({ backend: "wasm" });
    const js = await loadLogitKit({ backend: "js" });

    // 96 MiB of logits, many times the 1 MiB working set of one kernel call.
    const classes = 50257;
    const rows = 501;
    const z = randomNormal(rows * classes, 3, 3);
    const labels = Int32Array.from({ length: rows }, (_, r) => (r * 104729) % classes);

    const probs = wasm.softmax(z, { classes });
    for (const r of [0, 250, 500]) {
      const row = z.subarray(r * classes, (r + 1) * classes);
      const expected = js.softmax(row, { classes });
      const actual = probs.subarray(r * classes, (r + 1) * classes);
      let worst = 0;
      for (let i = 0; i < classes; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]) / (1e-8 + 1e-5 * expected[i]));
      expect(worst).toBeLessThanOrEqual(1);
    }

    const loss = wasm.crossEntropyWithGrad(z, labels, { classes, reduction: "none" });
    const expected = js.crossEntropy(z, labels, { classes, reduction: "none" });
    for (let r = 0; r < rows; r++) expect(Math.abs(loss.loss[r] - expected[r])).toBeLessThanOrEqual(2e-5 * expected[r]);
  });

  it("stops growing memory once the largest input has been seen", async () => {
    const kernels = (await loadWasmKernels()).kernels;
    const kit = createKit(kernels);
    const z = randomNormal(64 * 32000, 9, 3);
    const shapes: Array<[number, number]> = [[8, 50257], [1, 17], [64, 32000], [3, 1], [4096, 10], [1, 8]];
    const sizes: number[] = [];

    for (let round = 0; round < 3; round++) {
      for (const [rows, classes] of shapes) {
        const logits = z.subarray(0, rows * classes);
        kit.softmax(logits, { classes });
        kit.crossEntropyWithGrad(logits, new Int32Array(rows), { classes });
        kit.klDivergenceWithGrad(logits, logits, { classes });
      }
      sizes.push(kernels.memoryBytes());
    }
    expect(sizes[1]).toBe(sizes[0]);
    expect(sizes[2]).toBe(sizes[0]);

    // Every call above works in chunks of about 1 MiB (at least one row), so the largest
    // chunk, not the largest call (KL with gradient at 64 x 32000: four 8 MB buffers), sets the size.
    expect(sizes[0]).toBeLessThan(4 * 1024 * 1024);
  });

  it("keeps one chunk of memory for an input larger than a chunk", async () => {
    const kernels = (await loadWasmKernels()).kernels;
    const kit = createKit(kernels);
    const classes = 32000;
    const z = randomNormal(1200 * classes, 10, 3);
    kit.softmax(z, { classes });

    // Softmax reads and writes 4 bytes per logit, so the memory needs one 1 MiB chunk plus the
    // module's own pages, not the 300 MB of the whole call.
    expect(kernels.memoryBytes()).toBeLessThanOrEqual(1024 * 1024 + 2 * 65536);
  });
});
