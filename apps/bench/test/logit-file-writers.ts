/**
 * Writers of .npy and safetensors files for the tests, written from the format descriptions
 * (the numpy.lib.format documentation, and the safetensors format: an 8-byte header length,
 * a JSON header, the data) and sharing no code with the readers under test.
 */

/**
 * Returns the bytes of a .npy file of format version `version` (1, 2 or 3) with `data` after
 * the header. `descr`, `fortranOrder` and `shape` go into the header as given, so tests can
 * write invalid headers too.
 */
export function npyBytes(options: { descr: string; shape: number[]; data: Uint8Array; version?: number; fortranOrder?: boolean }): Uint8Array {
  const version = options.version ?? 1;
  const shapeText = options.shape.length === 1 ? `(${options.shape[0]},)` : `(${options.shape.join(", ")})`;
  const dictionary = `{'descr': '${options.descr}', 'fortran_order': ${options.fortranOrder === true ? "True" : "False"}, 'shape': ${shapeText}, }`;

  // The prefix is the magic (6 bytes), the version (2) and the header length (2 bytes in
  // version 1, else 4). Spaces and a newline pad the header so that the data starts at a
  // multiple of 64.
  const prefixLength = version === 1 ? 10 : 12;
  const unpadded = prefixLength + dictionary.length + 1;
  const padding = (64 - (unpadded % 64)) % 64;
  const header = new TextEncoder().encode(`${dictionary}${" ".repeat(padding)}\n`);

  const bytes = new Uint8Array(prefixLength + header.length + options.data.length);
  bytes.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const view = new DataView(bytes.buffer);
  if (version === 1) {
    view.setUint16(8, header.length, true);
  } else {
    view.setUint32(8, header.length, true);
  }
  bytes.set(header, prefixLength);
  bytes.set(options.data, prefixLength + header.length);
  return bytes;
}

/** Tensor of a safetensors file: dtype name, shape and little-endian bytes. */
export interface SafetensorsTensor {
  dtype: string;
  shape: number[];
  data: Uint8Array;
}

/**
 * Returns the bytes of a safetensors file: an 8-byte little-endian header length, the JSON
 * header padded with spaces to a multiple of 8, and the tensors' bytes in order.
 */
export function safetensorsBytes(tensors: Record<string, SafetensorsTensor>, metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) {
    header.__metadata__ = metadata;
  }

  let offset = 0;
  for (const [name, tensor] of Object.entries(tensors)) {
    header[name] = { dtype: tensor.dtype, shape: tensor.shape, data_offsets: [offset, offset + tensor.data.length] };
    offset += tensor.data.length;
  }

  let json = JSON.stringify(header);
  json += " ".repeat((8 - (json.length % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);

  const bytes = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  bytes.set(headerBytes, 8);
  let position = 8 + headerBytes.length;
  for (const tensor of Object.values(tensors)) {
    bytes.set(tensor.data, position);
    position += tensor.data.length;
  }
  return bytes;
}

/** Returns the bytes of float32 values, little-endian. */
export function float32Bytes(values: Float32Array): Uint8Array {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  values.forEach((value, i) => view.setFloat32(i * 4, value, true));
  return bytes;
}

/** Returns the bytes of int32 values, little-endian. */
export function int32Bytes(values: Int32Array): Uint8Array {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  values.forEach((value, i) => view.setInt32(i * 4, value, true));
  return bytes;
}

/**
 * Returns binary16 bits for a float32 value by truncating the mantissa to 10 bits, which rounds
 * toward zero. Values below the normal binary16 range (2^-14) become a signed zero, and values
 * above it throw, because the test data never reach them.
 */
export function float32ToHalfBitsTruncated(value: number): number {
  const bits = new Uint32Array(new Float32Array([value]).buffer)[0];
  const sign = (bits >>> 16) & 0x8000;
  const exponent = ((bits >>> 23) & 0xff) - 127 + 15;

  if (exponent <= 0) {
    return sign;
  }
  if (exponent >= 31) {
    throw new RangeError(`${value} is outside the normal binary16 range that this test helper writes`);
  }
  return sign | (exponent << 10) | ((bits >>> 13) & 0x3ff);
}

/** Returns the value of binary16 bits, from the definition: (-1)^s 2^(e - 15) (1 + m / 1024), subnormals 2^-14 (m / 1024). */
export function halfBitsValue(half: number): number {
  const sign = half & 0x8000 ? -1 : 1;
  const exponent = (half >> 10) & 0x1f;
  const mantissa = half & 0x3ff;

  if (exponent === 0x1f) {
    return mantissa === 0 ? sign * Infinity : NaN;
  }
  if (exponent === 0) {
    return sign * 2 ** -14 * (mantissa / 1024);
  }
  return sign * 2 ** (exponent - 15) * (1 + mantissa / 1024);
}

/** Returns the bfloat16 bits of a float32 value by truncation: its top 16 bits. */
export function float32ToBfloat16BitsTruncated(value: number): number {
  return new Uint32Array(new Float32Array([value]).buffer)[0] >>> 16;
}

/** Returns the bytes of 16-bit values, little-endian. */
export function uint16Bytes(values: ArrayLike<number>): Uint8Array {
  const bytes = new Uint8Array(values.length * 2);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) {
    view.setUint16(i * 2, values[i], true);
  }
  return bytes;
}
