/**
 * 16-bit logits: bfloat16 and IEEE binary16, as Uint16Array bits with `dtype` or as a Float16Array.
 * The widening of every bit pattern is checked against converters written here from the IEEE
 * definitions. Every operation must equal the float32 path on the widened values bit for bit,
 * on each backend and on a kit with threads. Invalid input must be rejected.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadLogitKit, loadLogitKitWorker } from "../src/index.js";
import type { LogitKit } from "../src/index.js";
import { expectError } from "./expect-error.js";

type Dtype = "bf16" | "f16";
type KitConfig = { backend: "js" | "wasm"; threads?: number };

const KITS: Array<[string, KitConfig]> = [
  ["js", { backend: "js" }],
  ["wasm", { backend: "wasm" }],
  ["wasm with 2 threads", { backend: "wasm", threads: 2 }],
];

const DTYPES: Dtype[] = ["bf16", "f16"];

/**
 * Returns the value of bfloat16 bits from the definition: sign, 8 exponent bits (bias 127) and
 * 7 mantissa bits, with exponent 0 subnormal and 255 Infinity or NaN.
 */
function bf16Value(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 7) & 0xff;
  const mantissa = bits & 0x7f;
  if (exponent === 255) return mantissa === 0 ? sign * Infinity : NaN;
  if (exponent === 0) return sign * mantissa * 2 ** -133;
  return sign * (128 + mantissa) * 2 ** (exponent - 134);
}

/**
 * Returns the value of binary16 bits from IEEE 754: sign, 5 exponent bits (bias 15) and 10
 * mantissa bits, with exponent 0 subnormal and 31 Infinity or NaN.
 */
function f16Value(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 31) return mantissa === 0 ? sign * Infinity : NaN;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  return sign * (1024 + mantissa) * 2 ** (exponent - 25);
}

/** Returns the float32 values of 16-bit bits, from the reference converters above. */
function widen(bits: Uint16Array, dtype: Dtype): Float32Array {
  const value = dtype === "bf16" ? bf16Value : f16Value;
  return Float32Array.from(bits, value);
}

/** Special values as bits: [-Infinity, +Infinity, NaN]. */
const SPECIAL_BITS: Record<Dtype, [number, number, number]> = {
  bf16: [0xff80, 0x7f80, 0x7fc0],
  f16: [0xfc00, 0x7c00, 0x7e00],
};

/** Returns a deterministic generator of numbers in [0, 1) (mulberry32). */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Returns `rows x classes` 16-bit logits of magnitude about 2^-6 to 2^4 (every mantissa bit
 * random), with masked (-Infinity) classes sprinkled in. With `specials`, row 1 is NaN at one
 * class, row 2 has +Infinity, and row 3 is all -Infinity.
 */
function halfLogits(rows: number, classes: number, dtype: Dtype, seed: number, specials: boolean): Uint16Array {
  const next = random(seed);
  const bits = new Uint16Array(rows * classes);
  const [minusInfinity, plusInfinity, nan] = SPECIAL_BITS[dtype];
  for (let i = 0; i < bits.length; i++) {
    const sign = next() < 0.5 ? 0x8000 : 0;
    const scale = Math.floor(next() * 11) - 6;
    if (dtype === "bf16") bits[i] = sign | ((127 + scale) << 7) | Math.floor(next() * 128);
    else bits[i] = sign | ((15 + scale) << 10) | Math.floor(next() * 1024);
    if (next() < 0.02) bits[i] = minusInfinity;
  }
  if (!specials) return bits;

  if (rows > 1) bits[classes + (classes >> 1)] = nan;
  if (rows > 2) bits[2 * classes] = plusInfinity;
  if (rows > 3) bits.fill(minusInfinity, 3 * classes, 4 * classes);
  return bits;
}

/** Returns `rows` labels in [0, classes), with the last row ignored (-100) when rows > 1. */
function labelsFor(rows: number, classes: number, seed: number): Int32Array {
  const next = random(seed);
  const labels = Int32Array.from({ length: rows }, () => Math.floor(next() * classes));
  if (rows > 1) labels[rows - 1] = -100;
  return labels;
}

