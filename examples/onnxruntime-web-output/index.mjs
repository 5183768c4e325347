/**
 * Picks the next token's candidates from the logits that an onnxruntime-web session returns.
 * The session runs a small LM head on two hidden states. logitkit turns its `logits` output into
 * probabilities at three temperatures and the top 3 tokens of each row.
 */
import { loadLogitKit } from "logitkit";
import * as ort from "onnxruntime-web";
import { createSession, HIDDEN_SIZE, VOCABULARY } from "./lm-head.mjs";
import { temperatureSoftmax, topK } from "./postprocess.mjs";

const kit = await loadLogitKit();
const session = await createSession();

// Two hidden states, as the layers before the LM head would produce them for two positions.
const hidden = new ort.Tensor("float32", Float32Array.from([1.2, -0.4, 0.3, 0.8, -0.5, 1.1, 0.9, -0.2]), [2, HIDDEN_SIZE]);
const { logits } = await session.run({ x: hidden });

console.log(`backend: ${kit.backend}, logits ${logits.type} dims [${logits.dims.join(", ")}]`);
for (const temperature of [0.5, 1, 2]) {
  const probs = temperatureSoftmax(kit, logits, temperature);
  const { indices, probs: topProbs } = topK(kit, logits, 3, temperature);
  console.log(`temperature ${temperature}: probs dims [${probs.dims.join(", ")}]`);
  for (let row = 0; row < logits.dims[0]; row++) {
    const picks = [0, 1, 2].map((j) => `${VOCABULARY[indices.data[row * 3 + j]]} ${topProbs.data[row * 3 + j].toFixed(3)}`);
    console.log(`  row ${row}: ${picks.join(", ")}`);
  }
}

await session.release();
