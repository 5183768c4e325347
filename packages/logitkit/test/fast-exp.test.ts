import { describe, expect, it } from "vitest";
import { expNonPositive } from "../src/backends/fast-exp.js";

/** Returns `count` values spread uniformly over [lower, upper] by a fixed linear congruential generator. */
function samples(count: number, lower: number, upper: number): number[] {
  let state = 12345;
  const values: number[] = [];
  for (let i = 0; i < count; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    values.push(lower + ((upper - lower) * state) / 4294967296);
  }
  return values;
}

describe("expNonPositive", () => {
  it("is within 1e-13 relative of Math.exp on [-87.33, 0]", () => {
    let worst = 0;
    for (const x of samples(1 << 16, -87.33, 0)) {
      worst = Math.max(worst, Math.abs(expNonPositive(x) - Math.exp(x)) / Math.exp(x));
    }
    expect(worst).toBeLessThan(1e-13);
  });

  it("is exact at 0 and on table points", () => {
    expect(expNonPositive(0)).toBe(1);
    expect(expNonPositive(-0)).toBe(1);
    expect(expNonPositive(-Math.LN2)).toBeCloseTo(0.5, 15);
    expect(expNonPositive(-64 * Math.LN2)).toBe(2 ** -64);
  });

  it("returns 0 below the float32 normal range", () => {
    expect(expNonPositive(-87.3365)).toBeGreaterThan(0);
    expect(expNonPositive(-87.33655)).toBe(0);
    expect(expNonPositive(-1e30)).toBe(0);
    expect(expNonPositive(-Infinity)).toBe(0);
  });

  it("keeps NaN and falls back for positive x", () => {
    expect(expNonPositive(NaN)).toBeNaN();
    expect(expNonPositive(0.001)).toBe(Math.exp(0.001));
    expect(expNonPositive(3)).toBe(Math.exp(3));
    expect(expNonPositive(Infinity)).toBe(Infinity);
  });
});
