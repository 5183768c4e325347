import { describe, expect, it } from "vitest";
import { fillNormal, mulberry32, randomLabels, randomLogits } from "../src/prng.js";

describe("mulberry32", () => {
  it("repeats its sequence for a seed", () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const first = Array.from({ length: 100 }, a);
    const second = Array.from({ length: 100 }, b);

    expect(second).toEqual(first);
  });

  it("differs between seeds", () => {
    const a = Array.from({ length: 10 }, mulberry32(1));
    const b = Array.from({ length: 10 }, mulberry32(2));

    expect(a).not.toEqual(b);
  });

  it("stays in [0, 1) with mean near 1/2", () => {
    const random = mulberry32(123);
    let sum = 0;
    let min = 1;
    let max = 0;
    const count = 100_000;

    for (let i = 0; i < count; i++) {
      const value = random();
      sum += value;
      min = Math.min(min, value);
      max = Math.max(max, value);
    }

    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThan(1);
    expect(Math.abs(sum / count - 0.5)).toBeLessThan(0.005);
  });
});

describe("fillNormal", () => {
  it("has the requested mean and standard deviation", () => {
    const values = fillNormal(new Float32Array(200_001), mulberry32(9), 3, 1);
    const mean = values.reduce((sum, value) => sum + value, 0) / values.length;
    const variance = values.reduce((sum, value) => sum + (value - mean) ** 2, 0) / (values.length - 1);

    expect(Math.abs(mean - 1)).toBeLessThan(0.03);
    expect(Math.abs(Math.sqrt(variance) - 3)).toBeLessThan(0.03);
  });

  it("puts about 68 percent within one deviation", () => {
    const values = fillNormal(new Float32Array(100_000), mulberry32(5), 3);
    const inside = values.filter((value) => Math.abs(value) < 3).length / values.length;

    expect(inside).toBeGreaterThan(0.675);
    expect(inside).toBeLessThan(0.69);
  });

  it("fills an odd length completely with finite values", () => {
    const values = fillNormal(new Float32Array(7).fill(NaN), mulberry32(3));

    expect(values.every(Number.isFinite)).toBe(true);
  });
});

describe("randomLogits and randomLabels", () => {
  it("are deterministic for a seed", () => {
    expect(randomLogits(4, 10, mulberry32(8), 3)).toEqual(randomLogits(4, 10, mulberry32(8), 3));
    expect(randomLabels(50, 7, mulberry32(8))).toEqual(randomLabels(50, 7, mulberry32(8)));
  });

  it("labels cover [0, classes) and nothing else", () => {
    const labels = randomLabels(10_000, 7, mulberry32(4));
    const seen = new Set(labels);

    expect([...seen].sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });
});
