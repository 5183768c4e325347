import { describe, expect, it } from "vitest";
import { buildSoftmaxModel, ONNX_IR_VERSION, ONNX_OPSET, ProtoWriter } from "../src/peers/onnx.js";

/** Decoded protobuf field: a varint as a bigint, or the bytes of a length-delimited field. */
type Field = { field: number; value: bigint | Uint8Array };

/** Decodes the top-level fields of a protobuf message (varint and length-delimited only). */
function decode(bytes: Uint8Array): Field[] {
  const fields: Field[] = [];
  let offset = 0;

  const readVarint = (): bigint => {
    let value = 0n;
    let shift = 0n;
    for (;;) {
      const byte = bytes[offset++];
      if (byte === undefined) throw new Error("truncated varint");
      value |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return value;
      shift += 7n;
    }
  };

  while (offset < bytes.length) {
    const key = Number(readVarint());
    const wireType = key & 7;
    const field = key >> 3;
    if (wireType === 0) {
      fields.push({ field, value: readVarint() });
    } else if (wireType === 2) {
      const length = Number(readVarint());
      fields.push({ field, value: bytes.subarray(offset, offset + length) });
      offset += length;
    } else {
      throw new Error(`unexpected wire type ${wireType}`);
    }
  }
  return fields;
}

function all(fields: Field[], field: number): (bigint | Uint8Array)[] {
  return fields.filter((entry) => entry.field === field).map((entry) => entry.value);
}

function one(fields: Field[], field: number): bigint | Uint8Array {
  const values = all(fields, field);
  expect(values).toHaveLength(1);
  return values[0];
}

function message(fields: Field[], field: number): Field[] {
  return decode(one(fields, field) as Uint8Array);
}

function text(value: bigint | Uint8Array): string {
  return new TextDecoder().decode(value as Uint8Array);
}

describe("ProtoWriter", () => {
  it("encodes known field bytes", () => {
    expect([...new ProtoWriter().int(1, 7).finish()]).toEqual([0x08, 0x07]);
    expect([...new ProtoWriter().int(1, 300).finish()]).toEqual([0x08, 0xac, 0x02]);
    expect([...new ProtoWriter().string(2, "ab").finish()]).toEqual([0x12, 0x02, 0x61, 0x62]);
    expect([...new ProtoWriter().int(20, 2).finish()]).toEqual([0xa0, 0x01, 0x02]);
  });

  it("encodes a negative int64 in 10 bytes", () => {
    expect([...new ProtoWriter().int(3, -1).finish()]).toEqual([0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
  });

  it("prefixes an embedded message with its length", () => {
    const inner = new ProtoWriter().int(1, 1);
    expect([...new ProtoWriter().message(5, inner).finish()]).toEqual([0x2a, 0x02, 0x08, 0x01]);
  });

  it("rejects an unsafe integer", () => {
    expect(() => new ProtoWriter().int(1, 2 ** 60)).toThrow(/invalid protobuf integer/);
  });
});

describe("buildSoftmaxModel", () => {
  for (const opType of ["Softmax", "LogSoftmax"] as const) {
    it(`decodes back to one ${opType} node`, () => {
      const model = decode(buildSoftmaxModel(opType));
      expect(one(model, 1)).toBe(BigInt(ONNX_IR_VERSION));

      const opset = message(model, 8);
      expect(text(one(opset, 1))).toBe("");
      expect(one(opset, 2)).toBe(BigInt(ONNX_OPSET));

      const graph = message(model, 7);
      const node = message(graph, 1);
      expect(text(one(node, 1))).toBe("x");
      expect(text(one(node, 2))).toBe("y");
      expect(text(one(node, 4))).toBe(opType);

      const attribute = message(node, 5);
      expect(text(one(attribute, 1))).toBe("axis");
      expect(BigInt.asIntN(64, one(attribute, 3) as bigint)).toBe(-1n);
      expect(one(attribute, 20)).toBe(2n);

      for (const [field, name] of [
        [11, "x"],
        [12, "y"],
      ] as const) {
        const info = message(graph, field);
        expect(text(one(info, 1))).toBe(name);
        const tensorType = message(message(info, 2), 1);
        expect(one(tensorType, 1)).toBe(1n);
        const dims = all(message(tensorType, 2), 1).map((dim) => text(one(decode(dim as Uint8Array), 2)));
        expect(dims).toEqual(["rows", "classes"]);
      }
    });
  }
});
