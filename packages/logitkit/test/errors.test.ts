import { beforeAll, describe, expect, it } from "vitest";
import { loadLogitKit } from "../src/index.js";
import type { LogitKit } from "../src/index.js";
import { expectError } from "./expect-error.js";

type Invalid = [description: string, call: (kit: LogitKit) => unknown, type: typeof TypeError, pieces: string[]];

/** Creates a Float32Array in another realm: a node:vm context in Node.js, an iframe in a browser. */
async function foreignFloat32Array(values: number[]): Promise<Float32Array> {
  if (typeof document === "undefined") {
    const { runInNewContext } = await import("node:vm");
    return runInNewContext(`new Float32Array(${JSON.stringify(values)})`) as Float32Array;
  }

  // The array keeps its buffer after the iframe is removed.
  const frame = document.createElement("iframe");
  document.body.append(frame);
  const realm = frame.contentWindow as unknown as typeof globalThis;
  const array = new realm.Float32Array(values);
  frame.remove();
  return array;
}

const z6 = new Float32Array([1, 2, 3, 4, 5, 6]);
const probs6 = new Float32Array([0.2, 0.3, 0.5, 0.1, 0.1, 0.8]);

// Each case: the call, the error type and fragments its message must contain (the argument,
// the expected value and the actual one).
const INVALID: Invalid[] = [
  ["logits length not a multiple of classes", (k) => k.softmax(z6, { classes: 4 }), RangeError, ["logits.length", "multiple of options.classes (4)", "got 6"]],
  ["classes missing", (k) => k.softmax(z6, {} as never), TypeError, ["options.classes is missing"]],
  ["classes zero", (k) => k.logSoftmax(z6, { classes: 0 }), RangeError, ["options.classes", "integer >= 1", "got 0"]],
  ["classes fractional", (k) => k.logSumExp(z6, { classes: 1.5 }), RangeError, ["options.classes", "got 1.5"]],
  ["classes a string", (k) => k.softmax(z6, { classes: "3" as never }), TypeError, ["options.classes", 'got "3"']],
  ["logits a plain array", (k) => k.softmax([1, 2] as never, { classes: 2 }), TypeError, ["logits must be a Float32Array", "got Array(2)"]],
  ["logits a Float64Array", (k) => k.softmax(new Float64Array(4) as never, { classes: 2 }), TypeError, ["logits must be a Float32Array", "Float64Array(4)"]],
  ["options not an object", (k) => k.softmax(z6, 3 as never), TypeError, ["options must be an object", "got 3"]],
  ["unknown option", (k) => k.softmax(z6, { classes: 3, temprature: 2 } as never), TypeError, ['unknown option "temprature"', "temperature"]],
  ["unknown reduction", (k) => k.crossEntropy(z6, [0, 1], { classes: 3, reduction: "avg" as never }), RangeError, ["options.reduction", '"none", "sum", "mean", "batchmean"', 'got "avg"']],
  ["labels count differs from rows", (k) => k.crossEntropy(z6, [0, 1, 2], { classes: 3 }), RangeError, ["target.length", "number of rows (2)", "got 3"]],
  ["label out of range", (k) => k.crossEntropy(z6, [0, 3], { classes: 3 }), RangeError, ["target[1]", "[0, 3)", "ignoreIndex (-100)", "got 3"]],
  ["negative label that is not ignoreIndex", (k) => k.crossEntropy(z6, [-1, 0], { classes: 3 }), RangeError, ["target[0]", "got -1"]],
  ["label beyond 2^31", (k) => k.crossEntropy(z6, [2 ** 31, 0], { classes: 3 }), RangeError, ["target[0]", "got 2147483648"]],
  ["non-integer label", (k) => k.crossEntropyWithGrad(z6, [0.5, 1], { classes: 3 }), RangeError, ["target[0]", "integer", "got 0.5"]],
  ["label of another type", (k) => k.crossEntropy(z6, ["a", 1] as never, { classes: 3 }), TypeError, ["target[0]", 'got "a"']],
  ["target of another type", (k) => k.crossEntropy(z6, new Uint8Array(2) as never, { classes: 3 }), TypeError, ["target", "Int32Array", "Uint8Array(2)"]],
  ["temperature zero", (k) => k.softmax(z6, { classes: 3, temperature: 0 }), RangeError, ["options.temperature", "a number in [1e-30, 1e18]", "got 0"]],
  ["temperature negative", (k) => k.klDivergence(z6, z6, { classes: 3, temperature: -1 }), RangeError, ["options.temperature", "got -1"]],
  ["temperature NaN", (k) => k.entropyOfLogits(z6, { classes: 3, temperature: NaN }), RangeError, ["options.temperature", "got NaN"]],
  ["temperature Infinity", (k) => k.logSumExp(z6, { classes: 3, temperature: Infinity }), RangeError, ["options.temperature", "got Infinity"]],
  ["temperature a string", (k) => k.softmax(z6, { classes: 3, temperature: "2" as never }), TypeError, ["options.temperature", 'got "2"']],
  ["labelSmoothing above 1", (k) => k.crossEntropy(z6, [0, 1], { classes: 3, labelSmoothing: 1.5 }), RangeError, ["options.labelSmoothing", "[0, 1]", "got 1.5"]],
  ["labelSmoothing negative", (k) => k.crossEntropy(z6, [0, 1], { classes: 3, labelSmoothing: -0.1 }), RangeError, ["options.labelSmoothing", "got -0.1"]],
  ["alpha above 1", (k) => k.distillationLoss(z6, z6, { classes: 3, alpha: 2 }), RangeError, ["options.alpha", "[0, 1]", "got 2"]],
  ["beta negative", (k) => k.jsDivergence(z6, z6, { classes: 3, beta: -0.5 }), RangeError, ["options.beta", "[0, 1]", "got -0.5"]],
  ["beta NaN", (k) => k.jsDivergenceWithGrad(z6, z6, { classes: 3, beta: NaN }), RangeError, ["options.beta", "got NaN"]],
  ["weight of the wrong length", (k) => k.crossEntropy(z6, [0, 1], { classes: 3, weight: [1, 2] }), RangeError, ["options.weight.length", "must be 3", "got 2"]],
  ["weight with NaN", (k) => k.crossEntropy(z6, [0, 1], { classes: 3, weight: [1, NaN, 1] }), RangeError, ["options.weight[1]", "finite", "got NaN"]],
  ["target probabilities of the wrong length", (k) => k.crossEntropy(z6, new Float32Array(3), { classes: 3 }), RangeError, ["target", "Float32Array of length 6", "got Float32Array(3)"]],
  ["teacher of the wrong length", (k) => k.distillationLoss(z6, new Float32Array(3), { classes: 3 }), RangeError, ["teacherLogits.length", "studentLogits.length (6)", "got 3"]],
  ["qLogits of the wrong length", (k) => k.klDivergence(z6, new Float32Array(9), { classes: 3 }), RangeError, ["qLogits.length", "pLogits.length (6)", "got 9"]],
  ["q probabilities of the wrong length", (k) => k.klDivergenceOfProbs(probs6, new Float32Array(3), { classes: 3 }), RangeError, ["q.length", "p.length (6)", "got 3"]],
  ["gradOutput without reduction none", (k) => k.crossEntropyWithGrad(z6, [0, 1], { classes: 3, gradOutput: [1, 1] }), RangeError, ["options.gradOutput", 'reduction "none"', 'got reduction "mean"']],
  ["gradOutput of the wrong length", (k) => k.klDivergenceWithGrad(z6, z6, { classes: 3, reduction: "none", gradOutput: [1] }), RangeError, ["options.gradOutput.length", "must be 2", "got 1"]],
  ["gradOutput on a forward call", (k) => k.crossEntropy(z6, [0, 1], { classes: 3, reduction: "none", gradOutput: [1, 1] } as never), TypeError, ['unknown option "gradOutput"']],
  ["ignoreIndex with probability targets", (k) => k.crossEntropy(z6, probs6, { classes: 3, ignoreIndex: 0 }), TypeError, ["options.ignoreIndex", "labels only"]],
  ["ignoreIndex fractional", (k) => k.crossEntropy(z6, [0, 1], { classes: 3, ignoreIndex: 0.5 }), RangeError, ["options.ignoreIndex", "got 0.5"]],
  ["distillation label out of range", (k) => k.distillationLossWithGrad(z6, z6, { classes: 3, labels: [0, 9] }), RangeError, ["options.labels[1]", "[0, 3)", "got 9"]],
  ["out of the wrong length", (k) => k.softmax(z6, { classes: 3, out: new Float32Array(5) }), RangeError, ["options.out.length", "must be 6", "got 5"]],
  ["temperature too small for float32", (k) => k.softmax(z6, { classes: 3, temperature: 1e-45 }), RangeError, ["options.temperature", "[1e-30, 1e18]", "got 1e-45"]],
  ["negative class weight", (k) => k.crossEntropy(z6, [0, 1], { classes: 3, weight: [1, -1, 1] }), RangeError, ["options.weight[1]", ">= 0", "got -1"]],
  ["out overlapping logits", (k) => k.softmax(z6.subarray(0, 3), { classes: 3, out: z6.subarray(2, 5) }), RangeError, ["options.out overlaps logits", "in place"]],
  ["logSumExp out inside logits", (k) => k.logSumExp(z6, { classes: 3, out: z6.subarray(4, 6) }), RangeError, ["options.out overlaps logits", "separate buffer"]],
  ["probability targets as an array", (k) => k.crossEntropy(z6, [0.2, 0.3, 0.5, 0.1, 0.1, 0.8], { classes: 3 }), RangeError, ["target.length", "got 6", "must be a Float32Array, not an array"]],
  ["target a Float64Array", (k) => k.crossEntropy(z6, new Float64Array(6) as never, { classes: 3 }), TypeError, ["Float64Array(6)", "Probability targets must be a Float32Array"]],
  ["logSumExp out of the wrong length", (k) => k.logSumExp(z6, { classes: 3, out: new Float32Array(6) }), RangeError, ["options.out.length", "must be 2", "got 6"]],
];

