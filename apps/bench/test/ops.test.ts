import { loadLogitKit } from "logitkit";
import { describe, expect, it } from "vitest";
import { randomInput } from "../src/bench.js";
import { findOp } from "../src/ops.js";
import { compareOutputs } from "../src/stats.js";

// Each resident or chained operation and the array operation that computes the same values.
const PAIRS: Array<[string, string]> = [
  ["softmaxResident", "softmax"],
  ["logSoftmaxResident", "logSoftmax"],
  ["softmaxEntropyResident", "softmaxEntropy"],
  ["crossEntropyWithGradResident", "crossEntropyWithGrad"],
];

describe.each(["wasm", "js"] as const)("%s resident operations", (backend) => {
  it.each(PAIRS)("%s equals %s", async (resident, array) => {
    const kit = await loadLogitKit({ backend });
    const input = randomInput({ rows: 3, classes: 37 }, 11);
    const diff = compareOutputs(findOp(resident).bind(kit, input)(), findOp(array).bind(kit, input)());
    expect(diff.maxAbsDiff).toBe(0);
  });

  it("softmaxEntropy matches entropyOfLogits", async () => {
    const kit = await loadLogitKit({ backend });
    const input = randomInput({ rows: 3, classes: 37 }, 12);
    const chained = findOp("softmaxEntropy").bind(kit, input)() as number;
    const direct = kit.entropyOfLogits(input.first, { classes: 37 });
    expect(Math.abs(chained - direct)).toBeLessThanOrEqual(1e-5 * direct);
  });
});
