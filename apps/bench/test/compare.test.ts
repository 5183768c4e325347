import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadLogitKit, type LogitKit } from "logitkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compareLogits, openCompareInputs, resolveSequenceLength, type CompareFiles, type CompareResult } from "../src/compare.js";
import { percentileOfSorted, summarize } from "../src/compare-summary.js";
import { DEFAULT_DATA_DIR, loadRealData } from "../src/data.js";
import { InputError, openFile, type FileOpener } from "../src/logit-files.js";
import { referenceStats, type ReferenceStats, type ReferenceSummary } from "./compare-oracle.js";
import {
  float32Bytes,
  float32ToBfloat16BitsTruncated,
  float32ToHalfBitsTruncated,
  halfBitsValue,
  npyBytes,
  safetensorsBytes,
  uint16Bytes,
} from "./logit-file-writers.js";

const data = loadRealData();
const ROWS = 1024;
const VOCAB = 512;
const SEQUENCE_LENGTH = 128;
const TEACHER = join(DEFAULT_DATA_DIR, "teacher.f32");
const STUDENT = join(DEFAULT_DATA_DIR, "student-q8.f32");
const TOKENS = join(DEFAULT_DATA_DIR, "tokens.i32");

/**
 * Largest error of one row's KL or correct-token probability against float64. Measured on the
 * stories260K rows: 7.5e-8 (KL) and 1.9e-7 (probability) on wasm, 3.3e-8 on js. The mean,
 * min, max and every percentile move by at most the largest per-row error, so they share it.
 */
const ROW_TOLERANCE = 5e-7;
/** Relative error of the perplexities, exp(mean NLL): float32 NLLs of about 3 nats. */
const PERPLEXITY_RELATIVE_TOLERANCE = 1e-5;