/** Returns probability targets: the softmax of random logits, computed by `kit`. */
function targetsFor(kit: LogitKit, rows: number, classes: number, seed: number): Float32Array {
  const next = random(seed);
  const z = Float32Array.from({ length: rows * classes }, () => 4 * next());
  return kit.softmax(z, { classes });
}

/** Checks that two results are the same number or the same array, bit for bit (any NaN equals NaN). */
function expectSame(actual: unknown, expected: unknown, context: string): void {
  if (typeof expected === "number") {
    expect(Object.is(actual, expected) || (Number.isNaN(actual) && Number.isNaN(expected)), `${context}: ${String(actual)} vs ${expected}`).toBe(true);
    return;
  }
  const a = actual as Float32Array;
  const e = expected as Float32Array;
  expect(a.length, `${context}: length`).toBe(e.length);
  for (let i = 0; i < e.length; i++) {
    if (Object.is(a[i], e[i]) || (Number.isNaN(a[i]) && Number.isNaN(e[i]))) continue;
    expect.fail(`${context}: element ${i} is ${a[i]}, expected ${e[i]}`);
  }
}

/** Checks `{ loss, grad }` results bit for bit. */
function expectSameWithGrad(actual: unknown, expected: unknown, context: string): void {
  const a = actual as { loss: number | Float32Array; grad: Float32Array };
  const e = expected as { loss: number | Float32Array; grad: Float32Array };
  expectSame(a.loss, e.loss, `${context} loss`);
  expectSame(a.grad, e.grad, `${context} grad`);
}

/**
 * Every operation that takes logits, as [name, call, compare]. `call` gets the logits (16-bit
 * with `dtype`, or their float32 values without) and the same for the second logits argument.
 */
type Operation = [
  name: string,
  call: (kit: LogitKit, z: Float32Array | Uint16Array, other: Float32Array | Uint16Array, extra: Extra) => unknown,
  compare: typeof expectSame,
];

/** Arguments other than logits, shared by the 16-bit and float32 calls. */
interface Extra {
  classes: number;
  dtype?: Dtype;
  labels: Int32Array;
  targets: Float32Array;
  weight: Float32Array;
}

const OPERATIONS: Operation[] = [
  ["softmax", (kit, z, _, x) => kit.softmax(z, { classes: x.classes, dtype: x.dtype }), expectSame],
  ["logSoftmax", (kit, z, _, x) => kit.logSoftmax(z, { classes: x.classes, temperature: 0.7, dtype: x.dtype }), expectSame],
  ["logSumExp", (kit, z, _, x) => kit.logSumExp(z, { classes: x.classes, temperature: 2, dtype: x.dtype }), expectSame],
  ["entropyOfLogits", (kit, z, _, x) => kit.entropyOfLogits(z, { classes: x.classes, reduction: "none", dtype: x.dtype }), expectSame],
  [
    "entropyOfLogitsWithGrad",
    (kit, z, _, x) => kit.entropyOfLogitsWithGrad(z, { classes: x.classes, temperature: 3, dtype: x.dtype }),
    expectSameWithGrad,
  ],
  [
    "crossEntropy labels",
    (kit, z, _, x) =>
      kit.crossEntropy(z, x.labels, { classes: x.classes, reduction: "none", labelSmoothing: 0.1, weight: x.weight, dtype: x.dtype }),
    expectSame,
  ],
  [
    "crossEntropyWithGrad labels",
    (kit, z, _, x) => kit.crossEntropyWithGrad(z, x.labels, { classes: x.classes, temperature: 1.5, dtype: x.dtype }),
    expectSameWithGrad,
  ],
  [
    "crossEntropyWithGrad targets",
    (kit, z, _, x) => kit.crossEntropyWithGrad(z, x.targets, { classes: x.classes, reduction: "sum", dtype: x.dtype }),
    expectSameWithGrad,
  ],
  ["klDivergence", (kit, z, o, x) => kit.klDivergence(z, o, { classes: x.classes, reduction: "none", dtype: x.dtype }), expectSame],
  [
    "klDivergenceWithGrad",
    (kit, z, o, x) => kit.klDivergenceWithGrad(z, o, { classes: x.classes, temperature: 2, dtype: x.dtype }),
    expectSameWithGrad,
  ],
  ["jsDivergence", (kit, z, o, x) => kit.jsDivergence(z, o, { classes: x.classes, beta: 0.3, reduction: "none", dtype: x.dtype }), expectSame],
  ["jsDivergenceWithGrad", (kit, z, o, x) => kit.jsDivergenceWithGrad(z, o, { classes: x.classes, dtype: x.dtype }), expectSameWithGrad],
  [
    "distillationLoss",
    (kit, z, o, x) => kit.distillationLoss(z, o, { classes: x.classes, temperature: 4, alpha: 0.7, labels: x.labels, dtype: x.dtype }),
    expectSame,
  ],
  [
    "distillationLossWithGrad",
    (kit, z, o, x) => kit.distillationLossWithGrad(z, o, { classes: x.classes, temperature: 2, labels: x.labels, dtype: x.dtype }),
    expectSameWithGrad,
  ],
  [
    "topKDistillationLossWithGrad",
    (kit, z, _, x) => {
      const { indices, values } = topKTeacher(x.labels.length, x.classes);
      return kit.topKDistillationLossWithGrad(z, indices, values, { classes: x.classes, temperature: 2, labels: x.labels, dtype: x.dtype });
    },
    expectSameWithGrad,
  ],
];

