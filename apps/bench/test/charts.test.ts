import { describe, expect, it } from "vitest";
import { niceTicks } from "../web/src/charts.js";

describe("niceTicks", () => {
  it("ends at or above the maximum", () => {
    for (const max of [0.0043, 0.004, 5.6, 6, 1e-5, 226.5, 99.99, 1]) {
      const ticks = niceTicks(max, 4);
      expect(ticks[0]).toBe(0);
      expect(ticks[ticks.length - 1]).toBeGreaterThanOrEqual(max);
      expect(ticks[ticks.length - 2]).toBeLessThan(max);
    }
  });

  it("uses round steps", () => {
    expect(niceTicks(0.0043, 4)).toEqual([0, 0.002, 0.004, 0.006]);
    expect(niceTicks(226.5, 5)).toEqual([0, 50, 100, 150, 200, 250]);
  });

  it("gives a unit axis without data", () => {
    expect(niceTicks(0)).toEqual([0, 1]);
    expect(niceTicks(NaN)).toEqual([0, 1]);
  });
});
