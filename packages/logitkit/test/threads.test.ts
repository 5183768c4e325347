import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { loadLogitKit, type LogitKit } from "../src/index.js";
import { firstDifference } from "./reference.js";

/** Seeded logits with standard deviation about 3, as the benchmark uses. */
function logits(length: number, seed: number): Float32Array {
  const out = new Float32Array(length);
  let state = seed >>> 0;
  for (let i = 0; i < length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = (state / 2 ** 32 - 0.5) * 10;
  }
  return out;
}

function labelsFor(rows: number, classes: number): Int32Array {
  return Int32Array.from({ length: rows }, (_, r) => (r * 7919) % classes);
}

/** Largest |a - b| / max(|b|, floor) over two arrays of the same length. */
function maxRelativeDifference(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-30): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(a[i]) || Number.isNaN(b[i])) {
      if (Number.isNaN(a[i]) !== Number.isNaN(b[i])) return Infinity;
      continue;
    }
    if (a[i] === b[i]) continue;
    worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.max(Math.abs(b[i]), floor));
  }
  return worst;
}

/**
 * Checks that two results are identical bit for bit: arrays, numbers or { loss, grad } objects.
 * It loops itself because deep equality of vitest takes seconds on arrays of this size.
 */
function expectIdentical(actual: unknown, expected: unknown): void {
  if (actual instanceof Float32Array && expected instanceof Float32Array) {
    expect(actual.length).toBe(expected.length);
    const mismatch = firstDifference(actual, expected);
    expect(mismatch === -1 ? "identical" : `index ${mismatch}: ${actual[mismatch]} vs ${expected[mismatch]}`).toBe("identical");
    return;
  }
  if (typeof actual === "object" && actual !== null && typeof expected === "object" && expected !== null) {
    const a = actual as { loss: unknown; grad: unknown };
    const b = expected as { loss: unknown; grad: unknown };
    expectIdentical(a.loss, b.loss);
    expectIdentical(a.grad, b.grad);
    return;
  }
  expect(actual).toBe(expected);
}

