/**
 * Minimal protobuf encoder and the single-node ONNX models (Softmax, LogSoftmax) that the
 * onnxruntime-web peer runs. Field numbers follow onnx/onnx.proto (ONNX 1.x), which fixes them
 * for compatibility across versions.
 */

/** Protobuf wire types used by ONNX models. */
const WIRE_VARINT = 0;
const WIRE_LENGTH_DELIMITED = 2;

/** ONNX IR version 7 is the one that introduced opset 13 (ONNX 1.8). */
export const ONNX_IR_VERSION = 7;
export const ONNX_OPSET = 13;

/** `TensorProto.DataType.FLOAT` and `AttributeProto.AttributeType.INT` of onnx.proto. */
export const ONNX_FLOAT = 1;
export const ONNX_ATTRIBUTE_INT = 2;

/**
 * Appends protobuf fields to a byte list. Integers are encoded as varints of their 64-bit two's
 * complement, so a negative int64 such as axis -1 takes 10 bytes, as protobuf requires.
 */
export class ProtoWriter {
  private readonly bytes: number[] = [];

  private writeVarint(value: bigint): void {
    let rest = BigInt.asUintN(64, value);
    while (rest >= 0x80n) {
      this.bytes.push(Number(rest & 0x7fn) | 0x80);
      rest >>= 7n;
    }
    this.bytes.push(Number(rest));
  }

  private writeKey(field: number, wireType: number): void {
    this.writeVarint(BigInt((field << 3) | wireType));
  }

  /** Writes an int32, int64 or enum field. */
  int(field: number, value: number | bigint): this {
    if (typeof value === "number" && !Number.isSafeInteger(value)) {
      throw new RangeError(`invalid protobuf integer ${value} for field ${field}: expected a safe integer`);
    }
    this.writeKey(field, WIRE_VARINT);
    this.writeVarint(BigInt(value));
    return this;
  }

  /** Writes a length-delimited field: raw bytes or an embedded message. */
  bytesField(field: number, value: Uint8Array): this {
    this.writeKey(field, WIRE_LENGTH_DELIMITED);
    this.writeVarint(BigInt(value.length));
    for (const byte of value) {
      this.bytes.push(byte);
    }
    return this;
  }

  /** Writes a string field as UTF-8. */
  string(field: number, value: string): this {
    return this.bytesField(field, new TextEncoder().encode(value));
  }

  /** Writes an embedded message field. */
  message(field: number, message: ProtoWriter): this {
    return this.bytesField(field, message.finish());
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

/** `ValueInfoProto` of a float tensor of shape [rows, classes] with symbolic dimensions. */
function floatMatrixInfo(name: string): ProtoWriter {
  const shape = new ProtoWriter()
    .message(1, new ProtoWriter().string(2, "rows")) // TensorShapeProto.dim, Dimension.dim_param
    .message(1, new ProtoWriter().string(2, "classes"));
  const tensorType = new ProtoWriter().int(1, ONNX_FLOAT).message(2, shape); // elem_type, shape
  const type = new ProtoWriter().message(1, tensorType); // TypeProto.tensor_type
  return new ProtoWriter().string(1, name).message(2, type); // ValueInfoProto.name, type
}

/** ONNX operators that the onnxruntime-web peer times. */
export type OnnxSoftmaxOp = "Softmax" | "LogSoftmax";

/**
 * Builds the bytes of an ONNX model with one `opType` node over the last axis: input `x` and
 * output `y`, both float [rows, classes].
 */
export function buildSoftmaxModel(opType: OnnxSoftmaxOp): Uint8Array {
  const axis = new ProtoWriter().string(1, "axis").int(3, -1).int(20, ONNX_ATTRIBUTE_INT); // name, i, type
  const node = new ProtoWriter()
    .string(1, "x") // NodeProto.input
    .string(2, "y") // output
    .string(3, opType.toLowerCase()) // name
    .string(4, opType) // op_type
    .message(5, axis); // attribute
  const graph = new ProtoWriter()
    .message(1, node) // GraphProto.node
    .string(2, `${opType.toLowerCase()}_graph`) // name
    .message(11, floatMatrixInfo("x")) // input
    .message(12, floatMatrixInfo("y")); // output
  const opset = new ProtoWriter().string(1, "").int(2, ONNX_OPSET); // default domain, version

  return new ProtoWriter()
    .int(1, ONNX_IR_VERSION) // ModelProto.ir_version
    .string(2, "logitkit-bench") // producer_name
    .message(7, graph) // graph
    .message(8, opset) // opset_import
    .finish();
}
