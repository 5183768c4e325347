import { describe, expect, it } from "vitest";
import { IGNORE_INDEX } from "../src/data.js";
import { plainCrossEntropy, plainLogSoftmax, plainSoftmax } from "../src/peers/plainjs.js";
import { randomInput } from "../src/bench.js";

/** Returns max and log(sum of exp(z - max)) of one row, in float64. */
function rowLogSumExp(logits: Float32Array, start: number, classes: number): number {
  let max = -Infinity;
  for (let i = start; i < start + classes; i++) max = Math.max(max, logits[i]);
  let sum = 0;
  for (let i = start; i < start + classes; i++) sum += Math.exp(logits[i] - max);
  return max + Math.log(sum);
}

const rows = 5;
const classes = 37;
const input = randomInput({ rows, classes }, 7);

describe("plainjs peer", () => {
  it("softmax matches float64", () => {
    const out = plainSoftmax(input.first, classes, new Float32Array(rows * classes));
    for (let row = 0; row < rows; row++) {
      const lse = rowLogSumExp(input.first, row * classes, classes);
      let sum = 0;
      for (let i = row * classes; i < (row + 1) * classes; i++) {
        expect(out[i]).toBeCloseTo(Math.exp(input.first[i] - lse), 6);
        sum += out[i];
      }
      expect(sum).toBeCloseTo(1, 5);
    }
  });

  it("logSoftmax matches float64", () => {
    const out = plainLogSoftmax(input.first, classes, new Float32Array(rows * classes));
    for (let row = 0; row < rows; row++) {
      const lse = rowLogSumExp(input.first, row * classes, classes);
      for (let i = row * classes; i < (row + 1) * classes; i++) {
        expect(Math.abs(out[i] - (input.first[i] - lse))).toBeLessThan(1e-5);
      }
    }
  });

  it("crossEntropy matches float64", () => {
    let expected = 0;
    for (let row = 0; row < rows; row++) {
      expected += rowLogSumExp(input.first, row * classes, classes) - input.first[row * classes + input.labels[row]];
    }
    expected /= rows;

    expect(plainCrossEntropy(input.first, input.labels, classes, IGNORE_INDEX)).toBeCloseTo(expected, 10);
  });

  it("crossEntropy skips ignored rows", () => {
    const labels = Int32Array.from(input.labels);
    labels[1] = IGNORE_INDEX;
    let expected = 0;
    for (const row of [0, 2, 3, 4]) {
      expected += rowLogSumExp(input.first, row * classes, classes) - input.first[row * classes + labels[row]];
    }

    expect(plainCrossEntropy(input.first, labels, classes, IGNORE_INDEX)).toBeCloseTo(expected / 4, 10);
    expect(plainCrossEntropy(input.first, new Int32Array(rows).fill(IGNORE_INDEX), classes, IGNORE_INDEX)).toBeNaN();
  });

  it("crossEntropy rejects a label out of range", () => {
    const labels = Int32Array.from(input.labels);
    labels[2] = classes;

    expect(() => plainCrossEntropy(input.first, labels, classes, IGNORE_INDEX)).toThrow(/invalid label 37 in row 2/);
  });

  it("softmax of a large logit does not overflow", () => {
    const out = plainSoftmax(Float32Array.from([1000, 0]), 2, new Float32Array(2));
    expect([...out]).toEqual([1, 0]);
  });
});
