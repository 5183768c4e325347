/**
 * Command-line options of `pnpm compare`, the report of how far a test model's logits are from
 * a base model's.
 */
import { parseInteger, splitArgs, UsageError } from "./args.js";
import { EXACT_PERCENTILE_MAX_ROWS, PERCENTILE_MODES, type PercentileMode } from "./compare.js";
import { formatOfPath, LOGIT_DTYPES, type LogitDtype } from "./logit-files.js";
import { HISTOGRAM_RELATIVE_ERROR } from "./value-histogram.js";

export const COMPARE_BACKENDS = ["auto", "wasm", "js"] as const;
export type CompareBackend = (typeof COMPARE_BACKENDS)[number];

export const OUTPUT_FORMATS = ["table", "json"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/**
 * Bytes of float32 logits per file in one chunk when `--rows-per-chunk` is not given. A run
 * keeps a few chunks of this size: one per file and their copies in WebAssembly memory.
 */
export const DEFAULT_CHUNK_BYTES = 16 * 1024 * 1024;

/** Temperature range of the library's functions. */
const MIN_TEMPERATURE = 1e-30;
const MAX_TEMPERATURE = 1e18;

/** Largest `--vocab`: 2^30 float32 logits are 4 GiB, the limit of WebAssembly memory. */
const MAX_VOCAB = 2 ** 30;

export interface CompareOptions {
  basePath: string;
  testPath: string;
  vocab: number | undefined;
  /** `--dtype` of BASE and of TEST: one value for both, or BASE_TYPE,TEST_TYPE. */
  baseDtype: LogitDtype | undefined;
  testDtype: LogitDtype | undefined;
  tensor: string | undefined;
  tokensPath: string | undefined;
  sequenceLength: number | undefined;
  temperature: number;
  /** Rows per chunk, or undefined for as many as fit in `DEFAULT_CHUNK_BYTES`. */
  rowsPerChunk: number | undefined;
  percentiles: PercentileMode;
  backend: CompareBackend;
  threads: number;
  format: OutputFormat;
  jsonPath: string | undefined;
  /** Whether to print progress to stderr even when it is not a terminal. */
  progress: boolean;
}

export type ParsedCompareArgs = { help: true } | { help: false; options: CompareOptions };

export function compareHelpText(): string {
  return `Usage: pnpm compare BASE TEST [options]   (in apps/bench: pnpm compare, or tsx src/compare-cli.ts)

Compares the next-token distributions of two models on the same rows of logits, such as a
model (BASE) and its quantized copy (TEST), and prints: KL(base ‖ test) per row (mean,
standard error, max, percentiles), top-1 agreement, and with --tokens the perplexity of both
models and the change in the probability of the correct token. Files are read in chunks of
rows, so memory does not grow with rows x vocabulary, and with --percentiles auto (the
default) the per-row values that exact percentiles need take at most 16 MiB.

BASE and TEST hold rows x vocab logits, row-major, in the same layout:
  *.npy          C order, 2 or more dimensions, the last one the vocabulary; dtype '<f4',
                 '<f2', or '<u2' / '<V2' / '|V2' holding bfloat16 (with --dtype bf16).
  *.safetensors  tensor of dtype F32, F16 or BF16, 2 or more dimensions.
  anything else  raw little-endian values without a header; needs --vocab.

Options:
  --vocab N            logits per row, 1 to ${MAX_VOCAB}. Required for raw files; checked
                       against the header of the others.
  --dtype TYPE         f32, f16 or bf16: the element type of raw files (default f32) and of
                       .npy files stored as '<u2', '<V2' or '|V2' (bf16). Checked against
                       the header of the others. BASE_TYPE,TEST_TYPE sets each file's type,
                       for example f32,bf16.
  --tensor NAME        tensor to read from each safetensors file. Default: the file's only one.
  --tokens FILE        tokens, one per row: raw little-endian int32, or .npy of '<i4' or '<i8'.
                       Token r is the input at row r, so the correct token of row r is token
                       r + 1 of the same sequence; the last row of each sequence has none.
  --seq-len N          tokens per sequence, when the rows hold several sequences back to back;
                       must divide the rows. Default: the length of a tokens .npy of shape
                       (sequences, length), or the next-to-last dimension of logits with 3 or
                       more dimensions; else the whole file is one sequence.
  --temperature T      divide the logits by T before every statistic, 1e-30 to 1e18.
                       Default 1.
  --rows-per-chunk N   rows read and computed at once, 1 to 2147483647, and at most 2^28
                       logits (1 GiB of float32) per chunk. Default: as many as fit in
                       ${DEFAULT_CHUNK_BYTES / 1024 / 1024} MiB of float32 per file (at least 1).
  --percentiles MODE   how the percentiles are computed: exact (sorts every row's values,
                       16 bytes per row), histogram (fixed 1.6 MB, relative error at most
                       ${HISTOGRAM_RELATIVE_ERROR.toExponential(1)}) or auto (exact up to ${EXACT_PERCENTILE_MAX_ROWS} rows, else
                       histogram). Default auto. The mean, standard error, RMS, min and max
                       do not depend on the mode.
  --backend NAME       logitkit backend: auto (wasm where WebAssembly SIMD works), wasm or js.
                       Default auto.
  --threads N          threads of the wasm backend, the calling thread included, 1 to 128.
                       Default 1.
  --format FORMAT      stdout format: table (default) or json.
  --json FILE          also write the JSON report to FILE. A relative path starts from the
                       directory where pnpm was started.
  --progress           print progress to stderr even when it is not a terminal.
  -h, --help           print this help and exit.

Exit codes: 0 success, 1 failure (a file is missing or invalid, the shapes differ, the library
fails to load), 2 invalid command line.
`;
}

function parseChoice<T extends string>(option: string, value: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(value)) {
    throw new UsageError(`invalid ${option} value "${value}": expected one of ${choices.join(", ")}`);
  }
  return value as T;
}

