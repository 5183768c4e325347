/**
 * One gradient step of a linear classifier in TensorFlow.js whose loss and logit gradient come
 * from logitkit. tfjs computes the logits and the weight gradient, logitkit the softmax and the
 * cross-entropy with its gradient.
 */
import "@tensorflow/tfjs-backend-cpu";
import * as tf from "@tensorflow/tfjs-core";
import { loadLogitKit } from "logitkit";
import { crossEntropyWithGrad, softmax } from "./tensor-loss.mjs";

await tf.setBackend("cpu");
const kit = await loadLogitKit();

// 4 examples of 3 features, 5 classes. The logits are x W, shape [4, 5].
const x = tf.tensor2d([
  [1.0, 0.5, -0.3],
  [-0.7, 1.2, 0.4],
  [0.2, -1.1, 0.9],
  [0.8, 0.8, -1.4],
]);
const labels = tf.tensor1d([0, 3, 2, 4], "int32");
let weights = tf.tensor2d([
  [0.3, -0.2, 0.1, 0.0, 0.5],
  [-0.4, 0.2, 0.6, -0.1, 0.0],
  [0.1, 0.3, -0.5, 0.2, -0.2],
]);
const learningRate = 0.5;

const logits = tf.matMul(x, weights);
const probs = await softmax(kit, logits);
console.log(`backend: ${kit.backend}`);
console.log("softmax of the logits:");
console.log(probs.arraySync().map((row) => row.map((p) => p.toFixed(4)).join("  ")).join("\n"));

// dL/dW = x^T dL/dlogits, so the logit gradient from logitkit goes straight into tfjs.
const before = await crossEntropyWithGrad(kit, logits, labels);
const weightGrad = tf.matMul(x, before.grad, true, false);
weights = tf.sub(weights, tf.mul(learningRate, weightGrad));

const after = await crossEntropyWithGrad(kit, tf.matMul(x, weights), labels);
console.log(`cross-entropy before the step: ${before.loss.toFixed(6)}`);
console.log(`cross-entropy after the step:  ${after.loss.toFixed(6)}`);
