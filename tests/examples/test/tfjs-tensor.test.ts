/**
 * The tfjs-tensor example: its functions against TensorFlow.js's own softmax, softmax
 * cross-entropy and gradient, and its program end to end.
 */
import "@tensorflow/tfjs-backend-cpu";
import * as tf from "@tensorflow/tfjs-core";
// tf.grad needs the gradient functions, which tfjs-core registers only on request.
import "@tensorflow/tfjs-core/dist/register_all_gradients";
import { crossEntropyWithGrad, softmax } from "@logitkit/example-tfjs-tensor";
import { loadLogitKit, type LogitKit } from "logitkit";
import { beforeAll, describe, expect, it } from "vitest";
import { runCommand } from "../../consumers/src/commands.js";
import { exampleDir } from "../src/paths.js";
import { randomLogits, worstRatio } from "../src/reference.js";

const ROWS = 8;
const CLASSES = 300;

describe("tfjs-tensor example", () => {
  let kit: LogitKit;
  let logits: tf.Tensor2D;

  beforeAll(async () => {
    await tf.setBackend("cpu");
    kit = await loadLogitKit();
    logits = tf.tensor2d(randomLogits(ROWS * CLASSES, 8, 11), [ROWS, CLASSES]);
  });

  it("matches tf.softmax", async () => {
    const ours = await softmax(kit, logits, 1);
    const theirs = tf.softmax(logits);

    expect(ours.shape).toEqual([ROWS, CLASSES]);
    // Both are float32, and 1e-5 relative is about 80 float32 ulp, far below a wrong row or class.
    expect(worstRatio(await ours.data(), await theirs.data(), 1e-5, 1e-9)).toBeLessThanOrEqual(1);
  });

  it("matches tf.softmax at a temperature", async () => {
    const ours = await softmax(kit, logits, 2.5);
    const theirs = tf.softmax(tf.div(logits, 2.5));

    expect(worstRatio(await ours.data(), await theirs.data(), 1e-5, 1e-9)).toBeLessThanOrEqual(1);
  });

  it("matches tfjs cross-entropy and gradient", async () => {
    const labels = Array.from({ length: ROWS }, (_, r) => (r * 37) % CLASSES);
    const oneHot = tf.oneHot(tf.tensor1d(labels, "int32"), CLASSES);
    const tfLoss = (z: tf.Tensor) => tf.losses.softmaxCrossEntropy(oneHot, z);
    const expectedLoss = (await tfLoss(logits).data())[0];
    const expectedGrad = await tf.grad(tfLoss)(logits).data();

    const { loss, grad } = await crossEntropyWithGrad(kit, logits, tf.tensor1d(labels, "int32"));

    expect(Math.abs(loss - expectedLoss) / expectedLoss).toBeLessThan(1e-5);
    expect(grad.shape).toEqual([ROWS, CLASSES]);
    expect(worstRatio(await grad.data(), expectedGrad, 1e-4, 1e-9)).toBeLessThanOrEqual(1);
  });

  it("rejects a tensor of rank 1", async () => {
    await expect(softmax(kit, tf.tensor1d([1, 2, 3]))).rejects.toThrow(/shape \[rows, classes\]/);
  });

  it("runs index.mjs and lowers the loss", async () => {
    const { stdout } = await runCommand(process.execPath, ["index.mjs"], { cwd: exampleDir("tfjs-tensor"), timeout: 60_000 });

    const before = Number(/before the step: ([\d.]+)/.exec(stdout)?.[1]);
    const after = Number(/after the step: +([\d.]+)/.exec(stdout)?.[1]);
    expect(stdout).toContain("backend: wasm");
    expect(before).toBeGreaterThan(0);
    expect(after).toBeLessThan(before);
  });
});
