import { describe, expect, it } from "vitest";
import { bfloat16ToFloat32, halfToFloat32 } from "../src/half-float.js";
import { halfBitsValue } from "./logit-file-writers.js";

describe("halfToFloat32", () => {
  it("matches the binary16 definition for every bit pattern", () => {
    const halves = new Uint16Array(65536).map((_, i) => i);
    const out = new Float32Array(65536);
    halfToFloat32(halves, out);

    let mismatches = 0;
    for (let half = 0; half < 65536; half++) {
      const expected = halfBitsValue(half);
      if (!Object.is(out[half], expected) && !(Number.isNaN(out[half]) && Number.isNaN(expected))) {
        mismatches++;
      }
    }
    expect(mismatches).toBe(0);
  });

  it.each([
    [0x0000, 0],
    [0x8000, -0],
    [0x0001, 2 ** -24],
    [0x03ff, 1023 * 2 ** -24],
    [0x0400, 2 ** -14],
    [0x3c00, 1],
    [0xc000, -2],
    [0x7bff, 65504],
    [0x7c00, Infinity],
    [0xfc00, -Infinity],
  ])("converts bits %i", (half, expected) => {
    const out = new Float32Array(1);
    halfToFloat32(Uint16Array.of(half), out);

    expect(Object.is(out[0], expected)).toBe(true);
  });

  it("converts NaN patterns to NaN", () => {
    const out = new Float32Array(3);
    halfToFloat32(Uint16Array.of(0x7c01, 0x7e00, 0xffff), out);

    expect(Array.from(out).every(Number.isNaN)).toBe(true);
  });
});

describe("bfloat16ToFloat32", () => {
  it("places the bits in the top half", () => {
    const values = Uint16Array.of(0x3f80, 0xc040, 0x0001, 0x7f80, 0xff80, 0x8000, 0x7fc1);
    const out = new Float32Array(values.length);
    bfloat16ToFloat32(values, out);
    const bits = new Uint32Array(out.buffer);

    expect(out[0]).toBe(1);
    expect(out[1]).toBe(-3);
    expect(out[2]).toBe(2 ** -133);
    expect(out[3]).toBe(Infinity);
    expect(out[4]).toBe(-Infinity);
    expect(Object.is(out[5], -0)).toBe(true);
    expect(bits[6]).toBe(0x7fc10000);
  });

  it("writes into a view with an offset", () => {
    const backing = new Float32Array(4);
    bfloat16ToFloat32(Uint16Array.of(0x4000, 0x4040), backing.subarray(1, 3));

    expect(Array.from(backing)).toEqual([0, 2, 3, 0]);
  });
});
