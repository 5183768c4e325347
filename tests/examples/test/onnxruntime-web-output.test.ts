/**
 * The onnxruntime-web-output example in Node.js, with onnxruntime-web's Node build: temperature
 * softmax and top-k on float32 and float16 output tensors against float64 values.
 */
import { temperatureSoftmax, topK } from "@logitkit/example-onnxruntime-web-output";
import { loadLogitKit, type LogitKit } from "logitkit";
import * as ort from "onnxruntime-web";
import { beforeAll, describe, expect, it } from "vitest";
import { runCommand } from "../../consumers/src/commands.js";
import { exampleDir } from "../src/paths.js";
import { logSoftmax64, randomLogits, worstRatio } from "../src/reference.js";

const ROWS = 6;
const CLASSES = 517;
const K = 5;

/** Returns the k most probable classes of each row from float64 probabilities, largest first. */
function topK64(probs: Float64Array, classes: number, k: number): number[][] {
  const rows = probs.length / classes;
  return Array.from({ length: rows }, (_, r) => {
    const order = Array.from({ length: classes }, (_, c) => c);
    order.sort((a, b) => probs[r * classes + b] - probs[r * classes + a] || a - b);
    return order.slice(0, k);
  });
}

describe("onnxruntime-web-output example", () => {
  let kit: LogitKit;
  const values = randomLogits(ROWS * CLASSES, 10, 23);
  const logits = new ort.Tensor("float32", values, [ROWS, CLASSES]);

  beforeAll(async () => {
    kit = await loadLogitKit();
  });

  for (const temperature of [0.7, 1, 3]) {
    it(`softmax at temperature ${temperature}`, () => {
      const probs = temperatureSoftmax(kit, logits, temperature);
      const expected = logSoftmax64(values, CLASSES, temperature).map(Math.exp);

      expect(probs.type).toBe("float32");
      expect(probs.dims).toEqual([ROWS, CLASSES]);
      expect(worstRatio(probs.data as Float32Array, expected, 1e-5, 1e-12)).toBeLessThanOrEqual(1);
    });
  }

  it("top-k matches float64 ranks", () => {
    const { indices, probs } = topK(kit, logits, K, 0.7);
    const expectedProbs = logSoftmax64(values, CLASSES, 0.7).map(Math.exp);

    expect(indices.type).toBe("int32");
    expect(indices.dims).toEqual([ROWS, K]);
    expect(probs.dims).toEqual([ROWS, K]);
    expect(Array.from(indices.data as Int32Array)).toEqual(topK64(expectedProbs, CLASSES, K).flat());
    const picked = Array.from(indices.data as Int32Array, (c, i) => expectedProbs[Math.floor(i / K) * CLASSES + c]);
    expect(worstRatio(probs.data as Float32Array, picked, 1e-5, 1e-12)).toBeLessThanOrEqual(1);
  });

  it("reads float16 tensors", () => {
    // float16 bits of 1, 2 and 0.5 in one row: 0x3c00, 0x4000, 0x3800.
    const half = new ort.Tensor("float16", new Uint16Array([0x3c00, 0x4000, 0x3800]), [1, 3]);
    const probs = temperatureSoftmax(kit, half, 1);
    const expected = logSoftmax64([1, 2, 0.5], 3).map(Math.exp);

    expect(worstRatio(probs.data as Float32Array, expected, 1e-6, 1e-12)).toBeLessThanOrEqual(1);
  });

  it("rejects an int32 tensor and k out of range", () => {
    const ints = new ort.Tensor("int32", new Int32Array(6), [2, 3]);
    expect(() => temperatureSoftmax(kit, ints, 1)).toThrow(/float32 or float16 tensor, got int32/);
    expect(() => topK(kit, logits, CLASSES + 1, 1)).toThrow(/k must be an integer/);
  });

  it("runs index.mjs", async () => {
    const { stdout } = await runCommand(process.execPath, ["index.mjs"], { cwd: exampleDir("onnxruntime-web-output"), timeout: 60_000 });

    expect(stdout).toContain("backend: wasm");
    // Row 0's largest logit is "the" (2.1) and row 1's is "cat" (2.7), at every temperature.
    expect(stdout.match(/row 0: the /g)).toHaveLength(3);
    expect(stdout.match(/row 1: cat /g)).toHaveLength(3);
  });
});
