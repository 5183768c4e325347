/**
 * logitkit on TensorFlow.js tensors. A tensor of logits with shape [rows, classes] is read once
 * into a Float32Array, and the results are wrapped back into tensors of the same shape, so the
 * rest of a tfjs program keeps working with tensors.
 */
import * as tf from "@tensorflow/tfjs-core";

/** Reads a float32 tensor of shape [rows, classes] into a Float32Array and returns it with the class count. */
async function readLogits(logits) {
  if (logits.rank !== 2) {
    throw new RangeError(`logits must have shape [rows, classes], got shape [${logits.shape.join(", ")}]`);
  }
  if (logits.dtype !== "float32") {
    throw new TypeError(`logits must be a float32 tensor, got ${logits.dtype}; cast it with tf.cast(logits, "float32")`);
  }

  // data() resolves to a Float32Array for a float32 tensor. Unlike dataSync(), it does not block
  // the thread while a GPU backend downloads the values.
  const values = await logits.data();
  return { values, classes: logits.shape[1] };
}

/** Returns softmax(logits / temperature) per row as a new tensor of the same shape. */
export async function softmax(kit, logits, temperature = 1) {
  const { values, classes } = await readLogits(logits);
  const probs = kit.softmax(values, { classes, temperature });
  return tf.tensor2d(probs, logits.shape);
}

/**
 * Computes the mean cross-entropy of the logits against integer labels (a tensor of shape
 * [rows] or an array) and its gradient with respect to the logits, returned as a tensor of the
 * logits' shape. `options` takes the options of `kit.crossEntropyWithGrad`, such as
 * `labelSmoothing`.
 */
export async function crossEntropyWithGrad(kit, logits, labels, options = {}) {
  const { values, classes } = await readLogits(logits);

  let labelArray = labels;
  if (labels instanceof tf.Tensor) {
    labelArray = Int32Array.from(await labels.data());
  }

  const { loss, grad } = kit.crossEntropyWithGrad(values, labelArray, { ...options, classes });
  return { loss, grad: tf.tensor2d(grad, logits.shape) };
}
