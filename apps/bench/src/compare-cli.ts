/**
 * Command-line entry of `pnpm compare BASE TEST`; `--help` lists the options.
 */
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import type { LoadOptions, LogitKit } from "logitkit";
import { MAX_SHAPE_LOGITS, UsageError } from "./args.js";
import { compareLogits, openCompareInputs, type CompareFiles } from "./compare.js";
import { compareHelpText, DEFAULT_CHUNK_BYTES, parseCompareArgs, type CompareOptions } from "./compare-args.js";
import { buildCompareReport, formatCompareTable, type CompareReport } from "./compare-report.js";
import { errorMessage } from "./error-message.js";
import { InputError } from "./logit-files.js";
import { Progress } from "./progress.js";
import { jsonReportText } from "./report.js";
import { prepareJsonPath } from "./report-file.js";

type LoadLogitKit = (options?: LoadOptions) => Promise<LogitKit>;

function quoteArg(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`;
}

/** Failure that ends the command with exit code 1 and its message, such as a library that fails to load. */
class CommandError extends Error {}

/** Imports the library from its build, which exists only after `pnpm build`. */
async function importLoader(): Promise<LoadLogitKit> {
  try {
    return ((await import("logitkit")) as { loadLogitKit: LoadLogitKit }).loadLogitKit;
  } catch (error) {
    throw new CommandError(
      `the logitkit package failed to import (${errorMessage(error)}).\n` +
        "Build it first: run `pnpm compare` from the repository root, which builds it, or `pnpm build` there.",
    );
  }
}

/**
 * Returns the rows per chunk: `--rows-per-chunk`, else as many as fit in DEFAULT_CHUNK_BYTES,
 * and never more than the rows.
 */
function chunkRows(options: CompareOptions, rows: number, classes: number): number {
  const rowsPerChunk = Math.min(rows, options.rowsPerChunk ?? Math.max(1, Math.floor(DEFAULT_CHUNK_BYTES / (classes * 4))));

  // Each chunk is copied into WebAssembly memory next to the other file's chunk, and that
  // memory is limited to 4 GiB, so one chunk gets the bench's limit of one matrix: 1 GiB.
  if (rowsPerChunk * classes > MAX_SHAPE_LOGITS) {
    const size = `${rowsPerChunk} rows x ${classes} vocab = ${rowsPerChunk * classes} logits per chunk`;
    if (options.rowsPerChunk !== undefined) {
      throw new UsageError(`invalid --rows-per-chunk value "${options.rowsPerChunk}": ${size}, expected at most ${MAX_SHAPE_LOGITS} (1 GiB of float32)`);
    }
    throw new CommandError(`a row of ${classes} logits is larger than the ${MAX_SHAPE_LOGITS} logits that one chunk may have`);
  }
  return rowsPerChunk;
}

/** Returns the chunk callback that prints progress on a terminal or with --progress, so that logs and tests stay quiet. */
function progressReporter(options: CompareOptions): { onChunk: (done: number, total: number) => void; clear: () => void } {
  const progress = options.progress || process.stderr.isTTY === true ? new Progress(process.stderr) : null;
  let shownPercent = -1;

  return {
    onChunk: (done, total) => {
      const percent = Math.floor((done / total) * 100);
      if (progress !== null && percent !== shownPercent) {
        shownPercent = percent;
        progress.update(`compare: ${done} of ${total} rows (${percent}%)`);
      }
    },
    clear: () => progress?.clear(),
  };
}

/** Opens the files, runs the comparison on the requested backend and returns the report. */
async function runComparison(argv: readonly string[], options: CompareOptions, files: CompareFiles): Promise<CompareReport> {
  const loadLogitKit = await importLoader();
  const inputs = await openCompareInputs(files);

  try {
    const { rows, classes } = inputs.base.layout;
    const rowsPerChunk = chunkRows(options, rows, classes);

    let kit: LogitKit;
    try {
      kit = await loadLogitKit({ backend: options.backend, threads: options.threads });
    } catch (error) {
      throw new CommandError(`the ${options.backend} backend failed to load: ${errorMessage(error)}`);
    }
    if (kit.fallbackReason !== undefined) {
      process.stderr.write(`warning: running on the js backend: ${kit.fallbackReason}\n`);
    }
    if (kit.threadsReason !== undefined) {
      process.stderr.write(`warning: ${kit.threadsReason}\n`);
    }

    const progress = progressReporter(options);
    const result = await compareLogits(kit, inputs, {
      temperature: options.temperature,
      rowsPerChunk,
      percentiles: options.percentiles,
      onChunk: progress.onChunk,
    });
    progress.clear();

    // dispose() drops kit.threads to 1, so the report reads it first.
    const threads = kit.threads;
    kit.dispose();

    return buildCompareReport(result, {
      command: ["pnpm", "compare", ...argv].map(quoteArg).join(" "),
      backend: kit.backend,
      threads,
      temperature: options.temperature,
      rowsPerChunk,
      base: inputs.base.layout,
      test: inputs.test.layout,
      tokens: inputs.tokens?.layout ?? null,
      sequenceLength: inputs.sequenceLength,
    });
  } finally {
    await inputs.close();
  }
}

/** Runs the CLI and returns its exit code: 0 success, 1 failure, 2 invalid command line. */
async function main(argv: readonly string[]): Promise<number> {
  try {
    const parsed = parseCompareArgs(argv);
    if (parsed.help) {
      process.stdout.write(compareHelpText());
      return 0;
    }
    const { options } = parsed;

    // pnpm runs the script in apps/bench and sets INIT_CWD to the directory that pnpm started
    // in, where the user's relative paths start.
    const cwd = process.env.INIT_CWD ?? process.cwd();
    const files: CompareFiles = {
      ...options,
      base: resolve(cwd, options.basePath),
      test: resolve(cwd, options.testPath),
      tokens: options.tokensPath === undefined ? undefined : resolve(cwd, options.tokensPath),
    };
    const jsonPath = options.jsonPath === undefined ? undefined : resolve(cwd, options.jsonPath);
    const jsonProblem = jsonPath === undefined ? null : prepareJsonPath(jsonPath, false);
    if (jsonProblem !== null) {
      throw new UsageError(`--json: cannot write the JSON report to ${jsonPath}: ${jsonProblem}`);
    }

    const report = await runComparison(argv, options, files);

    const json = jsonReportText(report);
    if (jsonPath !== undefined) {
      try {
        writeFileSync(jsonPath, json);
      } catch (error) {
        throw new CommandError(`writing the JSON report to ${jsonPath} failed: ${errorMessage(error)}`);
      }
    }
    process.stdout.write(options.format === "json" ? json : formatCompareTable(report, cwd));
    if (report.invalidRows.count > 0 && options.format === "json") {
      process.stderr.write(`warning: ${report.invalidRows.count} rows have a NaN KL and are left out; the first is row ${report.invalidRows.firstRow}\n`);
    }
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`error: ${error.message}\n`);
      return 2;
    }
    if (error instanceof InputError || error instanceof CommandError) {
      process.stderr.write(`error: ${error.message}\n`);
      return 1;
    }
    process.stderr.write(`error: the comparison failed: ${errorMessage(error)}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
