/**
 * The model of the example: the output layer of a language model (an "LM head"), which maps a
 * hidden state of 4 values to next-token logits over a vocabulary of 10 words, as an
 * onnxruntime-web session.
 */
import * as ort from "onnxruntime-web";
import { linearModel } from "./tiny-model.mjs";

export const VOCABULARY = ["the", "a", "cat", "dog", "sat", "ran", "on", "mat", ".", "<eos>"];

export const HIDDEN_SIZE = 4;

/** The layer's weights, row-major [HIDDEN_SIZE, vocabulary size]. */
export const WEIGHTS = [
  -0.79, 0.13, -0.39, 0.31, 0.38, -1.30, -1.46, 1.01, -0.72, -0.80,
  1.49, -0.09, 1.01, -0.07, 0.42, -1.05, 0.40, 1.10, 0.07, 0.72,
  0.51, -1.31, 0.77, 0.27, -0.60, -1.41, 1.10, -0.08, 0.66, 1.14,
  0.64, 1.26, -0.32, 0.90, -0.17, 1.31, 1.14, -1.21, -1.09, -0.85,
];

export const BIAS = [0.5, 0.3, 0, 0, -0.2, -0.2, 0.1, 0, -0.5, -1];

/** Creates the session. Its input `x` has dims [batch, HIDDEN_SIZE] and its output `logits` [batch, vocabulary size]. */
export function createSession() {
  // One thread, because onnxruntime-web's threads need a cross-origin isolated page in browsers,
  // and this layer is too small to split.
  ort.env.wasm.numThreads = 1;
  return ort.InferenceSession.create(linearModel(WEIGHTS, BIAS, HIDDEN_SIZE, VOCABULARY.length));
}