/** A teacher of up to 3 tokens per row (classes 0, 1, 2) with log-probabilities -1, -2 and -3. */
function topKTeacher(rows: number, classes: number): { indices: Int32Array; values: Float32Array } {
  const k = Math.min(3, classes);
  const indices = Int32Array.from({ length: rows * k }, (_, i) => i % k);
  const values = Float32Array.from({ length: rows * k }, (_, i) => -1 - (i % k));
  return { indices, values };
}

/**
 * Shapes as [rows, classes]: tails of every length around 4 and 16, a GPT-2 vocabulary, and
 * 64 x 32000 (8 MiB as float32), which spans several 1 MiB chunks on one thread and the staged
 * chunks of the thread pool.
 */
const SHAPES: Array<[number, number]> = [
  [5, 1],
  [4, 2],
  [5, 3],
  [6, 4],
  [4, 5],
  [5, 7],
  [4, 8],
  [6, 15],
  [5, 16],
  [7, 17],
  [4, 64],
  [3, 50257],
  [64, 32000],
];

describe("16-bit widening of every bit pattern", () => {
  const allBits = Uint16Array.from({ length: 65536 }, (_, i) => i);

  it.each(KITS.slice(0, 2))("matches the IEEE definitions on %s", async (_, config) => {
    const kit = await loadLogitKit(config);
    for (const dtype of DTYPES) {
      const expected = widen(allBits, dtype);

      // upload widens into the float32 that the handle keeps, so toArray shows the conversion itself.
      const handle = kit.upload(allBits, { classes: 1, dtype });
      const widened = handle.toArray();
      handle.free();
      for (let i = 0; i < 65536; i++) {
        if (Number.isNaN(expected[i])) expect(Number.isNaN(widened[i]), `${dtype} 0x${i.toString(16)} must be NaN`).toBe(true);
        else expect(Object.is(widened[i], expected[i]), `${dtype} 0x${i.toString(16)}: ${widened[i]} vs ${expected[i]}`).toBe(true);
      }

      // One class per row: logsumexp is the logit itself, through the chunked conversion of a call.
      expectSame(kit.logSumExp(allBits, { classes: 1, dtype }), kit.logSumExp(expected, { classes: 1 }), `${dtype} logSumExp`);
    }
  });

  it("reference converters at known values", () => {
    expect(bf16Value(0x3f80)).toBe(1);
    expect(bf16Value(0xc2f7)).toBe(-123.5);
    expect(bf16Value(0x0001)).toBe(2 ** -133);
    expect(f16Value(0x3c00)).toBe(1);
    expect(f16Value(0x7bff)).toBe(65504);
    expect(f16Value(0x0001)).toBe(2 ** -24);
    expect(f16Value(0x03ff)).toBe(1023 * 2 ** -24);
    expect(Object.is(f16Value(0x8000), -0)).toBe(true);
    expect(f16Value(0xfc00)).toBe(-Infinity);
    expect(Number.isNaN(f16Value(0x7c01))).toBe(true);
  });
});

