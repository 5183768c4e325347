import { describe, expect, it } from "vitest";
import { loadWasmKernels } from "../src/backends/embedded.js";
import { loadLogitKit } from "../src/index.js";
import type { LogitKit } from "../src/index.js";
import { createKit } from "../src/kit.js";
import { randomNormal } from "./reference.js";

describe.each(["wasm", "js"])("%s backend uploads", (name) => {
  const load = () => loadLogitKit({ backend: name as "wasm" | "js" });

  it("give the same results as arrays", async () => {
    const kit = await load();
    const classes = 1031;
    const z = randomNormal(5 * classes, 71, 3);
    const q = randomNormal(5 * classes, 72, 3);
    const labels = [0, 5, 1030, 17, 512];
    const up = kit.upload(z, { classes });
    const uq = kit.upload(q, { classes });

    expect(Array.from(kit.softmax(up, { classes }))).toEqual(Array.from(kit.softmax(z, { classes })));
    expect(Array.from(kit.logSumExp(up, { classes, temperature: 2 }))).toEqual(
      Array.from(kit.logSumExp(z, { classes, temperature: 2 })),
    );
    const fused = kit.crossEntropyWithGrad(up, labels, { classes, labelSmoothing: 0.1 });
    const plain = kit.crossEntropyWithGrad(z, labels, { classes, labelSmoothing: 0.1 });
    expect(fused.loss).toBe(plain.loss);
    expect(Array.from(fused.grad)).toEqual(Array.from(plain.grad));
    expect(kit.klDivergence(up, uq, { classes })).toBe(kit.klDivergence(z, q, { classes }));
    expect(kit.klDivergence(up, q, { classes })).toBe(kit.klDivergence(z, q, { classes }));
    expect(kit.distillationLoss(uq, up, { classes, labels })).toBe(kit.distillationLoss(q, z, { classes, labels }));
    expect(Array.from(up.toArray())).toEqual(Array.from(z));
    expect(up.length).toBe(z.length);
    expect(up.backend).toBe(name);
  });

  it("keep their data when the caller changes the array", async () => {
    const kit = await load();
    const z = new Float32Array([1, 2, 3, 4]);
    const up = kit.upload(z, { classes: 4 });
    z.fill(0);
    expect(kit.logSumExp(up, { classes: 4 })[0]).toBeCloseTo(Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3) + Math.exp(4)), 5);
  });

  it("reject use after free", async () => {
    const kit = await load();
    const up = kit.upload(new Float32Array([1, 2, 3]), { classes: 3 });
    up.free();
    up.free();
    expect(up.freed).toBe(true);
    expect(() => kit.softmax(up, { classes: 3 })).toThrow(TypeError);
    expect(() => kit.softmax(up, { classes: 3 })).toThrow("softmax: logits was freed with free()");
  });

  it("reject a handle of another kit", async () => {
    const kit = await load();
    const other: LogitKit = await load();
    const up = other.upload(new Float32Array([1, 2, 3]), { classes: 3 });
    expect(() => kit.softmax(up, { classes: 3 })).toThrow("made by another LogitKit object");
  });

  it("reject an upload freed while the arguments are checked", async () => {
    const kit = await load();
    const up = kit.upload(new Float32Array([1, 2, 3, 4, 0, 0, 0, 9]), { classes: 4 });
    const options = {
      reduction: "none" as const,
      get classes() {
        up.free();
        return 4;
      },
    };
    expect(() => kit.crossEntropy(up, [3, 3], options)).toThrow("crossEntropy: logits was freed with free()");
  });

  it("reject logits detached while the arguments are checked", async () => {
    const kit = await load();
    const z = new Float32Array([1, 2, 3, 4]);
    const options = {
      get classes() {
        structuredClone(z.buffer, { transfer: [z.buffer] });
        return 4;
      },
    };
    expect(() => kit.softmax(z, options)).toThrow("softmax: logits was detached while the arguments were checked");
    expect(kit.logSumExp(new Float32Array([0, 0]), { classes: 2 })[0]).toBeCloseTo(Math.LN2, 6);
  });

  it("expose no view of backend memory", async () => {
    const kit = await load();
    const up = kit.upload(new Float32Array([1, 2, 3]), { classes: 3 });
    expect("view" in up).toBe(false);
    expect(Object.getOwnPropertyNames(Object.getPrototypeOf(up)).sort()).toEqual(["constructor", "free", "freed", "set", "toArray"]);
  });

  it("validate the upload's shape", async () => {
    const kit = await load();
    expect(() => kit.upload(new Float32Array(5), { classes: 3 })).toThrow(RangeError);
    expect(() => kit.upload([1, 2, 3] as never, { classes: 3 })).toThrow(TypeError);
  });
});

describe("wasm uploads and memory", () => {
  it("survive a growth of the memory", async () => {
    const kernels = (await loadWasmKernels()).kernels;
    const kit = createKit(kernels);
    const z = randomNormal(3 * 100, 5, 2);
    const up = kit.upload(z, { classes: 100 });
    const before = kit.softmax(up, { classes: 100 });

    // A large call grows the memory, which detaches every earlier view of it.
    const startBytes = kernels.memoryBytes();
    kit.softmax(randomNormal(8 * 50257, 6, 2), { classes: 50257 });
    expect(kernels.memoryBytes()).toBeGreaterThan(startBytes);
    expect(Array.from(kit.softmax(up, { classes: 100 }))).toEqual(Array.from(before));
  });

  it("place a call's buffers in the gap a freed upload leaves", async () => {
    const kernels = (await loadWasmKernels()).kernels;
    const kit = createKit(kernels);
    const big = kit.upload(new Float32Array(8_000_000), { classes: 1000 });
    kit.upload(new Float32Array(16), { classes: 16 });
    big.free();
    const size = kernels.memoryBytes();

    // Softmax of 2M floats needs 16 MB of buffers, which fit below the small upload.
    kit.softmax(randomNormal(2_000_000, 3, 1), { classes: 1000 });
    expect(kernels.memoryBytes()).toBe(size);
  });

  it("reuse freed memory", async () => {
    const kernels = (await loadWasmKernels()).kernels;
    const kit = createKit(kernels);
    const z = randomNormal(64 * 1000, 8, 2);
    kit.upload(z, { classes: 1000 }).free();
    const size = kernels.memoryBytes();
    for (let i = 0; i < 20; i++) kit.upload(z, { classes: 1000 }).free();
    expect(kernels.memoryBytes()).toBe(size);
  });

  it("work in chunks larger than one call", async () => {
    const kernels = (await loadWasmKernels()).kernels;
    const kit = createKit(kernels);
    const js = await loadLogitKit({ backend: "js" });
    const classes = 50257;
    const rows = 401;
    const z = randomNormal(rows * classes, 9, 3);
    const labels = Int32Array.from({ length: rows }, (_, r) => (r * 7) % classes);
    const up = kit.upload(z, { classes });
    const loss = kit.crossEntropy(up, labels, { classes, reduction: "none" });
    const expected = js.crossEntropy(z, labels, { classes, reduction: "none" });
    for (const r of [0, 200, 400]) expect(Math.abs(loss[r] - expected[r])).toBeLessThanOrEqual(2e-5 * expected[r]);
  });
});