describe.each(["wasm", "js"])("%s backend rejects invalid input", (name) => {
  let kit: LogitKit;
  beforeAll(async () => {
    kit = await loadLogitKit({ backend: name as "wasm" | "js" });
  });

  for (const [description, call, type, pieces] of INVALID) {
    it(description, () => {
      expectError(() => call(kit), type, pieces);

      // The object stays usable: a valid call right after gives the right value.
      const lse = kit.logSumExp(new Float32Array([0, 0]), { classes: 2 });
      expect(lse[0]).toBeCloseTo(Math.LN2, 6);
    });
  }

  it("rejects before writing to out", () => {
    const out = new Float32Array(6).fill(7);
    expect(() => kit.softmax(z6, { classes: 3, temperature: -1, out })).toThrow(RangeError);
    expect(Array.from(out)).toEqual([7, 7, 7, 7, 7, 7]);
  });

  it("accepts labels equal to ignoreIndex and a custom ignoreIndex", () => {
    const loss = kit.crossEntropy(z6, [-100, 2], { classes: 3, reduction: "sum" });
    const custom = kit.crossEntropy(z6, [7, 2], { classes: 3, reduction: "sum", ignoreIndex: 7 });
    expect(custom).toBe(loss);
    expect(loss).toBeCloseTo(Math.log(Math.exp(4) + Math.exp(5) + Math.exp(6)) - 6, 5);
  });
});