describe.each(KITS)("16-bit logits on %s", (_, config) => {
  let kit: LogitKit;

  beforeAll(async () => {
    kit = await loadLogitKit(config);
  });

  afterAll(() => kit.dispose());

  for (const dtype of DTYPES) {
    it.each(SHAPES)(`${dtype}: every operation equals float32 at %i x %i`, (rows, classes) => {
      const z = halfLogits(rows, classes, dtype, rows * 1000 + classes, true);
      const other = halfLogits(rows, classes, dtype, rows * 1000 + classes + 1, false);
      const zWide = widen(z, dtype);
      const otherWide = widen(other, dtype);
      const extra: Extra = {
        classes,
        labels: labelsFor(rows, classes, classes),
        targets: targetsFor(kit, rows, classes, classes + 7),
        weight: Float32Array.from({ length: classes }, (_, c) => 0.5 + (c % 3)),
      };

      for (const [name, call, compare] of OPERATIONS) {
        const expected = call(kit, zWide, otherWide, extra);
        compare(call(kit, z, other, { ...extra, dtype }), expected, `${name} ${dtype}`);
      }
    });
  }

  it.each(DTYPES)("%s: any bit patterns equal float32", (dtype) => {
    // Uniform 16-bit patterns: huge and subnormal values, NaN and ±Infinity anywhere.
    const rows = 40;
    const classes = 37;
    const next = random(dtype === "bf16" ? 101 : 102);
    const z = Uint16Array.from({ length: rows * classes }, () => Math.floor(next() * 65536));
    const other = Uint16Array.from({ length: rows * classes }, () => Math.floor(next() * 65536));
    const extra: Extra = {
      classes,
      labels: labelsFor(rows, classes, 103),
      targets: targetsFor(kit, rows, classes, 104),
      weight: new Float32Array(classes).fill(1),
    };

    for (const [name, call, compare] of OPERATIONS) {
      const expected = call(kit, widen(z, dtype), widen(other, dtype), extra);
      compare(call(kit, z, other, { ...extra, dtype }), expected, `${name} ${dtype}`);
    }
  });

  it("mixes float32 and bf16 arguments in one call", () => {
    const rows = 6;
    const classes = 1000;
    const student = widen(halfLogits(rows, classes, "f16", 5, false), "f16");
    const teacher = halfLogits(rows, classes, "bf16", 6, true);
    const teacherWide = widen(teacher, "bf16");
    const labels = labelsFor(rows, classes, 8);

    const mixed = kit.distillationLossWithGrad(student, teacher, { classes, labels, temperature: 2, dtype: "bf16" });
    const plain = kit.distillationLossWithGrad(student, teacherWide, { classes, labels, temperature: 2 });
    expectSameWithGrad(mixed, plain, "distillationLossWithGrad");
    expectSame(kit.klDivergence(teacher, student, { classes, dtype: "bf16" }), kit.klDivergence(teacherWide, student, { classes }), "klDivergence");

    const handle = kit.upload(student, { classes });
    expectSame(kit.klDivergence(teacher, handle, { classes, dtype: "bf16" }), kit.klDivergence(teacherWide, student, { classes }), "with a handle");
    handle.free();
  });

  it("uploads 16-bit logits as float32 handles", () => {
    const classes = 333;
    for (const dtype of DTYPES) {
      const z = halfLogits(9, classes, dtype, 41, true);
      const handle = kit.upload(z, { classes, dtype });
      expect(handle.length).toBe(z.length);
      expectSame(handle.toArray(), widen(z, dtype), `${dtype} toArray`);
      expectSame(kit.softmax(handle, { classes }), kit.softmax(widen(z, dtype), { classes }), `${dtype} softmax of the handle`);
      handle.free();
    }
  });

  it("writes into out and gradOut, arrays and handles", () => {
    const classes = 257;
    const z = halfLogits(8, classes, "f16", 51, false);
    const zWide = widen(z, "f16");
    const out = new Float32Array(z.length);
    expect(kit.logSoftmax(z, { classes, dtype: "f16", out })).toBe(out);
    expectSame(out, kit.logSoftmax(zWide, { classes }), "logSoftmax out");

    const gradOut = kit.alloc(z.length, { classes });
    const labels = labelsFor(8, classes, 3);
    const { loss, grad } = kit.crossEntropyWithGrad(z, labels, { classes, dtype: "f16", gradOut });
    expect(grad).toBe(gradOut);
    const plain = kit.crossEntropyWithGrad(zWide, labels, { classes });
    expectSame(loss, plain.loss, "crossEntropyWithGrad loss");
    expectSame(gradOut.toArray(), plain.grad, "crossEntropyWithGrad gradOut");
    gradOut.free();
  });

  it("splits the vocabulary of one long bf16 row", () => {
    // One row of 140000 classes: a kit with 2 threads splits the row across them.
    const classes = 140000;
    const z = halfLogits(1, classes, "bf16", 61, false);
    const zWide = widen(z, "bf16");
    for (const [name, call, compare] of OPERATIONS.slice(0, 3)) {
      const extra = { classes, labels: new Int32Array(1), targets: new Float32Array(0), weight: new Float32Array(0) };
      compare(call(kit, z, z, { ...extra, dtype: "bf16" }), call(kit, zWide, zWide, extra), name);
    }
  });

  it("accumulates bf16 vocabulary chunks as float32 ones", () => {
    const rows = 4;
    const classes = 3000;
    const widths = [1000, 1500, 500];
    const model = halfLogits(rows, classes, "bf16", 71, false);
    const teacher = halfLogits(rows, classes, "bf16", 72, false);
    const labels = [5, 1200, 2999, 2500];
    const half = kit.vocabAccumulator({ rows, classes, labels, temperature: 1.5 });
    const wide = kit.vocabAccumulator({ rows, classes, labels, temperature: 1.5 });

    let offset = 0;
    for (const width of widths) {
      const chunk = new Uint16Array(rows * width);
      const teacherChunk = new Uint16Array(rows * width);
      for (let r = 0; r < rows; r++) {
        chunk.set(model.subarray(r * classes + offset, r * classes + offset + width), r * width);
        teacherChunk.set(teacher.subarray(r * classes + offset, r * classes + offset + width), r * width);
      }
      half.add(chunk, { offset, teacher: teacherChunk, dtype: "bf16" });
      wide.add(widen(chunk, "bf16"), { offset, teacher: widen(teacherChunk, "bf16") });
      offset += width;
    }

    expectSame(half.logSumExp(), wide.logSumExp(), "logSumExp");
    expectSame(half.entropy({ reduction: "none" }), wide.entropy({ reduction: "none" }), "entropy");
    expectSame(half.crossEntropy({ reduction: "none" }), wide.crossEntropy({ reduction: "none" }), "crossEntropy");
    expectSame(half.klDivergence({ reduction: "none" }), wide.klDivergence({ reduction: "none" }), "klDivergence");
  });

  it.runIf(typeof (globalThis as { Float16Array?: unknown }).Float16Array === "function")("takes a Float16Array as f16", () => {
    const Float16 = (globalThis as unknown as { Float16Array: new (buffer: ArrayBuffer) => ArrayBufferView }).Float16Array;
    const classes = 100;
    const bits = halfLogits(5, classes, "f16", 81, true);
    const halves = new Float16(bits.slice().buffer) as unknown as Uint16Array;
    const expected = kit.softmax(bits, { classes, dtype: "f16" });
    expectSame(kit.softmax(halves, { classes }), expected, "without dtype");
    expectSame(kit.softmax(halves, { classes, dtype: "f16" }), expected, "with dtype f16");
    expect(() => kit.softmax(halves, { classes, dtype: "bf16" })).toThrow(
      'softmax: logits is a Float16Array, whose format is "f16", but options.dtype is "bf16"',
    );
  });
});

