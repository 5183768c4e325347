import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { DEFAULT_DATA_DIR, loadRealData } from "../src/data.js";
import { referenceStats, type ReferenceSummary } from "./compare-oracle.js";
import { float32Bytes, npyBytes } from "./logit-file-writers.js";

const appDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const TEACHER = join(DEFAULT_DATA_DIR, "teacher.f32");
const STUDENT = join(DEFAULT_DATA_DIR, "student-q8.f32");
const TOKENS = join(DEFAULT_DATA_DIR, "tokens.i32");
const STORIES_ARGS = [TEACHER, STUDENT, "--vocab", "512", "--tokens", TOKENS, "--seq-len", "128"];

/** Per-row error bound of the KL and probabilities against float64; see compare.test.ts for the measurement. */
const ROW_TOLERANCE = 5e-7;

const dir = mkdtempSync(join(tmpdir(), "logitkit-compare-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function runCompare(args: string[]) {
  // INIT_CWD is removed so that relative paths start from the app folder, as without pnpm.
  const env = { ...process.env };
  delete env.INIT_CWD;
  return spawnSync(process.execPath, ["--import", "tsx", "src/compare-cli.ts", ...args], { cwd: appDir, encoding: "utf8", env });
}

type JsonSummary = Omit<ReferenceSummary, "standardError"> & { standardError: number };

function expectSummaryClose(actual: JsonSummary, expected: ReferenceSummary): void {
  expect(actual.count).toBe(expected.count);
  for (const key of ["mean", "standardError", "rms", "min", "max"] as const) {
    expect(Math.abs(actual[key] - expected[key]), key).toBeLessThanOrEqual(ROW_TOLERANCE);
  }
  expect(Object.keys(actual.percentiles)).toEqual(Object.keys(expected.percentiles));
  for (const [p, value] of Object.entries(expected.percentiles)) {
    expect(Math.abs(actual.percentiles[p] - value), p).toBeLessThanOrEqual(ROW_TOLERANCE);
  }
}

describe("compare cli", () => {
  it("reports every statistic of stories260K as float64 does", () => {
    const data = loadRealData();
    const reference = referenceStats(data.teacher, data.student, data.tokens, 512, 128);
    const result = runCompare([...STORIES_ARGS, "--format", "json", "--backend", "wasm"]);

    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    const report = JSON.parse(result.stdout);

    expect(report).toMatchObject({
      backend: "wasm",
      threads: 1,
      temperature: 1,
      rowsPerChunk: 1024,
      rows: 1024,
      vocab: 512,
      base: { path: TEACHER, format: "raw", dtype: "f32", headerDtype: null, shape: [1024, 512], tensor: null },
      test: { path: STUDENT, format: "raw", dtype: "f32" },
      tokens: { path: TOKENS, format: "raw", dtype: "i32", count: 1024, sequenceLength: 128 },
      invalidRows: { count: 0, firstRow: null },
    });
    expect(report.command).toBe(`pnpm compare ${STORIES_ARGS.join(" ")} --format json --backend wasm`);

    expectSummaryClose(report.kl, reference.kl);
    expect(report.kl.maxRow).toBe(reference.maxRow);
    expect(report.top1Agreement).toEqual({ fraction: reference.top1Agreeing / 1024, agreeingRows: reference.top1Agreeing, rows: 1024 });

    const { perplexity } = report;
    expect(perplexity.rows).toBe(1016);
    expect(Math.abs(perplexity.meanNllBase - reference.meanNllBase)).toBeLessThanOrEqual(1e-5);
    expect(Math.abs(perplexity.meanNllTest - reference.meanNllTest)).toBeLessThanOrEqual(1e-5);
    expect(Math.abs(perplexity.base / Math.exp(reference.meanNllBase) - 1)).toBeLessThanOrEqual(1e-5);
    expect(Math.abs(perplexity.test / Math.exp(reference.meanNllTest) - 1)).toBeLessThanOrEqual(1e-5);
    expect(Math.abs(perplexity.ratio / Math.exp(reference.meanNllTest - reference.meanNllBase) - 1)).toBeLessThanOrEqual(1e-5);

    const probability = report.correctTokenProbability;
    expect(probability.rows).toBe(1016);
    expect(Math.abs(probability.meanBase - reference.meanProbabilityBase)).toBeLessThanOrEqual(ROW_TOLERANCE);
    expect(Math.abs(probability.meanTest - reference.meanProbabilityTest)).toBeLessThanOrEqual(ROW_TOLERANCE);
    expectSummaryClose(probability.change, reference.probabilityChange);
  });

  it("prints the table and writes the JSON to --json", () => {
    const jsonPath = join(dir, "report.json");
    const result = runCompare([...STORIES_ARGS, "--json", jsonPath, "--rows-per-chunk", "100"]);
    const report = JSON.parse(readFileSync(jsonPath, "utf8"));

    expect(result.status).toBe(0);
    expect(result.stderr).toBe("");
    expect(report.rowsPerChunk).toBe(100);
    expect(result.stdout).toContain("statistic       KL(base ‖ test), nats  p_test - p_base of the correct token");
    expect(result.stdout).toMatch(new RegExp(`^mean +${report.kl.mean.toPrecision(5)} +${report.correctTokenProbability.change.mean.toPrecision(5)}$`, "m"));
    expect(result.stdout).toMatch(/^median +\S+ +\S+$/m);
    expect(result.stdout).toMatch(/^99\.9% +\S+ +\S+$/m);
    expect(result.stdout).toContain("Percentiles: exact, from every row's value.");
    expect(result.stdout).toContain(`Max KL at row ${report.kl.maxRow}.`);
    expect(result.stdout).toContain(`(${report.top1Agreement.agreeingRows} of 1024 rows with the same argmax)`);
    expect(result.stdout).toContain(`Perplexity over 1016 rows with a correct token: base ${report.perplexity.base.toPrecision(5)}`);
  });

  it("reports histogram percentiles with --percentiles histogram", () => {
    const result = runCompare([...STORIES_ARGS, "--percentiles", "histogram", "--format", "json"]);
    const exactResult = runCompare([...STORIES_ARGS, "--format", "json"]);
    const table = runCompare([...STORIES_ARGS, "--percentiles", "histogram"]);

    expect(result.status).toBe(0);
    const report = JSON.parse(result.stdout);
    const exact = JSON.parse(exactResult.stdout);
    for (const [summary, exactSummary] of [
      [report.kl, exact.kl],
      [report.correctTokenProbability.change, exact.correctTokenProbability.change],
    ]) {
      expect(summary.percentileMethod).toBe("histogram");
      expect(summary.percentileRelativeError).toBe(2 ** -11);
      expect(exactSummary.percentileMethod).toBe("exact");
      expect(exactSummary.percentileRelativeError).toBe(0);
      expect(summary.mean).toBe(exactSummary.mean);
      // Every stories260K percentile has neighbours of one sign, so the bound is relative to it.
      for (const [p, value] of Object.entries<number>(exactSummary.percentiles)) {
        expect(Math.abs(summary.percentiles[p] - value), p).toBeLessThanOrEqual(2 ** -11 * Math.abs(value) + 2 ** -40);
      }
    }
    expect(table.stdout).toContain("Percentiles: histogram, relative error <= 4.8828e-4 (--percentiles exact sorts every row's value instead).");
    expect(exactResult.status).toBe(0);
  });

  it("prints progress with --progress", () => {
    const result = runCompare([...STORIES_ARGS, "--rows-per-chunk", "512", "--progress", "--format", "json"]);

    expect(result.status).toBe(0);
    expect(result.stderr).toBe("compare: 512 of 1024 rows (50%)\ncompare: 1024 of 1024 rows (100%)\n");
  });

  it("prints the help and exits 0", () => {
    const result = runCompare(["--help"]);

    expect(result.status).toBe(0);
    expect(result.stdout).toContain("Usage: pnpm compare BASE TEST [options]");
  });

  it.each([
    [["a.npy"], "error: missing TEST: expected two logits files"],
    [[TEACHER, STUDENT], `error: missing --vocab: ${TEACHER} and ${STUDENT} are raw files`],
    [[...STORIES_ARGS, "--dtype", "f8"], 'error: invalid --dtype value "f8": expected one of f32, f16, bf16'],
    [[...STORIES_ARGS, "--json", join(dir, "missing-folder", "report.json")], "error: --json: cannot write the JSON report to"],
  ])("exits 2 on %j", (args, message) => {
    const result = runCompare(args);

    expect(result.status).toBe(2);
    expect(result.stderr).toContain(message);
    expect(result.stdout).toBe("");
  });

  it("exits 2 on a chunk above 1 GiB", () => {
    // A sparse file of 2^18 + 1 rows of 1024 float32 logits takes no disk space and is never read.
    const huge = join(dir, "huge.f32");
    writeFileSync(huge, "");
    truncateSync(huge, (2 ** 18 + 1) * 1024 * 4);
    const result = runCompare([huge, huge, "--vocab", "1024", "--rows-per-chunk", "262145"]);

    expect(result.status).toBe(2);
    expect(result.stderr).toBe(
      'error: invalid --rows-per-chunk value "262145": 262145 rows x 1024 vocab = 268436480 logits per chunk, expected at most 268435456 (1 GiB of float32)\n',
    );
  });

  it("exits 1 on a missing file", () => {
    const missing = join(dir, "missing.f32");
    const result = runCompare([TEACHER, missing, "--vocab", "512"]);

    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^error: TEST ${missing}: cannot open the file: ENOENT`));
    expect(result.stdout).toBe("");
  });

  it("exits 1 on mismatched shapes and token counts", () => {
    const npy = join(dir, "short.npy");
    writeFileSync(npy, npyBytes({ descr: "<f4", shape: [2, 512], data: float32Bytes(new Float32Array(1024)) }));
    const mismatched = runCompare([TEACHER, npy, "--vocab", "512"]);

    expect(mismatched.status).toBe(1);
    expect(mismatched.stderr).toContain("error: BASE and TEST have different shapes: BASE 1024 rows x 512 vocab");

    // With --vocab 256 both files read as 2048 rows, which the 1024 tokens do not cover.
    const withTokens = runCompare([TEACHER, STUDENT, "--vocab", "256", "--tokens", TOKENS]);
    expect(withTokens.status).toBe(1);
    expect(withTokens.stderr).toContain("the file has 1024 tokens, expected 2048, one per row of logits");
  });

  it("exits 1 on a truncated file and an unknown dtype", () => {
    const truncated = join(dir, "truncated.npy");
    const float64 = join(dir, "float64.npy");
    const bytes = npyBytes({ descr: "<f4", shape: [1024, 512], data: new Uint8Array(1024 * 512 * 4) });
    writeFileSync(truncated, bytes.subarray(0, bytes.length - 100));
    writeFileSync(float64, npyBytes({ descr: "<f8", shape: [1024, 512], data: new Uint8Array(1024 * 512 * 8) }));

    const truncatedResult = runCompare([truncated, STUDENT, "--vocab", "512"]);
    expect(truncatedResult.status).toBe(1);
    expect(truncatedResult.stderr).toContain(`error: BASE ${truncated}: the file is truncated: it has 2097052 bytes of data, expected 2097152`);

    const float64Result = runCompare([TEACHER, float64, "--vocab", "512"]);
    expect(float64Result.status).toBe(1);
    expect(float64Result.stderr).toContain(`error: TEST ${float64}: unsupported .npy dtype '<f8'`);
  });
});
