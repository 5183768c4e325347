/**
 * Command-line options of the benchmark.
 */
import { DEFAULT_RANDOM_OPS, DEFAULT_REAL_OPS, OP_NAMES, OPS } from "./ops.js";

/**
 * Backend names accepted by `--backends`. `wasm-threads` is the wasm backend with a thread pool
 * of `--threads` threads, so tables show its speedup over one thread.
 */
export const BACKEND_NAMES = ["wasm", "js", "wasm-threads"] as const;
export type BenchBackend = (typeof BACKEND_NAMES)[number];

/** Backends timed when neither `--backends` nor `--threads` is given. */
export const DEFAULT_BACKENDS: readonly BenchBackend[] = ["wasm", "js"];

/** Threads of the `wasm-threads` backend when `--threads` is not given. */
export const DEFAULT_THREADS = 2;

/** Shape of a logit matrix. */
export interface Shape {
  rows: number;
  classes: number;
}

/** LLM-like shapes of the random logits: GPT-2 (50257), Llama 2 (32000) and Llama 3 (128256) vocabularies, and small ones. */
export const DEFAULT_SHAPES: readonly Shape[] = [
  { rows: 1, classes: 50257 },
  { rows: 8, classes: 50257 },
  { rows: 64, classes: 32000 },
  { rows: 4, classes: 128256 },
  { rows: 4096, classes: 10 },
  { rows: 1, classes: 8 },
];

export const DEFAULT_REPS = 15;
export const QUICK_REPS = 3;
export const DEFAULT_SEED = 1;

/** Parsed options of one run. */
export interface BenchOptions {
  /** Operations of the random-logit part. */
  randomOps: string[];
  /** Operations timed on the real logits. */
  realOps: string[];
  shapes: Shape[];
  reps: number;
  backends: BenchBackend[];
  /** Threads of the `wasm-threads` backend, the calling thread included. */
  threads: number;
  /** JSON output path as given, or undefined for the default path. */
  jsonPath: string | undefined;
  seed: number;
  real: boolean;
  quick: boolean;
  /** Whether the random-logit part also times the peer libraries (see `src/peers/peers.ts`). */
  peers: boolean;
}

/** Result of parsing: options to run with, or a request for the help text. */
export type ParsedArgs = { help: true } | { help: false; options: BenchOptions };

/** Invalid command line; the CLI prints the message and exits with code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Joins `items` with commas into lines of at most `width` characters, each after `indent`. */
function wrapList(items: readonly string[], indent: string, width = 92): string {
  const lines: string[] = [];
  let line = "";

  for (const item of items) {
    const candidate = line === "" ? item : `${line},${item}`;
    if (line !== "" && indent.length + candidate.length > width) {
      lines.push(`${line},`);
      line = item;
    } else {
      line = candidate;
    }
  }
  lines.push(line);
  return lines.map((text) => indent + text).join("\n");
}

/** Returns the help text, with units and defaults. */
export function helpText(): string {
  const shapes = DEFAULT_SHAPES.map(formatShape).join(",");
  const indent = " ".repeat(20);
  const opWidth = Math.max(...OPS.map((op) => op.name.length));
  const opLines = OPS.map((op) => `  ${op.name.padEnd(opWidth)}  ${op.call}`).join("\n");

  return `Usage: pnpm bench [options]        (in apps/bench: pnpm bench [options], or tsx src/cli.ts [options])

Times logitkit's operations on the wasm and js backends, on the real stories260K logits
(1024x512) and on random normal logits (standard deviation 3) of LLM-like shapes. Prints a
table and statistics of the real logits to stdout, progress to stderr, and writes the
results as JSON.

Options:
  --ops LIST        comma-separated operations to time in both parts (names below).
                    Default for the random logits:
${wrapList(DEFAULT_RANDOM_OPS, indent)}
                    Default for the real logits: every operation except logSumExp.
  --shapes LIST     comma-separated ROWSxCLASSES shapes of the random logits.
                    Default: ${shapes}
                    The real logits are always 1024x512 (skip them with --no-real).
  --reps N          timed runs per backend for each operation and shape, 1 to 1000000.
                    Default ${DEFAULT_REPS} (${QUICK_REPS} with --quick). Each run times enough calls to take
                    at least 2 ms (1 ms with --quick) and is divided by the call count.
  --backends LIST   comma-separated backends to time, from wasm,js,wasm-threads (the wasm
                    backend with a thread pool). Default wasm,js, or wasm,js,wasm-threads
                    when --threads is given.
  --threads N       threads of wasm-threads, the calling thread included, 2 to 128.
                    Default ${DEFAULT_THREADS}.
  --json PATH       file to write the JSON results to. A relative PATH starts from the
                    repository root under the root's \`pnpm bench\`, else from the current
                    directory. Default apps/bench/results/bench-<ISO timestamp>.json.
  --seed N          seed of the random logits and labels, an integer in [0, 4294967295].
                    Default ${DEFAULT_SEED}.
  --no-real         skip the real logits (their statistics and timings).
  --no-random       skip the random logits: time only the real logits.
  --peers           also time peer libraries on the random logits, for softmax, logSoftmax
                    and crossEntropy (and next to their uploaded and resident variants,
                    the same peer call): plainjs (plain JavaScript loops, the baseline of the
                    "vs plainjs" ratio), tfjs-wasm and tfjs-cpu (TensorFlow.js 4.22.0, kernel
                    and end-to-end variants) and onnxruntime-web (wasm, 1 thread; softmax and
                    logSoftmax only). A peer that fails to load is reported and skipped.
  --quick           smoke test: ${QUICK_REPS} timed runs, shorter warm-up and samples.
  -h, --help        print this help and exit.

Operations: "first" and "second" are the teacher and student logits of the real data, or two
independent random matrices; the labels are the next tokens, or uniform random classes.
${opLines}

Exit codes: 0 success, 1 failure (library not built, no backend loaded, an operation
failed), 2 invalid command line.
`;
}