describe.each(KITS)("invalid 16-bit input on %s", (_, config) => {
  let kit: LogitKit;
  const z6 = new Uint16Array([0x3f80, 0x4000, 0x4040, 0x4080, 0x40a0, 0x40c0]); // bf16 1 to 6

  beforeAll(async () => {
    kit = await loadLogitKit(config);
  });

  afterAll(() => kit.dispose());

  /** Checks that `call` throws `type` with `message` in its message, and that the kit still works. */
  function expectRejected(call: () => unknown, type: typeof TypeError | typeof RangeError, message: string): void {
    expectError(call, type, [message]);

    const probs = kit.softmax(z6, { classes: 3, dtype: "bf16" });
    expect(probs[2]).toBeCloseTo(Math.exp(2) / (1 + Math.exp(1) + Math.exp(2)), 6);
  }

  it("rejects a Uint16Array without dtype", () => {
    expectRejected(
      () => kit.softmax(z6, { classes: 3 }),
      TypeError,
      'softmax: logits is a Uint16Array of 16-bit floats, which needs options.dtype "bf16" or "f16", got no options.dtype',
    );
    expectRejected(
      () => kit.klDivergence(new Float32Array(6), z6, { classes: 3 }),
      TypeError,
      "klDivergence: qLogits is a Uint16Array of 16-bit floats",
    );
    expectRejected(() => kit.upload(z6, { classes: 3 }), TypeError, "upload: logits is a Uint16Array of 16-bit floats");
  });

  it("rejects a dtype that does not match the arrays", () => {
    expectRejected(
      () => kit.softmax(z6, { classes: 3, dtype: "f32" }),
      TypeError,
      'softmax: logits is a Uint16Array of 16-bit floats, which needs options.dtype "bf16" or "f16", got options.dtype "f32"',
    );
    expectRejected(
      () => kit.softmax(new Float32Array(6), { classes: 3, dtype: "bf16" }),
      TypeError,
      'softmax: options.dtype "bf16" applies to 16-bit logits, but logits is float32',
    );
    expectRejected(
      () => kit.jsDivergence(new Float32Array(6), new Float32Array(6), { classes: 3, dtype: "f16" }),
      TypeError,
      'jsDivergence: options.dtype "f16" applies to 16-bit logits, but pLogits and qLogits are float32',
    );
    expectRejected(
      () => kit.crossEntropy(kit.upload(new Float32Array(6), { classes: 3 }), [0, 1], { classes: 3, dtype: "bf16" }),
      TypeError,
      "crossEntropy: options.dtype \"bf16\" applies to 16-bit logits, but logits is float32",
    );
  });

  it("rejects an unknown dtype", () => {
    expectRejected(
      () => kit.softmax(z6, { classes: 3, dtype: "fp16" as never }),
      RangeError,
      'softmax: options.dtype must be one of "f32", "bf16", "f16", got "fp16"',
    );
    expectRejected(
      () => kit.logSumExp(z6, { classes: 3, dtype: 16 as never }),
      TypeError,
      'logSumExp: options.dtype must be one of "f32", "bf16", "f16", got 16',
    );
  });

  it("rejects mismatched lengths", () => {
    expectRejected(
      () => kit.klDivergenceWithGrad(z6, new Uint16Array(9), { classes: 3, dtype: "bf16" }),
      RangeError,
      "klDivergenceWithGrad: qLogits.length must equal pLogits.length (6), got 9",
    );
    expectRejected(
      () => kit.softmax(new Uint16Array(7), { classes: 3, dtype: "f16" }),
      RangeError,
      "softmax: logits.length must be a multiple of options.classes (3), got 7",
    );
    expectRejected(
      () => kit.vocabAccumulator({ rows: 2, classes: 6 }).add(z6, { offset: 0, teacher: new Uint16Array(4), dtype: "bf16" }),
      RangeError,
      "add: options.teacher.length must be 6 (the length of logits), got 4",
    );
  });

  it("rejects detached 16-bit arrays", () => {
    const detachedBits = z6.slice();
    structuredClone(detachedBits.buffer, { transfer: [detachedBits.buffer] });
    expectRejected(
      () => kit.softmax(detachedBits, { classes: 3, dtype: "bf16" }),
      TypeError,
      "softmax: logits is backed by a detached ArrayBuffer",
    );
    expectRejected(
      () => kit.distillationLoss(z6, detachedBits, { classes: 3, dtype: "bf16" }),
      TypeError,
      "distillationLoss: teacherLogits is backed by a detached ArrayBuffer",
    );

    // A getter of the options detaches the logits after they were checked.
    const later = z6.slice();
    const options = {
      classes: 3,
      dtype: "bf16" as const,
      get temperature(): number {
        structuredClone(later.buffer, { transfer: [later.buffer] });
        return 1;
      },
    };
    expectRejected(() => kit.logSoftmax(later, options), TypeError, "logSoftmax: logits was detached while the arguments were checked");
  });

  it("rejects dtype on probability inputs", () => {
    expectRejected(
      () => kit.entropy(new Float32Array(6), { classes: 3, dtype: "bf16" } as never),
      TypeError,
      'entropy: unknown option "dtype"',
    );
    expectRejected(
      () => kit.klDivergenceOfProbs(new Float32Array(6), new Float32Array(6), { classes: 3, dtype: "f16" } as never),
      TypeError,
      'klDivergenceOfProbs: unknown option "dtype"',
    );
    expectRejected(
      () => kit.crossEntropy(z6, new Uint16Array(6) as never, { classes: 3, dtype: "bf16" }),
      TypeError,
      "options.dtype applies to the logits only",
    );
    expectRejected(() => kit.alloc(6, { classes: 3, dtype: "bf16" } as never), TypeError, 'alloc: unknown option "dtype"');
    expectRejected(
      () => kit.entropy(z6 as never, { classes: 3 }),
      TypeError,
      "entropy: probs must be a Float32Array, got Uint16Array(6); this argument takes float32 only, and 16-bit floats only as logits",
    );
  });

  it("rejects an out that overlaps 16-bit logits", () => {
    const buffer = new ArrayBuffer(64);
    const logits = new Uint16Array(buffer, 0, 6);
    logits.set(z6);
    expectRejected(
      () => kit.softmax(logits, { classes: 3, dtype: "bf16", out: new Float32Array(buffer, 8, 6) }),
      RangeError,
      "softmax: options.out overlaps logits",
    );
  });

  it("keeps rejecting other integer arrays", () => {
    expectRejected(
      () => kit.softmax(new Int16Array(6) as never, { classes: 3, dtype: "bf16" }),
      TypeError,
      "softmax: logits must be a Float32Array, got Int16Array(6)",
    );
  });
});