const dir = mkdtempSync(join(tmpdir(), "logitkit-compare-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function writeTemp(name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

async function runCompare(kit: LogitKit, files: CompareFiles, rowsPerChunk = 256, temperature = 1, opener?: FileOpener): Promise<CompareResult> {
  const inputs = await openCompareInputs(files, opener);
  try {
    return await compareLogits(kit, inputs, { temperature, rowsPerChunk });
  } finally {
    await inputs.close();
  }
}

function expectSummaryClose(actual: Omit<ReferenceSummary, "standardError"> & { standardError: number | null }, expected: ReferenceSummary, tolerance: number): void {
  expect(actual.count).toBe(expected.count);
  expect(Math.abs(actual.mean - expected.mean)).toBeLessThanOrEqual(tolerance);
  expect(Math.abs((actual.standardError as number) - expected.standardError)).toBeLessThanOrEqual(tolerance);
  expect(Math.abs(actual.rms - expected.rms)).toBeLessThanOrEqual(tolerance);
  expect(Math.abs(actual.min - expected.min)).toBeLessThanOrEqual(tolerance);
  expect(Math.abs(actual.max - expected.max)).toBeLessThanOrEqual(tolerance);
  expect(Object.keys(actual.percentiles)).toEqual(["p99.9", "p99", "p95", "p90", "p50", "p10", "p5", "p1", "p0.1"]);
  for (const [p, value] of Object.entries(expected.percentiles)) {
    expect(Math.abs(actual.percentiles[p] - value), `percentile ${p}`).toBeLessThanOrEqual(tolerance);
  }
}

/** Checks every number of a result against the float64 reference. */
function expectMatchesReference(result: CompareResult, reference: ReferenceStats): void {
  expect(result.rows).toBe(ROWS);
  expect(result.classes).toBe(VOCAB);
  expect(result.invalidRows).toBe(0);
  expect(result.firstInvalidRow).toBeNull();

  const kl = result.kl;
  expect(kl).not.toBeNull();
  expectSummaryClose(kl!, reference.kl, ROW_TOLERANCE);
  expect(kl!.maxRow).toBe(reference.maxRow);
  expect(result.top1Agreeing).toBe(reference.top1Agreeing);
  expect(result.top1Agreement).toBe(reference.top1Agreeing / ROWS);

  const stats = result.tokenStats;
  expect(stats).not.toBeNull();
  expect(stats!.labelledRows).toBe(reference.labelledRows);
  expect(Math.abs(stats!.meanNllBase - reference.meanNllBase)).toBeLessThanOrEqual(1e-5);
  expect(Math.abs(stats!.meanNllTest - reference.meanNllTest)).toBeLessThanOrEqual(1e-5);
  expect(stats!.perplexityBase / Math.exp(reference.meanNllBase)).toBeCloseTo(1, -Math.log10(PERPLEXITY_RELATIVE_TOLERANCE));
  expect(stats!.perplexityTest / Math.exp(reference.meanNllTest)).toBeCloseTo(1, -Math.log10(PERPLEXITY_RELATIVE_TOLERANCE));
  expect(stats!.perplexityRatio / Math.exp(reference.meanNllTest - reference.meanNllBase)).toBeCloseTo(1, -Math.log10(PERPLEXITY_RELATIVE_TOLERANCE));
  expect(Math.abs(stats!.meanProbabilityBase - reference.meanProbabilityBase)).toBeLessThanOrEqual(ROW_TOLERANCE);
  expect(Math.abs(stats!.meanProbabilityTest - reference.meanProbabilityTest)).toBeLessThanOrEqual(ROW_TOLERANCE);
  expectSummaryClose(stats!.probabilityChange, reference.probabilityChange, ROW_TOLERANCE);
}

const rawFiles: CompareFiles = { base: TEACHER, test: STUDENT, tokens: TOKENS, vocab: VOCAB, sequenceLength: SEQUENCE_LENGTH };

describe("compareLogits on stories260K", () => {
  const reference = referenceStats(data.teacher, data.student, data.tokens, VOCAB, SEQUENCE_LENGTH);
  let wasm: LogitKit;
  let js: LogitKit;

  beforeAll(async () => {
    wasm = await loadLogitKit({ backend: "wasm" });
    js = await loadLogitKit({ backend: "js" });
  });

  it("reference has the expected shape", () => {
    // 8 sequences of 128 rows, each with a last row that has no next token.
    expect(reference.labelledRows).toBe(1016);
    expect(reference.kl.mean).toBeGreaterThan(0.01);
    expect(reference.top1Agreeing).toBeLessThan(ROWS);
  });

  it("wasm matches float64", async () => {
    expectMatchesReference(await runCompare(wasm, rawFiles), reference);
  });

  it("js matches float64", async () => {
    expectMatchesReference(await runCompare(js, rawFiles), reference);
  });

  it("temperature 2 matches float64", async () => {
    const reference2 = referenceStats(data.teacher, data.student, data.tokens, VOCAB, SEQUENCE_LENGTH, 2);
    const result = await runCompare(wasm, rawFiles, 256, 2);

    expectMatchesReference(result, reference2);
    expect(result.kl!.mean).toBeLessThan(reference.kl.mean);
  });

  it("chunk size does not change the result", async () => {
    const whole = await runCompare(wasm, rawFiles, ROWS);

    for (const rowsPerChunk of [1, 7, 127, 128, 129, 1000]) {
      expect(await runCompare(wasm, rawFiles, rowsPerChunk), `rowsPerChunk ${rowsPerChunk}`).toEqual(whole);
    }
  });

  it("one sequence without --seq-len", async () => {
    const result = await runCompare(js, { ...rawFiles, sequenceLength: undefined });

    // Only the last row lacks a next token; the other sequence ends then predict the next BOS.
    expect(result.tokenStats!.labelledRows).toBe(ROWS - 1);
  });

  it("without tokens reports KL and top-1 only", async () => {
    const result = await runCompare(js, { ...rawFiles, tokens: undefined, sequenceLength: undefined });

    expect(result.tokenStats).toBeNull();
    expect(result.top1Agreeing).toBe(reference.top1Agreeing);
    expect(Math.abs(result.kl!.mean - reference.kl.mean)).toBeLessThanOrEqual(ROW_TOLERANCE);
  });

  it("reads no more than one chunk per request", async () => {
    const requests = new Map<string, number[]>();
    const recordingOpener: FileOpener = async (path) => {
      const file = await openFile(path);
      const lengths: number[] = [];
      requests.set(path, lengths);
      return {
        size: file.size,
        read: (buffer, offset, length, position) => {
          lengths.push(length);
          return file.read(buffer, offset, length, position);
        },
        close: () => file.close(),
      };
    };
    const rowsPerChunk = 100;

    const result = await runCompare(wasm, rawFiles, rowsPerChunk, 1, recordingOpener);
    expectMatchesReference(result, reference);

    const chunkBytes = rowsPerChunk * VOCAB * 4;
    for (const path of [TEACHER, STUDENT]) {
      const lengths = requests.get(path)!;
      // Every byte is read once, in ceil(1024 / 100) = 11 requests after the raw-file check of 6 bytes.
      expect(Math.max(...lengths)).toBe(chunkBytes);
      expect(lengths.slice(1).reduce((sum, length) => sum + length, 0)).toBe(ROWS * VOCAB * 4);
      expect(lengths.length).toBe(1 + Math.ceil(ROWS / rowsPerChunk));
    }
    expect(Math.max(...requests.get(TOKENS)!)).toBeLessThanOrEqual((rowsPerChunk + 1) * 4);
  });
});

describe("compareLogits on written files", () => {
  let kit: LogitKit;
  let rawResult: CompareResult;

  beforeAll(async () => {
    kit = await loadLogitKit({ backend: "wasm" });
    rawResult = await runCompare(kit, rawFiles);
  });

  /** Writes the logits rounded to 16 bits, and the same values as raw float32. */
  function write16(name: string, toBits: (value: number) => number, toValue: (bits: number) => number) {
    const teacherBits = Array.from(data.teacher, toBits);
    const studentBits = Array.from(data.student, toBits);
    return {
      teacherBits,
      studentBits,
      rawTeacher: writeTemp(`${name}-teacher.f32`, float32Bytes(Float32Array.from(teacherBits, toValue))),
      rawStudent: writeTemp(`${name}-student.f32`, float32Bytes(Float32Array.from(studentBits, toValue))),
    };
  }

  const bfloat16Value = (bits: number) => new Float32Array(new Uint32Array([bits << 16]).buffer)[0];

  it("npy float32 equals the raw path exactly", async () => {
    const shape = [ROWS, VOCAB];
    const base = writeTemp("teacher.npy", npyBytes({ descr: "<f4", shape, data: float32Bytes(data.teacher) }));
    const test = writeTemp("student.npy", npyBytes({ descr: "<f4", shape, data: float32Bytes(data.student), version: 2 }));

    expect(await runCompare(kit, { ...rawFiles, base, test, vocab: undefined })).toEqual(rawResult);
  });

  it("npy of 3 dimensions sets the sequence length", async () => {
    const shape = [8, SEQUENCE_LENGTH, VOCAB];
    const base = writeTemp("teacher-3d.npy", npyBytes({ descr: "<f4", shape, data: float32Bytes(data.teacher), version: 3 }));
    const test = writeTemp("student-3d.npy", npyBytes({ descr: "<f4", shape, data: float32Bytes(data.student) }));

    expect(await runCompare(kit, { ...rawFiles, base, test, vocab: undefined, sequenceLength: undefined })).toEqual(rawResult);
  });

  it("npy float16 equals raw float32 of the same values", async () => {
    const files = write16("f16", float32ToHalfBitsTruncated, halfBitsValue);
    const shape = [ROWS, VOCAB];
    const base = writeTemp("teacher-f16.npy", npyBytes({ descr: "<f2", shape, data: uint16Bytes(files.teacherBits) }));
    const test = writeTemp("student-f16.npy", npyBytes({ descr: "<f2", shape, data: uint16Bytes(files.studentBits) }));

    const result = await runCompare(kit, { ...rawFiles, base, test, vocab: undefined });
    expect(result).toEqual(await runCompare(kit, { ...rawFiles, base: files.rawTeacher, test: files.rawStudent }));

    // Rounding the logits to 11 significant bits moves the mean KL of about 0.023 by well under 1%.
    expect(Math.abs(result.kl!.mean - rawResult.kl!.mean)).toBeLessThan(0.01 * rawResult.kl!.mean);
  });

  it("safetensors float32 equals the raw path exactly", async () => {
    const tensor = (values: Float32Array) => ({ dtype: "F32", shape: [ROWS, VOCAB], data: float32Bytes(values) });
    const base = writeTemp("teacher.safetensors", safetensorsBytes({ logits: tensor(data.teacher) }));
    const test = writeTemp("student.safetensors", safetensorsBytes({ logits: tensor(data.student), other: tensor(data.teacher) }));

    expect(await runCompare(kit, { ...rawFiles, base, test, vocab: undefined, tensor: "logits" })).toEqual(rawResult);
  });

  it("safetensors bfloat16 equals raw float32 of the same values", async () => {
    const files = write16("bf16", float32ToBfloat16BitsTruncated, bfloat16Value);
    const tensor = (bits: number[]) => ({ dtype: "BF16", shape: [ROWS, VOCAB], data: uint16Bytes(bits) });
    const base = writeTemp("teacher-bf16.safetensors", safetensorsBytes({ logits: tensor(files.teacherBits) }));
    const test = writeTemp("student-bf16.safetensors", safetensorsBytes({ logits: tensor(files.studentBits) }));

    const result = await runCompare(kit, { ...rawFiles, base, test, vocab: undefined });
    expect(result).toEqual(await runCompare(kit, { ...rawFiles, base: files.rawTeacher, test: files.rawStudent }));
    expect(result.kl!.mean).not.toBe(rawResult.kl!.mean);
  });

  it("raw bfloat16 equals raw float32 of the same values", async () => {
    const files = write16("bf16-raw", float32ToBfloat16BitsTruncated, bfloat16Value);
    const base = writeTemp("teacher.bf16", uint16Bytes(files.teacherBits));
    const test = writeTemp("student.bf16", uint16Bytes(files.studentBits));

    const result = await runCompare(kit, { ...rawFiles, base, test, baseDtype: "bf16", testDtype: "bf16" }, 3);
    expect(result).toEqual(await runCompare(kit, { ...rawFiles, base: files.rawTeacher, test: files.rawStudent }));

    const mixed = await runCompare(kit, { ...rawFiles, base: files.rawTeacher, test, baseDtype: "f32", testDtype: "bf16" });
    expect(mixed).toEqual(result);
  });

  it("infinite KL stays in the statistics", async () => {
    // Row 1 of TEST masks class 0, which BASE gives probability, so its KL is +Infinity.
    const base = Float32Array.from([0, 1, 0, 1, 2, 3, 2, 0, 0]);
    const test = Float32Array.from([0, 1, 1, -Infinity, 2, 3, 2, 0, 1]);
    const basePath = writeTemp("inf-base.f32", float32Bytes(base));
    const testPath = writeTemp("inf-test.f32", float32Bytes(test));
    const result = await runCompare(kit, { base: basePath, test: testPath, vocab: 3 });

    expect(result.invalidRows).toBe(0);
    expect(result.kl!.max).toBe(Infinity);
    expect(result.kl!.maxRow).toBe(1);
    expect(result.kl!.mean).toBe(Infinity);
    expect(result.kl!.standardError).toBeNaN();
    expect(result.kl!.percentiles.p99).toBe(Infinity);
    // The median and lower percentiles interpolate between the two finite rows.
    expect(result.kl!.percentiles.p50).toBeGreaterThan(0);
    expect(result.kl!.percentiles.p50).toBeLessThan(1);
    expect(result.kl!.percentiles["p0.1"]).toBeGreaterThanOrEqual(result.kl!.min);
  });

  it("rows with NaN or +Infinity are left out", async () => {
    const classes = 3;
    const base = Float32Array.from([1, 2, 3, NaN, 0, 0, 0, 1, 0, 5, 5, 5]);
    const test = Float32Array.from([1, 2, 3.5, 0, 0, 0, Infinity, 0, 0, 5, 5, 4]);
    const basePath = writeTemp("nan-base.f32", float32Bytes(base));
    const testPath = writeTemp("nan-test.f32", float32Bytes(test));
    const result = await runCompare(kit, { base: basePath, test: testPath, vocab: classes }, 2);
    const reference = referenceStats(base.subarray(0, 3), test.subarray(0, 3), new Int32Array(1), classes, 1);

    expect(result.invalidRows).toBe(2);
    expect(result.firstInvalidRow).toBe(1);
    expect(result.kl!.count).toBe(2);
    expect(result.kl!.maxRow).toBe(3);
    expect(result.kl!.min).toBeCloseTo(reference.kl.mean, 6);
    // Row 0 agrees on class 2; row 3 ties at class 0 in both.
    expect(result.top1Agreeing).toBe(2);
    expect(result.top1Agreement).toBe(1);
  });
});

describe("openCompareInputs", () => {
  it("rejects different shapes", async () => {
    const short = writeTemp("short.f32", float32Bytes(data.teacher.subarray(0, 100 * VOCAB)));

    await expect(openCompareInputs({ ...rawFiles, test: short })).rejects.toThrow(
      /BASE and TEST have different shapes: BASE 1024 rows x 512 vocab .*TEST 100 rows x 512 vocab/,
    );
  });

  it("rejects a sequence length that does not divide the rows", async () => {
    await expect(openCompareInputs({ ...rawFiles, sequenceLength: 100 })).rejects.toThrow(/sequence length 100 \(--seq-len\) does not divide the 1024 rows/);
  });
});

describe("resolveSequenceLength", () => {
  it("prefers --seq-len, then a shape, then all rows", () => {
    expect(resolveSequenceLength(12, 4, [{ source: "a", length: null }])).toBe(4);
    expect(resolveSequenceLength(12, undefined, [{ source: "a", length: null }, { source: "b", length: 6 }])).toBe(6);
    expect(resolveSequenceLength(12, undefined, [])).toBe(12);
  });

  it("rejects sources that disagree", () => {
    expect(() => resolveSequenceLength(12, 4, [{ source: "the shape of --tokens (2, 6)", length: 6 }])).toThrow(InputError);
    expect(() => resolveSequenceLength(12, 4, [{ source: "the shape of --tokens (2, 6)", length: 6 }])).toThrow(
      "the shape of --tokens (2, 6) sets a sequence length of 6, but --seq-len sets 4",
    );
  });
});

describe("summarize", () => {
  it("matches hand-computed values", () => {
    const summary = summarize(Float64Array.from([4, 1, 3, 2]))!;

    expect(summary.mean).toBe(2.5);
    // Sample variance 5/3, so the standard error is sqrt(5/3 / 4).
    expect(summary.standardError).toBeCloseTo(Math.sqrt(5 / 12), 15);
    expect(summary.rms).toBeCloseTo(Math.sqrt(30 / 4), 15);
    expect(summary.min).toBe(1);
    expect(summary.max).toBe(4);
    expect(summary.percentiles.p50).toBe(2.5);
    expect(summary.percentiles["p99.9"]).toBeCloseTo(1 + 3 * 0.999 * 1, 12);
    expect(summary.percentiles.p10).toBeCloseTo(1.3, 12);
  });

  it("has no standard error for one value and no summary for none", () => {
    expect(summarize(Float64Array.of(7))).toMatchObject({ count: 1, mean: 7, standardError: null, min: 7, max: 7 });
    expect(summarize(new Float64Array(0))).toBeNull();
  });

  it("keeps infinite percentiles finite where the neighbours are", () => {
    const sorted = Float64Array.of(0, 1, Infinity, Infinity);

    expect(percentileOfSorted(sorted, 99.9)).toBe(Infinity);
    expect(percentileOfSorted(sorted, 0)).toBe(0);
    expect(percentileOfSorted(sorted, 50)).toBe(Infinity);
    expect(percentileOfSorted(Float64Array.of(0, 1, 2), 25)).toBe(0.5);
  });
});
