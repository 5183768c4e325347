import { describe, expect, it } from "vitest";
import { DEFAULT_REPS, DEFAULT_SEED, DEFAULT_SHAPES, QUICK_REPS, helpText, parseArgs, parseShape, UsageError } from "../src/args.js";
import { DEFAULT_RANDOM_OPS, DEFAULT_REAL_OPS, OP_NAMES } from "../src/ops.js";

function parseOptions(argv: string[]) {
  const parsed = parseArgs(argv);
  if (parsed.help) {
    throw new Error("expected options, got a help request");
  }
  return parsed.options;
}

function usageErrorOf(argv: string[]): UsageError {
  try {
    parseArgs(argv);
  } catch (error) {
    if (error instanceof UsageError) {
      return error;
    }
    throw error;
  }
  throw new Error(`expected a UsageError for ${JSON.stringify(argv)}`);
}

describe("parseArgs", () => {
  it("returns the defaults without arguments", () => {
    const options = parseOptions([]);

    expect(options.randomOps).toEqual([...DEFAULT_RANDOM_OPS]);
    expect(options.realOps).toEqual([...DEFAULT_REAL_OPS]);
    expect(options.shapes).toEqual(DEFAULT_SHAPES);
    expect(options.reps).toBe(DEFAULT_REPS);
    expect(options.reps).toBeGreaterThanOrEqual(15);
    expect(options.backends).toEqual(["wasm", "js"]);
    expect(options.jsonPath).toBeUndefined();
    expect(options.seed).toBe(DEFAULT_SEED);
    expect(options.real).toBe(true);
    expect(options.quick).toBe(false);
    expect(options.peers).toBe(false);
  });

  it("parses --peers", () => {
    expect(parseOptions(["--peers"]).peers).toBe(true);
    expect(parseOptions(["--quick", "--peers", "--no-real"])).toMatchObject({ peers: true, quick: true, real: false });
  });

  it("skips the random logits with --no-random", () => {
    expect(parseOptions(["--no-random"])).toMatchObject({ shapes: [], real: true });
  });

  it("rejects a value for --peers", () => {
    expect(usageErrorOf(["--peers=yes"]).message).toBe('invalid option "--peers=yes": --peers takes no value');
  });

  it("default shapes are the LLM-like ones", () => {
    expect(DEFAULT_SHAPES.map((shape) => `${shape.rows}x${shape.classes}`)).toEqual([
      "1x50257",
      "8x50257",
      "64x32000",
      "4x128256",
      "4096x10",
      "1x8",
    ]);
  });

  it("default real ops cover every loss", () => {
    for (const name of ["softmax", "logSoftmax", "entropyOfLogitsWithGrad", "crossEntropyWithGrad", "klDivergenceWithGradT2", "jsDivergenceWithGrad", "distillationLossWithGrad"]) {
      expect(DEFAULT_REAL_OPS).toContain(name);
    }
  });

  it("reads every option in both forms", () => {
    const options = parseOptions([
      "--ops",
      "softmax,klDivergenceWithGrad",
      "--shapes=8x50257,1x8",
      "--reps",
      "20",
      "--backends=js",
      "--json",
      "out/results.json",
      "--seed=7",
      "--no-real",
    ]);

    expect(options.randomOps).toEqual(["softmax", "klDivergenceWithGrad"]);
    expect(options.realOps).toEqual(["softmax", "klDivergenceWithGrad"]);
    expect(options.shapes).toEqual([
      { rows: 8, classes: 50257 },
      { rows: 1, classes: 8 },
    ]);
    expect(options.reps).toBe(20);
    expect(options.backends).toEqual(["js"]);
    expect(options.jsonPath).toBe("out/results.json");
    expect(options.seed).toBe(7);
    expect(options.real).toBe(false);
  });

  it("quick lowers the default reps only", () => {
    expect(parseOptions(["--quick"]).reps).toBe(QUICK_REPS);
    expect(parseOptions(["--quick", "--reps", "30"]).reps).toBe(30);
    expect(parseOptions(["--quick"]).quick).toBe(true);
  });

  it("skips a bare double dash", () => {
    expect(parseOptions(["--", "--reps", "16"]).reps).toBe(16);
  });

  it("adds wasm-threads with --threads", () => {
    const options = parseOptions(["--threads", "3"]);
    expect(options.backends).toEqual(["wasm", "js", "wasm-threads"]);
    expect(options.threads).toBe(3);
    expect(parseOptions(["--threads", "3", "--backends", "wasm-threads,wasm"]).backends).toEqual(["wasm", "wasm-threads"]);
    expect(parseOptions([]).threads).toBe(2);
  });

  it("lists backends wasm first and drops duplicates", () => {
    expect(parseOptions(["--backends", "js,wasm,js"]).backends).toEqual(["wasm", "js"]);
    expect(parseOptions(["--ops", "softmax,softmax"]).randomOps).toEqual(["softmax"]);
  });

  it("returns a help request", () => {
    expect(parseArgs(["--help"])).toEqual({ help: true });
    expect(parseArgs(["--reps", "20", "-h"])).toEqual({ help: true });
  });

  it("help text names every option with its default", () => {
    const text = helpText();

    for (const option of ["--ops", "--shapes", "--reps", "--json", "--backends", "--threads", "--seed", "--no-real", "--no-random", "--quick", "--peers", "--help"]) {
      expect(text).toContain(option);
    }
    expect(text).toContain("Default 15");
    expect(text).toContain("1x50257,8x50257,64x32000,4x128256,4096x10,1x8");
    for (const name of OP_NAMES) {
      expect(text).toContain(`  ${name} `);
    }
  });

  it.each([
    [["--bogus"], /unknown option "--bogus"/],
    [["extra"], /unexpected argument "extra"/],
    [["--reps"], /missing value for --reps/],
    [["--reps", "--quick"], /missing value for --reps/],
    [["--reps", "0"], /invalid --reps value "0": expected an integer from 1/],
    [["--reps", "2.5"], /invalid --reps value "2.5"/],
    [["--reps=abc"], /invalid --reps value "abc"/],
    [["--reps", "-3"], /missing value for --reps|invalid --reps value/],
    [["--ops", "softmax,bogus"], /invalid --ops value: unknown operation "bogus", expected names from softmax,/],
    [["--ops", "softmax,,logSoftmax"], /invalid --ops value .*without empty items/],
    [["--shapes", "8x"], /invalid --shapes item "8x": expected ROWSxCLASSES/],
    [["--shapes", "0x10"], /invalid --shapes item "0x10"/],
    [["--shapes", "8*10"], /invalid --shapes item "8\*10"/],
    [["--backends", "gpu"], /invalid --backends value: unknown backend "gpu", expected names from wasm,js,wasm-threads/],
    [["--threads", "1"], /invalid --threads value "1": expected an integer from 2 to 128/],
    [["--threads", "two"], /invalid --threads value "two": expected an integer from 2 to 128/],
    [["--threads", "4", "--backends", "wasm"], /invalid --threads value "4": --backends wasm does not include wasm-threads/],
    [["--seed", "4294967296"], /invalid --seed value "4294967296": expected an integer from 0 to 4294967295/],
    [["--json="], /invalid --json value ""/],
    [["--quick=yes"], /--quick takes no value/],
    [["--no-random", "--no-real"], /--no-real and --no-random leave nothing to time/],
    [["--no-random", "--shapes", "8x8"], /invalid --shapes value "8x8": --no-random skips the random logits/],
    [["--shapes", "1x2147483648"], /invalid --shapes item "1x2147483648": rows x classes = 2147483648 is too large, expected at most 268435456/],
  ])("rejects %j", (argv, message) => {
    expect(usageErrorOf(argv).message).toMatch(message);
  });
});

describe("parseShape", () => {
  it("reads rows and classes", () => {
    expect(parseShape("64x32000")).toEqual({ rows: 64, classes: 32000 });
  });

  it("rejects a shape too large to index", () => {
    expect(() => parseShape("99999999999x99999999999")).toThrow(/too large/);
  });

  it("accepts the largest allowed shape", () => {
    expect(parseShape("4096x65536")).toEqual({ rows: 4096, classes: 65536 });
    expect(() => parseShape("4097x65536")).toThrow(/too large, expected at most 268435456 logits/);
  });
});