describe("16-bit logits through loadLogitKitWorker", () => {
  it("gives the results of a kit on the calling thread", async () => {
    const remote = await loadLogitKitWorker({ backend: "wasm" });
    const kit = await loadLogitKit({ backend: "wasm" });
    try {
      const classes = 500;
      const z = halfLogits(4, classes, "bf16", 91, true);
      const labels = labelsFor(4, classes, 92);
      const local = kit.crossEntropyWithGrad(z, labels, { classes, dtype: "bf16" });
      expectSameWithGrad(await remote.crossEntropyWithGrad(z, labels, { classes, dtype: "bf16" }), local, "crossEntropyWithGrad");
      await expect(remote.softmax(z, { classes })).rejects.toThrow("softmax: logits is a Uint16Array of 16-bit floats");

      // The worker copies a Float16Array like any typed array, where the runtime has one.
      const Float16 = (globalThis as { Float16Array?: new (buffer: ArrayBufferLike) => Uint16Array }).Float16Array;
      if (Float16 !== undefined) {
        const halves = new Float16(halfLogits(4, classes, "f16", 93, false).buffer);
        expectSame(await remote.logSumExp(halves, { classes }), kit.logSumExp(halves, { classes }), "logSumExp of a Float16Array");
      }
    } finally {
      await remote.dispose();
    }
  });
});