describe("thread pool", () => {
  let one: LogitKit;
  let two: LogitKit;
  let three: LogitKit;

  beforeAll(async () => {
    one = await loadLogitKit({ backend: "wasm" });
    two = await loadLogitKit({ backend: "wasm", threads: 2 });
    three = await loadLogitKit({ backend: "wasm", threads: 3 });
  });

  afterAll(() => {
    two.dispose();
    three.dispose();
  });

  it("starts the requested threads", () => {
    expect(one.threads).toBe(1);
    expect(two.threads).toBe(2);
    expect(two.threadsReason).toBeUndefined();
    expect(three.threads).toBe(3);
  });

  // Browsers give SharedArrayBuffer, and so a pool, only to cross-origin isolated pages. The
  // browser project's server sends the COOP and COEP headers that isolate its pages.
  it.runIf(typeof window !== "undefined")("runs on a cross-origin isolated page", () => {
    expect(globalThis.crossOriginIsolated).toBe(true);
  });

  // 64 x 32000 logits are 8 MB, above the 2 MiB and 8 rows from which array calls use the
  // pool. The calling thread wakes the workers with Atomics.notify, so counting its calls shows
  // which kit ran on the pool.
  it("runs 64 x 32000 on the pool", () => {
    const rows = 64;
    const classes = 32000;
    const z = logits(rows * classes, 21);
    const labels = labelsFor(rows, classes);
    const wakeUps = vi.spyOn(Atomics, "notify");

    try {
      const probs = one.softmax(z, { classes });
      const loss = one.crossEntropyWithGrad(z, labels, { classes });
      expect(wakeUps).not.toHaveBeenCalled();

      expectIdentical(two.softmax(z, { classes }), probs);
      expect(wakeUps).toHaveBeenCalled();
      wakeUps.mockClear();
      expectIdentical(two.crossEntropyWithGrad(z, labels, { classes }), loss);
      expect(wakeUps).toHaveBeenCalled();
    } finally {
      wakeUps.mockRestore();
    }
  });

  // Rows are split whole, so every row runs the same kernel code as on one thread.
  // Array calls use the pool when they are large enough to overlap their copies (2 MiB of row
  // data), so this shape is above that for every operation.
  it("splits rows with results identical to one thread", () => {
    const rows = 160;
    const classes = 4099;
    const z = logits(rows * classes, 1);
    const q = logits(rows * classes, 2);
    const labels = labelsFor(rows, classes);
    labels[3] = -100;
    const weight = Float32Array.from({ length: classes }, (_, i) => 0.5 + (i % 7) / 7);
    const probs = one.softmax(q, { classes });

    for (const kit of [two, three]) {
      expectIdentical(kit.softmax(z, { classes }), one.softmax(z, { classes }));
      expectIdentical(kit.logSoftmax(z, { classes, temperature: 1.7 }), one.logSoftmax(z, { classes, temperature: 1.7 }));
      expectIdentical(kit.logSumExp(z, { classes }), one.logSumExp(z, { classes }));
      expectIdentical(kit.entropy(probs, { classes, reduction: "none" }), one.entropy(probs, { classes, reduction: "none" }));
      expectIdentical(kit.entropyOfLogitsWithGrad(z, { classes }), one.entropyOfLogitsWithGrad(z, { classes }));

      const ceOptions = { classes, weight, labelSmoothing: 0.1, ignoreIndex: -100, reduction: "none" } as const;
      expectIdentical(kit.crossEntropyWithGrad(z, labels, ceOptions), one.crossEntropyWithGrad(z, labels, ceOptions));
      expectIdentical(kit.crossEntropyWithGrad(z, probs, { classes }), one.crossEntropyWithGrad(z, probs, { classes }));
      expectIdentical(kit.klDivergenceWithGrad(q, z, { classes, temperature: 2 }), 
        one.klDivergenceWithGrad(q, z, { classes, temperature: 2 }),
      );
      expectIdentical(kit.jsDivergenceWithGrad(q, z, { classes, beta: 0.3 }), 
        one.jsDivergenceWithGrad(q, z, { classes, beta: 0.3 }),
      );
      const distillation = { classes, temperature: 2, alpha: 0.7, labels };
      expectIdentical(kit.distillationLossWithGrad(z, q, distillation), one.distillationLossWithGrad(z, q, distillation));
    }
  });

  // Above 2 MiB the calling thread copies the next stage of rows in and the previous one out
  // while the workers compute; the results must not depend on that overlap.
  it("overlaps copies with kernels on large calls", () => {
    const rows = 67;
    const classes = 9001;
    const z = logits(rows * classes, 11);
    const q = logits(rows * classes, 12);
    const labels = labelsFor(rows, classes);
    const weight = Float32Array.from({ length: classes }, (_, i) => 1 + (i % 3));

    for (const kit of [two, three]) {
      expectIdentical(kit.softmax(z, { classes }), one.softmax(z, { classes }));
      expectIdentical(kit.logSumExp(z, { classes }), one.logSumExp(z, { classes }));
      expectIdentical(kit.crossEntropyWithGrad(z, labels, { classes, weight }), one.crossEntropyWithGrad(z, labels, { classes, weight }));
      expectIdentical(kit.klDivergenceWithGrad(q, z, { classes, reduction: "none" }), 
        one.klDivergenceWithGrad(q, z, { classes, reduction: "none" }),
      );
    }
  });

  it("runs on uploaded logits", () => {
    const rows = 64;
    const classes = 2048;
    const z = logits(rows * classes, 3);
    const labels = labelsFor(rows, classes);
    const uploaded = two.upload(z, { classes });

    expectIdentical(two.softmax(uploaded, { classes }), one.softmax(z, { classes }));

    // With both sides in WebAssembly memory nothing is copied, so even this small call runs on the pool.
    const probs = two.alloc(rows * classes, { classes });
    two.softmax(uploaded, { classes, out: probs });
    expectIdentical(probs.toArray(), one.softmax(z, { classes }));
    probs.free();
    expectIdentical(two.crossEntropyWithGrad(uploaded, labels, { classes }), one.crossEntropyWithGrad(z, labels, { classes }));
    uploaded.free();
  });

  // A row of a huge vocabulary is cut into slices whose float64 sums are added in another
  // order, so the results agree within rounding rather than bit for bit.
  it("splits the vocabulary of single huge rows", () => {
    for (const classes of [131072, 300007]) {
      const z = logits(classes * 2, classes);
      for (const [kit, rows] of [
        [two, 1],
        [three, 2],
      ] as const) {
        const input = z.subarray(0, rows * classes);
        expect(maxRelativeDifference(kit.softmax(input, { classes }), one.softmax(input, { classes }))).toBeLessThan(1e-6);
        expect(
          maxRelativeDifference(kit.logSoftmax(input, { classes, temperature: 0.5 }), one.logSoftmax(input, { classes, temperature: 0.5 })),
        ).toBeLessThan(1e-6);
        expect(maxRelativeDifference(kit.logSumExp(input, { classes }), one.logSumExp(input, { classes }))).toBeLessThan(1e-6);
      }
    }
  });

  // The slice maxima and sums of a split row live next to the call's buffers, which may sit in a
  // gap right below an upload.
  it("keeps uploads intact around split rows", () => {
    const classes = 131072;
    const z = logits(classes, 13);
    const gap = two.upload(new Float32Array(classes), { classes });
    const uploaded = two.upload(z, { classes });
    gap.free();

    const expected = one.softmax(z, { classes });
    expect(maxRelativeDifference(two.softmax(uploaded, { classes }), expected)).toBeLessThan(1e-6);
    expect(maxRelativeDifference(two.softmax(z, { classes }), expected)).toBeLessThan(1e-6);
    expect(uploaded.toArray()).toEqual(z);
    uploaded.free();
  });

  it("keeps the non-finite policy when the vocabulary is split", () => {
    const classes = 200000;
    const masked = logits(classes, 5);
    masked.fill(-Infinity, 0, 150000);
    const allMasked = new Float32Array(classes).fill(-Infinity);
    const withNaN = logits(classes, 6);
    withNaN[199999] = NaN;
    const withInfinity = logits(classes, 7);
    withInfinity[77] = Infinity;

    const probs = two.softmax(masked, { classes });
    expect(probs.subarray(0, 150000).every((p) => p === 0)).toBe(true);
    expect(maxRelativeDifference(probs, one.softmax(masked, { classes }))).toBeLessThan(1e-6);

    expect(two.logSumExp(allMasked, { classes })[0]).toBe(-Infinity);
    expect(two.softmax(allMasked, { classes }).every(Number.isNaN)).toBe(true);
    expect(two.logSumExp(withNaN, { classes })[0]).toBeNaN();
    expect(two.logSoftmax(withNaN, { classes }).every(Number.isNaN)).toBe(true);
    expect(two.logSumExp(withInfinity, { classes })[0]).toBe(Infinity);
    expect(two.softmax(withInfinity, { classes }).every(Number.isNaN)).toBe(true);
  });

  it("matches a float64 logsumexp on a split row", () => {
    const classes = 1 << 20;
    const z = logits(classes, 8);
    let max = -Infinity;
    for (const value of z) max = Math.max(max, value);
    let sum = 0;
    for (const value of z) sum += Math.exp(value - max);
    const expected = max + Math.log(sum);

    expect(Math.abs(two.logSumExp(z, { classes })[0] - expected) / expected).toBeLessThan(2e-7);
  });

  it("handles many calls of mixed sizes in a row", () => {
    for (let i = 0; i < 40; i++) {
      const classes = 1000 + ((i * 7919) % 30000);
      const rows = 1 + (i % 9);
      const z = logits(rows * classes, 100 + i);
      expectIdentical(two.logSoftmax(z, { classes }), one.logSoftmax(z, { classes }));
    }
  });
});

