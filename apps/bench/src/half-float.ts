/**
 * Conversion of 16-bit floats (IEEE 754 binary16 and bfloat16) to float32. Every 16-bit value
 * is exactly representable in float32, so the conversion never rounds.
 */

/** Returns the float32 bit pattern of the binary16 value with bits `half`. */
export function halfBitsToFloatBits(half: number): number {
  const sign = (half & 0x8000) << 16;
  const exponent = (half >> 10) & 0x1f;
  const mantissa = half & 0x3ff;

  if (exponent === 0x1f) {
    // Infinity keeps a zero mantissa; a NaN keeps its payload, shifted into the top mantissa bits.
    return (sign | 0x7f800000 | (mantissa << 13)) >>> 0;
  }
  if (exponent !== 0) {
    // Rebias the exponent from 15 to 127.
    return (sign | ((exponent + 112) << 23) | (mantissa << 13)) >>> 0;
  }
  if (mantissa === 0) {
    return sign >>> 0;
  }

  // A subnormal is mantissa x 2^-24. Shift it up to a normal float32 with an implicit leading 1:
  // after `shift` steps the value is 1.f x 2^(-14 - shift).
  let shift = 0;
  let normalized = mantissa;
  while ((normalized & 0x400) === 0) {
    normalized <<= 1;
    shift++;
  }
  return (sign | ((127 - 14 - shift) << 23) | ((normalized & 0x3ff) << 13)) >>> 0;
}

let halfTable: Float32Array | null = null;

/** Float32 value of every binary16 bit pattern (256 KiB, built on first use). */
function halfToFloatTable(): Float32Array {
  if (halfTable === null) {
    const bits = new Uint32Array(65536);
    for (let half = 0; half < 65536; half++) {
      bits[half] = halfBitsToFloatBits(half);
    }
    halfTable = new Float32Array(bits.buffer);
  }
  return halfTable;
}

/** Converts binary16 values to float32, `out[i] = value of halves[i]`; `out` must be at least as long. */
export function halfToFloat32(halves: Uint16Array, out: Float32Array): void {
  const table = halfToFloatTable();
  for (let i = 0; i < halves.length; i++) {
    out[i] = table[halves[i]];
  }
}

/**
 * Converts bfloat16 values to float32. A bfloat16 is the top half of a float32, so the bits
 * only move up by 16; NaN payloads and signed zeros are kept.
 */
export function bfloat16ToFloat32(values: Uint16Array, out: Float32Array): void {
  const outBits = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < values.length; i++) {
    outBits[i] = values[i] << 16;
  }
}