/** Formats a shape as `ROWSxCLASSES`. */
export function formatShape(shape: Shape): string {
  return `${shape.rows}x${shape.classes}`;
}

function parseList(option: string, value: string, itemKind: string): string[] {
  const items = value.split(",").map((item) => item.trim());

  if (items.some((item) => item === "")) {
    throw new UsageError(`invalid ${option} value "${value}": expected a comma-separated list of ${itemKind} without empty items`);
  }
  return [...new Set(items)];
}

function parseOps(value: string): string[] {
  const names = parseList("--ops", value, "operations");

  for (const name of names) {
    if (!OP_NAMES.includes(name)) {
      throw new UsageError(`invalid --ops value: unknown operation "${name}", expected names from ${OP_NAMES.join(",")}`);
    }
  }
  return names;
}

/**
 * Largest rows x classes of one random shape: 1 GiB of float32 per matrix. A run keeps two input
 * matrices and the outputs, so a larger shape would need many GiB before any timing starts.
 */
export const MAX_SHAPE_LOGITS = 2 ** 28;

/** Parses `ROWSxCLASSES`, for example `8x50257`; both must be positive integers. */
export function parseShape(text: string): Shape {
  const match = /^(\d+)x(\d+)$/.exec(text);
  const rows = match === null ? NaN : Number(match[1]);
  const classes = match === null ? NaN : Number(match[2]);

  if (!Number.isSafeInteger(rows) || !Number.isSafeInteger(classes) || rows < 1 || classes < 1) {
    throw new UsageError(`invalid --shapes item "${text}": expected ROWSxCLASSES with positive integers, for example 8x50257`);
  }
  if (!Number.isSafeInteger(rows * classes) || rows * classes > MAX_SHAPE_LOGITS) {
    throw new UsageError(
      `invalid --shapes item "${text}": rows x classes = ${rows * classes} is too large, expected at most ${MAX_SHAPE_LOGITS} logits (1 GiB of float32)`,
    );
  }
  return { rows, classes };
}

/** Parses a decimal integer option value in [min, max]; throws a `UsageError` naming the option otherwise. */
export function parseInteger(option: string, value: string, min: number, max: number): number {
  const number = /^\d+$/.test(value) ? Number(value) : NaN;

  if (!Number.isSafeInteger(number) || number < min || number > max) {
    throw new UsageError(`invalid ${option} value "${value}": expected an integer from ${min} to ${max}`);
  }
  return number;
}

function parseBackends(value: string): BenchBackend[] {
  const names = parseList("--backends", value, "backends");

  for (const name of names) {
    if (!(BACKEND_NAMES as readonly string[]).includes(name)) {
      throw new UsageError(`invalid --backends value: unknown backend "${name}", expected names from ${BACKEND_NAMES.join(",")}`);
    }
  }
  // Keep the order of BACKEND_NAMES whatever the order given, so that tables list wasm first.
  return BACKEND_NAMES.filter((name) => names.includes(name));
}

/** Backends timed without `--backends`: wasm-threads joins the defaults when `--threads` is given. */
function defaultBackends(withThreads: boolean): BenchBackend[] {
  return withThreads ? [...BACKEND_NAMES] : [...DEFAULT_BACKENDS];
}