describe("thread pool lifetime", () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it("runs on one thread after dispose", async () => {
    const kit = await loadLogitKit({ backend: "wasm", threads: 2 });
    const one = await loadLogitKit({ backend: "wasm" });
    const classes = 5000;
    const z = logits(100 * classes, 9);

    kit.dispose();
    expect(kit.threads).toBe(1);
    expect(kit.threadsReason).toBe("dispose() stopped the worker threads");
    expectIdentical(kit.softmax(z, { classes }), one.softmax(z, { classes }));
    kit.dispose();
    expect(kit.threads).toBe(1);
  });

  it("reports why one thread runs on the js backend", async () => {
    const kit = await loadLogitKit({ backend: "js", threads: 4 });
    expect(kit.threads).toBe(1);
    expect(kit.threadsReason).toContain("js backend");
  });

  it("falls back to one thread without SharedArrayBuffer", async () => {
    vi.stubGlobal("SharedArrayBuffer", undefined);
    const kit = await loadLogitKit({ backend: "wasm", threads: 2 });

    expect(kit.backend).toBe("wasm");
    expect(kit.threads).toBe(1);
    expect(kit.threadsReason).toContain("cross-origin isolated");
    expect(kit.logSumExp(new Float32Array([0, 0]), { classes: 2 })[0]).toBeCloseTo(Math.LN2, 6);
  });

  it("rejects invalid thread counts", async () => {
    for (const threads of [0, 1.5, 129, -2, NaN, Infinity]) {
      await expect(loadLogitKit({ threads })).rejects.toThrow(RangeError);
      await expect(loadLogitKit({ threads })).rejects.toThrow(/options\.threads must be an integer from 1 to 128/);
    }
    await expect(loadLogitKit({ threads: "2" as unknown as number })).rejects.toThrow(TypeError);
    await expect(loadLogitKit({ threads: "2" as unknown as number })).rejects.toThrow('got "2"');
  });
});
