/**
 * Picks the next token's candidates from the logits output of an onnxruntime-web session. The
 * logits tensor is built here from fixed values, in the shape and type that `session.run`
 * returns for a language model's last position.
 */
import { loadLogitKit } from "logitkit";
import * as ort from "onnxruntime-web";
import { temperatureSoftmax, topK } from "./postprocess.mjs";

const kit = await loadLogitKit();
const vocabulary = ["the", "a", "cat", "dog", "sat", "ran", "on", "mat", ".", "<eos>"];

// Two rows of logits over the vocabulary, as `(await session.run(feeds)).logits` would hold them.
const logits = new ort.Tensor(
  "float32",
  Float32Array.from([
    2.1, 1.4, 0.3, 0.2, -1.0, -1.2, 0.1, -0.5, -2.0, -3.0,
    -1.5, -1.1, 2.7, 2.5, 0.4, 0.3, -0.2, 0.9, -1.8, -2.5,
  ]),
  [2, vocabulary.length],
);

console.log(`backend: ${kit.backend}`);
for (const temperature of [0.5, 1, 2]) {
  const probs = temperatureSoftmax(kit, logits, temperature);
  const { indices, probs: topProbs } = topK(kit, logits, 3, temperature);
  console.log(`temperature ${temperature}: probs dims [${probs.dims.join(", ")}]`);
  for (let row = 0; row < logits.dims[0]; row++) {
    const picks = [0, 1, 2].map((j) => `${vocabulary[indices.data[row * 3 + j]]} ${topProbs.data[row * 3 + j].toFixed(3)}`);
    console.log(`  row ${row}: ${picks.join(", ")}`);
  }
}