const VALUE_OPTIONS = ["--ops", "--shapes", "--reps", "--backends", "--threads", "--json", "--seed"] as const;
const FLAG_OPTIONS = ["--no-real", "--no-random", "--quick", "--peers", "--help", "-h"] as const;

/** Command line split into option values, flags and positional arguments, before any value is checked. */
export interface SplitArgs {
  /** Value of each value option, by name; the last occurrence wins. */
  values: Map<string, string>;
  /** Flags that were given; `-h` is stored as `--help`. */
  flags: Set<string>;
  /** Arguments that are not options, in order. */
  positionals: string[];
}

/**
 * Splits `argv` into options and positional arguments. Accepts `--option value` and
 * `--option=value`; a later occurrence of an option replaces an earlier one, and a bare `--`
 * (which pnpm may pass through) is skipped. Throws a `UsageError` for an unknown option, a flag
 * with a value, a missing value, or more than `maxPositionals` positional arguments.
 */
export function splitArgs(
  argv: readonly string[],
  valueOptions: readonly string[],
  flagOptions: readonly string[],
  maxPositionals = 0,
): SplitArgs {
  const values = new Map<string, string>();
  const flags = new Set<string>();
  const positionals: string[] = [];

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") {
      continue;
    }

    const equals = arg.indexOf("=");
    const name = arg.startsWith("--") && equals > 0 ? arg.slice(0, equals) : arg;

    if (flagOptions.includes(name)) {
      if (name !== arg) {
        throw new UsageError(`invalid option "${arg}": ${name} takes no value`);
      }
      flags.add(name === "-h" ? "--help" : name);
      continue;
    }

    if (!arg.startsWith("-") && positionals.length < maxPositionals) {
      positionals.push(arg);
      continue;
    }

    if (!valueOptions.includes(name)) {
      const kind = arg.startsWith("-") ? "unknown option" : "unexpected argument";
      throw new UsageError(`${kind} "${arg}": run with --help for the options`);
    }

    if (name !== arg) {
      values.set(name, arg.slice(equals + 1));
    } else if (i + 1 < argv.length && !argv[i + 1].startsWith("--")) {
      values.set(name, argv[i + 1]);
      i++;
    } else {
      throw new UsageError(`missing value for ${name}: run with --help for the expected value`);
    }
  }
  return { values, flags, positionals };
}

/**
 * Parses the arguments after the script name (see `splitArgs` for the accepted forms). Throws a
 * `UsageError` that names the option for any invalid input.
 */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const { values, flags } = splitArgs(argv, VALUE_OPTIONS, FLAG_OPTIONS);

  if (flags.has("--help")) {
    return { help: true };
  }

  const quick = flags.has("--quick");
  const ops = values.get("--ops");
  const shapes = values.get("--shapes");
  const reps = values.get("--reps");
  const backends = values.get("--backends");
  const threads = values.get("--threads");
  const seed = values.get("--seed");

  let repCount = quick ? QUICK_REPS : DEFAULT_REPS;
  if (reps !== undefined) {
    repCount = parseInteger("--reps", reps, 1, 1_000_000);
  }

  const options: BenchOptions = {
    randomOps: ops === undefined ? [...DEFAULT_RANDOM_OPS] : parseOps(ops),
    realOps: ops === undefined ? [...DEFAULT_REAL_OPS] : parseOps(ops),
    shapes: flags.has("--no-random")
      ? []
      : shapes === undefined
        ? DEFAULT_SHAPES.map((shape) => ({ ...shape }))
        : parseList("--shapes", shapes, "ROWSxCLASSES shapes").map(parseShape),
    reps: repCount,
    backends: backends !== undefined ? parseBackends(backends) : defaultBackends(threads !== undefined),
    threads: threads === undefined ? DEFAULT_THREADS : parseInteger("--threads", threads, 2, 128),
    jsonPath: values.get("--json"),
    seed: seed === undefined ? DEFAULT_SEED : parseInteger("--seed", seed, 0, 0xffffffff),
    real: !flags.has("--no-real"),
    quick,
    peers: flags.has("--peers"),
  };

  if (threads !== undefined && !options.backends.includes("wasm-threads")) {
    throw new UsageError(`invalid --threads value "${threads}": --backends ${backends} does not include wasm-threads, the backend it sets`);
  }
  if (!options.real && options.shapes.length === 0) {
    throw new UsageError("--no-real and --no-random leave nothing to time: drop one of them");
  }
  if (flags.has("--no-random") && shapes !== undefined) {
    throw new UsageError(`invalid --shapes value "${shapes}": --no-random skips the random logits that --shapes sets`);
  }
  if (options.jsonPath === "") {
    throw new UsageError('invalid --json value "": expected a file path');
  }
  return { help: false, options };
}
