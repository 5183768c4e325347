import { beforeAll, describe, expect, it } from "vitest";
import { loadWasmKernels } from "../src/backends/embedded.js";
import { loadLogitKit } from "../src/index.js";
import type { LogitKit } from "../src/index.js";
import { createKit } from "../src/kit.js";
import {
  crossEntropyProbs64,
  entropy64,
  klProbs64,
  logSumExp64,
  randomNormal,
  rowsOf,
  softmax64,
  worstRatio,
} from "./reference.js";

const kits: Record<string, LogitKit> = {};
beforeAll(async () => {
  kits.wasm = await loadLogitKit({ backend: "wasm" });
  kits.js = await loadLogitKit({ backend: "js" });
});

const classes = 1031;
const rows = 5;
const z = randomNormal(rows * classes, 81, 3);
const q = randomNormal(rows * classes, 82, 3);
const labels = [0, 5, 1030, 17, 512];

describe.each(["wasm", "js"])("%s backend resident outputs", (name) => {
  const kit = () => kits[name];

  it("softmax into alloc matches arrays", () => {
    const out = kit().alloc(z.length, { classes });
    expect(kit().softmax(z, { classes, out })).toBe(out);
    expect(Array.from(out.toArray())).toEqual(Array.from(kit().softmax(z, { classes })));

    const expected = rowsOf(z, classes).flatMap((row) => softmax64(row));
    expect(worstRatio(out.toArray(), expected, 1e-5, 1e-9)).toBeLessThanOrEqual(1);
    out.free();
  });

  it("softmax of an upload into alloc matches arrays", () => {
    const logits = kit().upload(z, { classes });
    const out = kit().alloc(z.length, { classes });
    kit().softmax(logits, { classes, out, temperature: 2 });
    expect(Array.from(out.toArray())).toEqual(Array.from(kit().softmax(z, { classes, temperature: 2 })));
    kit().logSoftmax(logits, { classes, out });
    expect(Array.from(out.toArray())).toEqual(Array.from(kit().logSoftmax(z, { classes })));
    logits.free();
    out.free();
  });

  it("logSumExp into alloc of one value per row", () => {
    const out = kit().alloc(rows, { classes: 1 });
    expect(kit().logSumExp(z, { classes, out })).toBe(out);
    const values = out.toArray();
    expect(Array.from(values)).toEqual(Array.from(kit().logSumExp(z, { classes })));

    const expected = rowsOf(z, classes).map((row) => logSumExp64(row));
    expect(worstRatio(values, expected, 1e-6, 1e-6)).toBeLessThanOrEqual(1);
  });

  it("softmax in place on an upload", () => {
    const handle = kit().upload(z, { classes });
    expect(kit().softmax(handle, { classes, out: handle })).toBe(handle);
    expect(Array.from(handle.toArray())).toEqual(Array.from(kit().softmax(z, { classes })));
  });

  it("chain softmax into probability measures", () => {
    const p = kit().alloc(z.length, { classes });
    const pq = kit().alloc(q.length, { classes });
    kit().softmax(z, { classes, out: p });
    kit().softmax(q, { classes, out: pq });
    const pArray = kit().softmax(z, { classes });
    const qArray = kit().softmax(q, { classes });

    const entropy = kit().entropy(p, { classes, reduction: "none" });
    expect(Array.from(entropy)).toEqual(Array.from(kit().entropy(pArray, { classes, reduction: "none" })));
    const pRows = rowsOf(pArray, classes);
    const qRows = rowsOf(qArray, classes);
    expect(worstRatio(entropy, pRows.map(entropy64), 1e-5, 1e-6)).toBeLessThanOrEqual(1);

    const cross = kit().crossEntropyOfProbs(p, pq, { classes, reduction: "none" });
    expect(Array.from(cross)).toEqual(Array.from(kit().crossEntropyOfProbs(pArray, qArray, { classes, reduction: "none" })));
    expect(worstRatio(cross, pRows.map((row, r) => crossEntropyProbs64(row, qRows[r])), 1e-5, 1e-6)).toBeLessThanOrEqual(1);

    const kl = kit().klDivergenceOfProbs(p, qArray, { classes, reduction: "none" });
    expect(Array.from(kl)).toEqual(Array.from(kit().klDivergenceOfProbs(pArray, qArray, { classes, reduction: "none" })));
    expect(worstRatio(kl, pRows.map((row, r) => klProbs64(row, qRows[r])), 1e-4, 1e-5)).toBeLessThanOrEqual(1);
  });

  it("chain softmax into cross-entropy targets", () => {
    const targets = kit().alloc(z.length, { classes });
    kit().softmax(z, { classes, out: targets });
    const expected = kit().crossEntropyWithGrad(q, kit().softmax(z, { classes }), { classes });
    const actual = kit().crossEntropyWithGrad(q, targets, { classes });
    expect(actual.loss).toBe(expected.loss);
    expect(Array.from(actual.grad)).toEqual(Array.from(expected.grad));
  });

  it("gradOut keeps every gradient resident", () => {
    const k = kit();
    const logits = k.upload(z, { classes });
    const grad = k.alloc(z.length, { classes });
    const cases: Array<[string, () => { loss: unknown; grad: unknown }, () => { loss: unknown; grad: Float32Array }]> = [
      ["entropyOfLogitsWithGrad", () => k.entropyOfLogitsWithGrad(logits, { classes, gradOut: grad }), () => k.entropyOfLogitsWithGrad(z, { classes })],
      ["crossEntropyWithGrad", () => k.crossEntropyWithGrad(logits, labels, { classes, gradOut: grad }), () => k.crossEntropyWithGrad(z, labels, { classes })],
      ["klDivergenceWithGrad", () => k.klDivergenceWithGrad(q, logits, { classes, gradOut: grad }), () => k.klDivergenceWithGrad(q, z, { classes })],
      ["jsDivergenceWithGrad", () => k.jsDivergenceWithGrad(q, logits, { classes, gradOut: grad }), () => k.jsDivergenceWithGrad(q, z, { classes })],
      ["distillationLossWithGrad", () => k.distillationLossWithGrad(logits, q, { classes, labels, gradOut: grad }), () => k.distillationLossWithGrad(z, q, { classes, labels })],
    ];
    for (const [fn, resident, plain] of cases) {
      const actual = resident();
      const expected = plain();
      expect(actual.grad, fn).toBe(grad);
      expect(actual.loss, fn).toBe(expected.loss);
      expect(Array.from(grad.toArray()), fn).toEqual(Array.from(expected.grad));
    }
  });

  it("gradOut accepts a Float32Array", () => {
    const grad = new Float32Array(z.length);
    const result = kit().crossEntropyWithGrad(z, labels, { classes, gradOut: grad, reduction: "sum" });
    expect(result.grad).toBe(grad);
    expect(Array.from(grad)).toEqual(Array.from(kit().crossEntropyWithGrad(z, labels, { classes, reduction: "sum" }).grad));
  });

  it("agree with the other backend", () => {
    const other = kits[name === "wasm" ? "js" : "wasm"];
    const out = kit().alloc(z.length, { classes });
    const grad = kit().alloc(z.length, { classes });
    kit().softmax(q, { classes, out });
    kit().crossEntropyWithGrad(z, out, { classes, gradOut: grad });
    const expected = other.crossEntropyWithGrad(z, other.softmax(q, { classes }), { classes });
    expect(worstRatio(grad.toArray(), expected.grad, 1e-4, 1e-9)).toBeLessThanOrEqual(1);
  });

  it("toArray copies into a caller's array", () => {
    const handle = kit().upload(z, { classes });
    const target = new Float32Array(z.length);
    expect(handle.toArray(target)).toBe(target);
    expect(Array.from(target)).toEqual(Array.from(z));
    expect(() => handle.toArray(new Float32Array(3))).toThrow(RangeError);
    expect(() => handle.toArray(new Float32Array(3))).toThrow(`toArray: out.length must be ${z.length}`);
    expect(() => handle.toArray([1] as never)).toThrow(TypeError);
  });

  it("set replaces the kept values", () => {
    const handle = kit().alloc(8, { classes: 4 });
    expect(Array.from(handle.toArray())).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    handle.set(new Float32Array([1, 2, 3, 4, 0, 0, 0, 0]));
    expect(kit().logSumExp(handle, { classes: 4 })[0]).toBeCloseTo(Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3) + Math.exp(4)), 5);
    expect(() => handle.set(new Float32Array(7))).toThrow("set: values.length must be 8");
    handle.free();
    expect(() => handle.set(new Float32Array(8))).toThrow("set: this handle was freed with free()");
  });

  it("alloc validates its arguments", () => {
    expect(() => kit().alloc("8" as never, { classes: 4 })).toThrow(TypeError);
    expect(() => kit().alloc(-4, { classes: 4 })).toThrow("alloc: length must be an integer in [0, 2^30], got -4");
    expect(() => kit().alloc(2.5, { classes: 1 })).toThrow(RangeError);
    expect(() => kit().alloc(2 ** 31, { classes: 1 })).toThrow(RangeError);
    expect(() => kit().alloc(10, { classes: 4 })).toThrow("alloc: length must be a multiple of options.classes (4), got 10");
    expect(() => kit().alloc(8, {} as never)).toThrow("options.classes is missing");
    expect(() => kit().alloc(8, { classes: 4, temperature: 1 } as never)).toThrow('unknown option "temperature"');
    expect(kit().alloc(0, { classes: 3 }).length).toBe(0);
  });

  it("rejects an out of the wrong length", () => {
    const out = kit().alloc(z.length - classes, { classes });
    expect(() => kit().softmax(z, { classes, out })).toThrow(RangeError);
    expect(() => kit().softmax(z, { classes, out })).toThrow(`softmax: options.out.length must be ${z.length}`);
    expect(() => kit().logSumExp(z, { classes, out })).toThrow(`logSumExp: options.out.length must be ${rows}`);
    expect(() => kit().crossEntropyWithGrad(z, labels, { classes, gradOut: out })).toThrow("options.gradOut.length must be");
  });

  it("rejects a freed out", () => {
    const out = kit().alloc(z.length, { classes });
    out.free();
    expect(() => kit().softmax(z, { classes, out })).toThrow(TypeError);
    expect(() => kit().softmax(z, { classes, out })).toThrow("softmax: options.out was freed with free()");
    expect(() => kit().klDivergenceWithGrad(z, q, { classes, gradOut: out })).toThrow("klDivergenceWithGrad: options.gradOut was freed");
    expect(() => kit().entropy(out, { classes })).toThrow("entropy: probs was freed with free()");
  });

  it("rejects an out freed while the arguments are checked", () => {
    const out = kit().alloc(z.length, { classes });
    const options = {
      out,
      get classes() {
        out.free();
        return classes;
      },
    };
    expect(() => kit().softmax(z, options)).toThrow("softmax: options.out was freed with free()");
    expect(kit().softmax(new Float32Array([0, 0]), { classes: 2 })[0]).toBe(0.5);
  });

  it("rejects handles of another kit", async () => {
    const other = await loadLogitKit({ backend: name as "wasm" | "js" });
    const foreign = other.alloc(z.length, { classes });
    expect(() => kit().softmax(z, { classes, out: foreign })).toThrow("softmax: options.out was made by another LogitKit object");
    expect(() => kit().crossEntropyWithGrad(z, labels, { classes, gradOut: foreign })).toThrow(TypeError);
    expect(() => kit().entropy(foreign, { classes })).toThrow("entropy: probs was made by another LogitKit object");
    expect(() => kit().crossEntropy(z, foreign, { classes })).toThrow("crossEntropy: target was made by another LogitKit object");
  });

  it("rejects overlapping outputs", () => {
    const logits = kit().upload(z, { classes });
    const targets = kit().alloc(z.length, { classes });
    kit().softmax(z, { classes, out: targets });
    expect(() => kit().crossEntropyWithGrad(logits, labels, { classes, gradOut: logits })).toThrow(
      "crossEntropyWithGrad: options.gradOut overlaps logits",
    );
    expect(() => kit().crossEntropyWithGrad(z, targets, { classes, gradOut: targets })).toThrow("options.gradOut overlaps target");
    expect(() => kit().klDivergenceWithGrad(logits, z, { classes, gradOut: logits })).toThrow("options.gradOut overlaps pLogits");
    expect(() => kit().distillationLossWithGrad(z, logits, { classes, gradOut: logits })).toThrow(
      "options.gradOut overlaps teacherLogits",
    );

    // With one class per row the out of logSumExp has the logits' length.
    const single = kit().upload(new Float32Array([1, 2, 3]), { classes: 1 });
    expect(() => kit().logSumExp(single, { classes: 1, out: single })).toThrow(RangeError);
    expect(() => kit().logSumExp(single, { classes: 1, out: single })).toThrow("options.out overlaps logits");
    expect(Array.from(single.toArray())).toEqual([1, 2, 3]);
  });

  it("names handles where only arrays go", () => {
    const handle = kit().upload(z, { classes });
    expect(() => kit().upload(handle as never, { classes })).toThrow(TypeError);
    expect(() => kit().upload(handle as never, { classes })).toThrow(
      "upload: logits must be a Float32Array, got a logitkit handle (from upload or alloc); this argument takes no handle, so pass handle.toArray().",
    );
    const weight = kit().alloc(classes, { classes });
    expect(() => kit().crossEntropy(z, labels, { classes, weight: weight as never })).toThrow(/options\.weight .*got a logitkit handle/);
    expect(kit().crossEntropy(z, labels, { classes })).toBeGreaterThan(0);
    handle.free();
    weight.free();
  });

  it("rejects a target handle of the wrong length", () => {
    const short = kit().alloc(classes, { classes });
    expect(() => kit().crossEntropy(z, short, { classes })).toThrow(`got a handle of length ${classes}`);
    expect(() => kit().crossEntropy(z, kit().alloc(z.length, { classes }), { classes, ignoreIndex: 3 })).toThrow(
      "options.ignoreIndex applies to integer labels only",
    );
  });
});

