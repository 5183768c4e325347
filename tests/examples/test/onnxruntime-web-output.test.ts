/**
 * The onnxruntime-web-output example in Node.js, with onnxruntime-web's Node build: the output
 * of its hand-built ONNX model, and temperature softmax and top-k on float32 and float16 output
 * tensors, against float64 values.
 */
import { temperatureSoftmax, topK } from "@logitkit/example-onnxruntime-web-output";
import { BIAS, createSession, HIDDEN_SIZE, VOCABULARY, WEIGHTS } from "@logitkit/example-onnxruntime-web-output/lm-head.mjs";
import { loadLogitKit, type LogitKit } from "logitkit";
import * as ort from "onnxruntime-web";
import { beforeAll, describe, expect, it } from "vitest";
import { runCommand } from "../../consumers/src/commands.js";
import { exampleDir } from "../src/paths.js";
import { logSoftmax64, matMul64, randomLogits, worstRatio } from "../src/reference.js";

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

  it("session output matches x W + b", async () => {
    const rows = 5;
    const hidden = randomLogits(rows * HIDDEN_SIZE, 2, 41);
    const session = await createSession();
    const { logits: output } = await session.run({ x: new ort.Tensor("float32", hidden, [rows, HIDDEN_SIZE]) });
    await session.release();

    const expected = matMul64(hidden, WEIGHTS, rows, HIDDEN_SIZE, HIDDEN_SIZE, VOCABULARY.length).map((value, i) => value + BIAS[i % VOCABULARY.length]);
    expect(output.type).toBe("float32");
    expect(output.dims).toEqual([rows, VOCABULARY.length]);
    // Float32 sums of 4 products of values below 2: their error is below 1e-6 absolute.
    expect(worstRatio(output.data as Float32Array, expected, 1e-6, 1e-6)).toBeLessThanOrEqual(1);

    const { indices } = topK(kit, output as ort.Tensor, 3, 1);
    expect(Array.from(indices.data as Int32Array)).toEqual(topK64(logSoftmax64(output.data as Float32Array, VOCABULARY.length), VOCABULARY.length, 3).flat());
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

    expect(stdout).toContain("backend: wasm, logits float32 dims [2, 10]");
    // The LM head gives index.mjs's first hidden state the largest logit at "dog" and its second
    // at "the"; a temperature does not change the order.
    expect(stdout.match(/row 0: dog /g)).toHaveLength(3);
    expect(stdout.match(/row 1: the /g)).toHaveLength(3);
  });
});
