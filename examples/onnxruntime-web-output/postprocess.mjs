/**
 * Post-processing of a logits tensor from onnxruntime-web: the softmax at a temperature and the k
 * most probable classes per row. The tensor has dims [rows, classes] and type float32 or float16,
 * as a language model's or a classifier's last layer returns it.
 */
import * as ort from "onnxruntime-web";

/** Returns the tensor's data and options for logitkit, and the class count. */
function logitsOf(tensor) {
  if (tensor.dims.length !== 2) {
    throw new RangeError(`logits must have dims [rows, classes], got [${tensor.dims.join(", ")}]`);
  }
  const classes = tensor.dims[1];

  if (tensor.type === "float32") {
    return { data: tensor.data, classes, dtype: undefined };
  }
  if (tensor.type === "float16") {
    // onnxruntime-web keeps float16 data as the raw bits in a Uint16Array, which logitkit reads
    // with dtype "f16". A Float16Array, where the runtime has one, carries its own type.
    const dtype = tensor.data instanceof Uint16Array ? "f16" : undefined;
    return { data: tensor.data, classes, dtype };
  }
  throw new TypeError(`logits must be a float32 or float16 tensor, got ${tensor.type}`);
}

/** Returns softmax(logits / temperature) per row as a float32 tensor with the logits' dims. */
export function temperatureSoftmax(kit, logits, temperature = 1) {
  const { data, classes, dtype } = logitsOf(logits);
  const probs = kit.softmax(data, { classes, temperature, dtype });
  return new ort.Tensor("float32", probs, logits.dims);
}

/**
 * Returns the k most probable classes of each row at the given temperature, most probable
 * first: `indices` (int32) and `probs` (float32), both tensors with dims [rows, k]. Ties keep
 * the lower class index first.
 */
export function topK(kit, logits, k, temperature = 1) {
  const probs = temperatureSoftmax(kit, logits, temperature).data;
  const [rows, classes] = logits.dims;
  if (!Number.isInteger(k) || k < 1 || k > classes) {
    throw new RangeError(`k must be an integer in [1, ${classes}], got ${k}`);
  }

  const indices = new Int32Array(rows * k);
  const values = new Float32Array(rows * k);
  for (let r = 0; r < rows; r++) {
    const row = probs.subarray(r * classes, (r + 1) * classes);
    const best = selectLargest(row, k);
    for (let j = 0; j < k; j++) {
      indices[r * k + j] = best[j];
      values[r * k + j] = row[best[j]];
    }
  }
  return {
    indices: new ort.Tensor("int32", indices, [rows, k]),
    probs: new ort.Tensor("float32", values, [rows, k]),
  };
}

/**
 * Returns the indices of the k largest values, largest first. It keeps a sorted list of k
 * candidates, so a row costs O(classes · k) in the worst case and about O(classes) when k is
 * small, as for sampling.
 */
function selectLargest(row, k) {
  const best = [];
  for (let c = 0; c < row.length; c++) {
    if (best.length === k && row[c] <= row[best[k - 1]]) continue;

    let position = best.length;
    while (position > 0 && row[best[position - 1]] < row[c]) position--;
    best.splice(position, 0, c);
    if (best.length > k) best.pop();
  }
  return best;
}