describe("wasm resident outputs and memory", () => {
  it("names alloc when memory runs out", async () => {
    const kit = await loadLogitKit({ backend: "wasm" });
    expect(() => kit.alloc(2 ** 30, { classes: 1 })).toThrow(RangeError);
    expect(() => kit.alloc(2 ** 30, { classes: 1 })).toThrow(/alloc\(1073741824\) needs WebAssembly memory up to byte \d+, beyond the 4 GiB/);
    expect(kit.logSumExp(new Float32Array([0, 0]), { classes: 2 })[0]).toBeCloseTo(Math.LN2, 6);
  });

  it("alloc returns zeros in reused memory", async () => {
    const kit = createKit((await loadWasmKernels()).kernels);
    kit.upload(new Float32Array(4096).fill(7), { classes: 4096 }).free();
    expect(kit.alloc(4096, { classes: 4096 }).toArray().every((v) => v === 0)).toBe(true);
  });

  it("survive a growth of the memory", async () => {
    const kernels = (await loadWasmKernels()).kernels;
    const kit = createKit(kernels);
    const out = kit.alloc(z.length, { classes });
    kit.softmax(z, { classes, out });
    const before = out.toArray();

    const startBytes = kernels.memoryBytes();
    kit.softmax(randomNormal(8 * 50257, 6, 2), { classes: 50257 });
    expect(kernels.memoryBytes()).toBeGreaterThan(startBytes);
    expect(Array.from(out.toArray())).toEqual(Array.from(before));
    expect(kit.entropy(out, { classes })).toBe(kit.entropy(before, { classes }));
  });

  it("write a resident out over several chunks", async () => {
    const kit = createKit((await loadWasmKernels()).kernels);
    const js = await loadLogitKit({ backend: "js" });
    const wide = 50257;
    const count = 41;
    const logits = randomNormal(count * wide, 9, 3);
    const out = kit.alloc(logits.length, { classes: wide });
    const grad = kit.alloc(logits.length, { classes: wide });
    const targets = Int32Array.from({ length: count }, (_, r) => (r * 7) % wide);

    // The logits are copied in 1 MiB chunks of 5 rows, so every chunk but the first writes
    // at an offset into the handles.
    kit.logSoftmax(logits, { classes: wide, out });
    kit.crossEntropyWithGrad(logits, targets, { classes: wide, gradOut: grad });
    const values = out.toArray();
    const gradValues = grad.toArray();
    const expected = js.crossEntropyWithGrad(logits, targets, { classes: wide });
    for (const r of [0, 20, 40]) {
      const row = logits.subarray(r * wide, (r + 1) * wide);
      const expectedRow = js.logSoftmax(row, { classes: wide });
      const actualRow = values.subarray(r * wide, (r + 1) * wide);
      expect(worstRatio(actualRow, expectedRow, 1e-5, 1e-5), `row ${r}`).toBeLessThanOrEqual(1);
      const gradRow = gradValues.subarray(r * wide, (r + 1) * wide);
      expect(worstRatio(gradRow, expected.grad.subarray(r * wide, (r + 1) * wide), 1e-4, 1e-12), `grad row ${r}`).toBeLessThanOrEqual(1);
    }
  });
});

