import { describe, expect, it } from "vitest";
import { UsageError } from "../src/args.js";
import { compareHelpText, parseCompareArgs } from "../src/compare-args.js";

function parseOptions(argv: string[]) {
  const parsed = parseCompareArgs(argv);
  if (parsed.help) {
    throw new Error("expected options, got a help request");
  }
  return parsed.options;
}

function usageErrorOf(argv: string[]): UsageError {
  try {
    parseCompareArgs(argv);
  } catch (error) {
    if (error instanceof UsageError) {
      return error;
    }
    throw error;
  }
  throw new Error(`expected a UsageError for ${JSON.stringify(argv)}`);
}

describe("parseCompareArgs", () => {
  it("returns the defaults", () => {
    expect(parseOptions(["a.npy", "b.npy"])).toEqual({
      basePath: "a.npy",
      testPath: "b.npy",
      vocab: undefined,
      baseDtype: undefined,
      testDtype: undefined,
      tensor: undefined,
      tokensPath: undefined,
      sequenceLength: undefined,
      temperature: 1,
      rowsPerChunk: undefined,
      percentiles: "auto",
      backend: "auto",
      threads: 1,
      format: "table",
      jsonPath: undefined,
      progress: false,
    });
  });

  it("reads every option in both forms, before and after the files", () => {
    const options = parseOptions([
      "--vocab",
      "512",
      "base.bin",
      "--dtype=bf16",
      "test.safetensors",
      "--tensor",
      "logits",
      "--tokens=tokens.npy",
      "--seq-len",
      "128",
      "--temperature",
      "0.5e1",
      "--rows-per-chunk=64",
      "--percentiles",
      "histogram",
      "--backend",
      "wasm",
      "--threads",
      "2",
      "--format",
      "json",
      "--json",
      "out.json",
      "--progress",
    ]);

    expect(options).toEqual({
      basePath: "base.bin",
      testPath: "test.safetensors",
      vocab: 512,
      baseDtype: "bf16",
      testDtype: "bf16",
      tensor: "logits",
      tokensPath: "tokens.npy",
      sequenceLength: 128,
      temperature: 5,
      rowsPerChunk: 64,
      percentiles: "histogram",
      backend: "wasm",
      threads: 2,
      format: "json",
      jsonPath: "out.json",
      progress: true,
    });
  });

  it("reads a dtype for each file", () => {
    expect(parseOptions(["a.f32", "b.bf16", "--vocab", "8", "--dtype", "f32,bf16"])).toMatchObject({ baseDtype: "f32", testDtype: "bf16" });
  });

  it("returns a help request", () => {
    expect(parseCompareArgs(["--help"])).toEqual({ help: true });
    expect(parseCompareArgs(["a.npy", "-h"])).toEqual({ help: true });
  });

  it("help text names every option", () => {
    const text = compareHelpText();

    for (const option of ["--vocab", "--dtype", "--tensor", "--tokens", "--seq-len", "--temperature", "--rows-per-chunk", "--percentiles", "--backend", "--threads", "--format", "--json", "--progress", "--help"]) {
      expect(text).toContain(option);
    }
    expect(text).toContain("Exit codes: 0 success, 1 failure");
  });

  it.each([
    [[], /missing BASE and TEST: expected two logits files/],
    [["a.npy"], /missing TEST: expected two logits files/],
    [["a.npy", "b.npy", "c.npy"], /unexpected argument "c.npy"/],
    [["a.f32", "b.npy"], /missing --vocab: a.f32 is a raw file \(not .npy or .safetensors\)/],
    [["a.f32", "b.bin"], /missing --vocab: a.f32 and b.bin are raw files/],
    [["a.npy", "b.npy", "--vocab", "0"], /invalid --vocab value "0": expected an integer from 1 to 1073741824/],
    [["a.npy", "b.npy", "--dtype", "f64"], /invalid --dtype value "f64": expected one of f32, f16, bf16/],
    [["a.npy", "b.npy", "--dtype", "f32,"], /invalid --dtype value "": expected one of f32, f16, bf16/],
    [["a.npy", "b.npy", "--dtype", "f32,f16,bf16"], /invalid --dtype value "f32,f16,bf16": expected TYPE or BASE_TYPE,TEST_TYPE/],
    [["a.npy", "b.npy", "--tensor", "x"], /invalid --tensor value "x": neither BASE nor TEST is a .safetensors file/],
    [["a.npy", "b.npy", "--seq-len", "128"], /invalid --seq-len value "128": it sets how rows map to --tokens, which is missing/],
    [["a.npy", "b.npy", "--temperature", "0"], /invalid --temperature value "0": expected a number from 1e-30 to 1e18/],
    [["a.npy", "b.npy", "--temperature", "-1"], /invalid --temperature value "-1"/],
    [["a.npy", "b.npy", "--temperature", "warm"], /invalid --temperature value "warm"/],
    [["a.npy", "b.npy", "--rows-per-chunk", "0"], /invalid --rows-per-chunk value "0": expected an integer from 1/],
    [["a.npy", "b.npy", "--percentiles", "approximate"], /invalid --percentiles value "approximate": expected one of auto, exact, histogram/],
    [["a.npy", "b.npy", "--percentiles="], /invalid --percentiles value "": expected a value/],
    [["a.npy", "b.npy", "--backend", "gpu"], /invalid --backend value "gpu": expected one of auto, wasm, js/],
    [["a.npy", "b.npy", "--threads", "0"], /invalid --threads value "0": expected an integer from 1 to 128/],
    [["a.npy", "b.npy", "--threads", "2", "--backend", "js"], /invalid --threads value "2": the js backend runs on one thread/],
    [["a.npy", "b.npy", "--format", "csv"], /invalid --format value "csv": expected one of table, json/],
    [["a.npy", "b.npy", "--json="], /invalid --json value "": expected a value/],
    [["a.npy", "b.npy", "--tokens"], /missing value for --tokens/],
    [["a.npy", "b.npy", "--progress=yes"], /--progress takes no value/],
    [["a.npy", "b.npy", "--fast"], /unknown option "--fast"/],
  ])("rejects %j", (argv, message) => {
    expect(usageErrorOf(argv).message).toMatch(message);
  });
});
