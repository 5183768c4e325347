/**
 * A tiny ONNX model built in memory: logits = x W + b, one MatMul and one Add, so the example
 * runs a real onnxruntime-web session without a model file. The bytes are ONNX's protobuf
 * messages (ModelProto, GraphProto, NodeProto, TensorProto, ValueInfoProto), encoded by hand
 * because the model needs only the few fields below. onnxruntime-web 1.31.1 loads and runs it,
 * as the example's test checks against float64 x W + b.
 */

/** Encodes a non-negative integer as a protobuf varint. */
function varint(value) {
  const bytes = [];
  let rest = value;
  while (rest >= 0x80) {
    bytes.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  bytes.push(rest);
  return bytes;
}

/** Encodes a varint field (wire type 0). */
function integerField(field, value) {
  return [...varint(field * 8), ...varint(value)];
}

/** Encodes a length-delimited field (wire type 2): a string, bytes or a nested message. */
function bytesField(field, content) {
  const bytes = typeof content === "string" ? [...new TextEncoder().encode(content)] : [...content];
  return [...varint(field * 8 + 2), ...varint(bytes.length), ...bytes];
}

/** ONNX TensorProto.DataType of float32. */
const FLOAT = 1;

/** Encodes a float32 initializer (TensorProto) named `name` with the given dims, little-endian raw data. */
function initializer(name, dims, values) {
  const raw = new Uint8Array(new Float32Array(values).buffer);
  return [...dims.flatMap((dim) => integerField(1, dim)), ...integerField(2, FLOAT), ...bytesField(8, name), ...bytesField(9, raw)];
}

/** Encodes a ValueInfoProto of a float32 tensor. A string dim is symbolic (dim_param), a number fixed (dim_value). */
function valueInfo(name, dims) {
  const shape = dims.flatMap((dim) => bytesField(1, typeof dim === "string" ? bytesField(2, dim) : integerField(1, dim)));
  const tensorType = [...integerField(1, FLOAT), ...bytesField(2, shape)];
  return [...bytesField(1, name), ...bytesField(2, bytesField(1, tensorType))];
}

/** Encodes a NodeProto that applies `opType` to `inputs` and writes `outputs`. */
function node(opType, inputs, outputs) {
  return [...inputs.flatMap((input) => bytesField(1, input)), ...outputs.flatMap((output) => bytesField(2, output)), ...bytesField(4, opType)];
}

/**
 * Returns the bytes of an ONNX model with input `x` of dims [batch, features] and output
 * `logits` of dims [batch, classes], where `weights` is row-major [features, classes] and
 * `bias` has `classes` values. The model uses opset 13 and IR version 8.
 */
export function linearModel(weights, bias, features, classes) {
  const graph = [
    ...bytesField(1, node("MatMul", ["x", "W"], ["xW"])),
    ...bytesField(1, node("Add", ["xW", "b"], ["logits"])),
    ...bytesField(2, "linear"),
    ...bytesField(5, initializer("W", [features, classes], weights)),
    ...bytesField(5, initializer("b", [classes], bias)),
    ...bytesField(11, valueInfo("x", ["batch", features])),
    ...bytesField(12, valueInfo("logits", ["batch", classes])),
  ];
  const opset = [...bytesField(1, ""), ...integerField(2, 13)];
  return new Uint8Array([...integerField(1, 8), ...bytesField(7, graph), ...bytesField(8, opset)]);
}