function parseTemperature(value: string): number {
  const number = /^(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(value) ? Number(value) : NaN;

  if (!(number >= MIN_TEMPERATURE && number <= MAX_TEMPERATURE)) {
    throw new UsageError(`invalid --temperature value "${value}": expected a number from 1e-30 to 1e18`);
  }
  return number;
}

/** Parses `--dtype TYPE` (both files) or `--dtype BASE_TYPE,TEST_TYPE`. */
function parseDtypes(value: string): [LogitDtype, LogitDtype] {
  const items = value.split(",");
  if (items.length > 2) {
    throw new UsageError(`invalid --dtype value "${value}": expected TYPE or BASE_TYPE,TEST_TYPE with types from ${LOGIT_DTYPES.join(", ")}`);
  }

  const types = items.map((item) => parseChoice("--dtype", item, LOGIT_DTYPES));
  return [types[0], types[types.length - 1]];
}

const VALUE_OPTIONS = [
  "--vocab",
  "--dtype",
  "--tensor",
  "--tokens",
  "--seq-len",
  "--temperature",
  "--rows-per-chunk",
  "--percentiles",
  "--backend",
  "--threads",
  "--format",
  "--json",
] as const;
const FLAG_OPTIONS = ["--progress", "--help", "-h"] as const;

/**
 * Parses the arguments after the script name: the BASE and TEST paths and the options, in
 * any order. Throws a `UsageError` that names the argument for any invalid input.
 */
export function parseCompareArgs(argv: readonly string[]): ParsedCompareArgs {
  const { values, flags, positionals } = splitArgs(argv, VALUE_OPTIONS, FLAG_OPTIONS, 2);
  if (flags.has("--help")) {
    return { help: true };
  }

  if (positionals.length < 2) {
    const missing = positionals.length === 0 ? "BASE and TEST" : "TEST";
    throw new UsageError(`missing ${missing}: expected two logits files, BASE TEST (run with --help for the formats)`);
  }
  for (const [option, value] of values) {
    if (value === "") {
      throw new UsageError(`invalid ${option} value "": expected a value (run with --help)`);
    }
  }

  const optional = <T>(option: string, parse: (value: string) => T): T | undefined => {
    const value = values.get(option);
    return value === undefined ? undefined : parse(value);
  };
  const [basePath, testPath] = positionals;
  const dtypes = optional("--dtype", parseDtypes);

  const options: CompareOptions = {
    basePath,
    testPath,
    vocab: optional("--vocab", (value) => parseInteger("--vocab", value, 1, MAX_VOCAB)),
    baseDtype: dtypes?.[0],
    testDtype: dtypes?.[1],
    tensor: values.get("--tensor"),
    tokensPath: values.get("--tokens"),
    sequenceLength: optional("--seq-len", (value) => parseInteger("--seq-len", value, 1, 2 ** 31 - 1)),
    temperature: optional("--temperature", parseTemperature) ?? 1,
    rowsPerChunk: optional("--rows-per-chunk", (value) => parseInteger("--rows-per-chunk", value, 1, 2 ** 31 - 1)),
    percentiles: optional("--percentiles", (value) => parseChoice("--percentiles", value, PERCENTILE_MODES)) ?? "auto",
    backend: optional("--backend", (value) => parseChoice("--backend", value, COMPARE_BACKENDS)) ?? "auto",
    threads: optional("--threads", (value) => parseInteger("--threads", value, 1, 128)) ?? 1,
    format: optional("--format", (value) => parseChoice("--format", value, OUTPUT_FORMATS)) ?? "table",
    jsonPath: values.get("--json"),
    progress: flags.has("--progress"),
  };

  const rawPaths = [basePath, testPath].filter((path) => formatOfPath(path) === "raw");
  if (rawPaths.length > 0 && options.vocab === undefined) {
    throw new UsageError(
      `missing --vocab: ${rawPaths.join(" and ")} ${rawPaths.length === 1 ? "is a raw file" : "are raw files"} ` +
        "(not .npy or .safetensors), which need the number of logits per row",
    );
  }
  if (options.tensor !== undefined && ![basePath, testPath].some((path) => formatOfPath(path) === "safetensors")) {
    throw new UsageError(`invalid --tensor value "${options.tensor}": neither BASE nor TEST is a .safetensors file`);
  }
  if (options.sequenceLength !== undefined && options.tokensPath === undefined) {
    throw new UsageError(`invalid --seq-len value "${values.get("--seq-len")}": it sets how rows map to --tokens, which is missing`);
  }
  if (options.threads > 1 && options.backend === "js") {
    throw new UsageError(`invalid --threads value "${options.threads}": the js backend runs on one thread; use --backend wasm or auto`);
  }
  return { help: false, options };
}