describe.each(["wasm", "js"])("%s backend against hostile arguments", (name) => {
  let kit: LogitKit;
  beforeAll(async () => {
    kit = await loadLogitKit({ backend: name as "wasm" | "js" });
  });

  it("reads each label once", () => {
    let reads = 0;
    const labels = [0, 0];
    Object.defineProperty(labels, 0, { get: () => (reads++ === 0 ? 1 : 100_000_000), enumerable: true });
    const loss = kit.crossEntropy(z6, labels, { classes: 3, reduction: "none" });
    expect(reads).toBe(1);
    expect(loss[0]).toBeCloseTo(kit.crossEntropy(z6, [1, 0], { classes: 3, reduction: "none" })[0], 6);
  });

  it("reads each option once", () => {
    let reads = 0;
    const options = { get classes() { return reads++ === 0 ? 3 : 1_000_000; } };
    const probs = kit.softmax(z6, options);
    expect(reads).toBe(1);
    expect(probs.length).toBe(6);
    expect(probs[2]).toBeCloseTo(Math.exp(3) / (Math.exp(1) + Math.exp(2) + Math.exp(3)), 6);
  });

  it("ignores an own length property on the logits", () => {
    const z = z6.slice();
    Object.defineProperty(z, "length", { value: 600 });
    expect(kit.softmax(z, { classes: 3 }).length).toBe(6);
  });

  it("never calls a Float32Array subclass's code", () => {
    let calls = 0;
    class Spy extends Float32Array {
      override subarray(...args: Parameters<Float32Array["subarray"]>) {
        calls++;
        return super.subarray(...args);
      }
      override set(...args: Parameters<Float32Array["set"]>) {
        calls++;
        super.set(...args);
      }
    }
    const z = new Spy(z6);
    const out = new Spy(6);
    calls = 0;
    kit.softmax(z, { classes: 3, out });
    kit.crossEntropyWithGrad(z, [0, 1], { classes: 3 });
    expect(calls).toBe(0);
    expect(out[2]).toBeCloseTo(Math.exp(3) / (Math.exp(1) + Math.exp(2) + Math.exp(3)), 6);
  });

  it("rejects a detached input by name", () => {
    const z = new Float32Array(6);
    structuredClone(z.buffer, { transfer: [z.buffer] });
    expect(() => kit.softmax(z, { classes: 3 })).toThrow(TypeError);
    expect(() => kit.softmax(z, { classes: 3 })).toThrow("logits is backed by a detached ArrayBuffer");
  });

  it("accepts a Float32Array from another realm", async () => {
    const foreign = await foreignFloat32Array([1, 2, 3, 4, 5, 6]);
    expect(foreign).not.toBeInstanceOf(Float32Array);
    expect(Array.from(kit.softmax(foreign, { classes: 3 }))).toEqual(Array.from(kit.softmax(z6, { classes: 3 })));
  });

  it("rejects an inherited unknown option", () => {
    const options = Object.create({ temprature: 2 }) as { classes: number };
    options.classes = 3;
    expect(() => kit.softmax(z6, options)).toThrow('unknown option "temprature"');
  });

  it("computes softmax in place when out is logits", () => {
    const z = z6.slice();
    const expected = kit.softmax(z6, { classes: 3 });
    expect(kit.softmax(z, { classes: 3, out: z })).toBe(z);
    expect(Array.from(z)).toEqual(Array.from(expected));
  });
});

describe("loadLogitKit", () => {
  it("names its own options in errors", async () => {
    await expect(loadLogitKit("js" as never)).rejects.toThrow('options must be an object such as { backend: "auto", threads: 2 }, got "js"');
  });

  it("rejects an unknown backend", async () => {
    await expect(loadLogitKit({ backend: "gpu" as never })).rejects.toThrow(RangeError);
    await expect(loadLogitKit({ backend: "gpu" as never })).rejects.toThrow('options.backend must be "auto", "wasm" or "js", got "gpu"');
  });

  it("rejects an unknown option", async () => {
    await expect(loadLogitKit({ workers: 2 } as never)).rejects.toThrow(TypeError);
    await expect(loadLogitKit({ workers: 2 } as never)).rejects.toThrow('unknown option "workers"; the options of loadLogitKit are backend, threads');
  });

  it("reports the backend it chose", async () => {
    const auto = await loadLogitKit();
    expect(auto.backend).toBe("wasm");
    expect(auto.fallbackReason).toBeUndefined();
    expect((await loadLogitKit({ backend: "js" })).backend).toBe("js");
  });
});