describe("wasm resident outputs on the thread pool", () => {
  it("match one thread, split rows included", async () => {
    const pooled = await loadLogitKit({ backend: "wasm", threads: 2 });
    const single = await loadLogitKit({ backend: "wasm" });
    expect(pooled.threads).toBe(2);

    // 8 rows of 50257 are split across threads by rows; one row of 2^17 + 3 classes is split
    // by its vocabulary.
    for (const [count, wide] of [[8, 50257], [1, (1 << 17) + 3]]) {
      const logits = randomNormal(count * wide, 30 + count, 3);
      const expected = single.softmax(logits, { classes: wide });

      const handle = pooled.upload(logits, { classes: wide });
      const out = pooled.alloc(logits.length, { classes: wide });
      pooled.softmax(handle, { classes: wide, out });
      expect(worstRatio(out.toArray(), expected, 1e-6, 1e-12), `${count}x${wide} into alloc`).toBeLessThanOrEqual(1);

      pooled.softmax(handle, { classes: wide, out: handle });
      expect(worstRatio(handle.toArray(), expected, 1e-6, 1e-12), `${count}x${wide} in place`).toBeLessThanOrEqual(1);

      const labels = Int32Array.from({ length: count }, (_, r) => (r * 13) % wide);
      const grad = pooled.alloc(logits.length, { classes: wide });
      const source = pooled.upload(logits, { classes: wide });
      const fused = pooled.crossEntropyWithGrad(source, labels, { classes: wide, gradOut: grad });
      const plain = single.crossEntropyWithGrad(logits, labels, { classes: wide });
      expect(Math.abs(fused.loss - plain.loss)).toBeLessThanOrEqual(1e-6 * plain.loss);
      expect(worstRatio(grad.toArray(), plain.grad, 1e-5, 1e-12), `${count}x${wide} gradOut`).toBeLessThanOrEqual(1);
    }
    pooled.dispose();
  });
});
