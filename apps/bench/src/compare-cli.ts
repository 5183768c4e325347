/**
 * Command-line entry of `pnpm compare BASE TEST`; `--help` lists the options.
 */
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import type { LoadOptions, LogitKit } from "logitkit";
import { UsageError } from "./args.js";
import { compareLogits, openCompareInputs, type CompareInputs } from "./compare.js";
import { compareHelpText, DEFAULT_CHUNK_BYTES, parseCompareArgs, type ParsedCompareArgs } from "./compare-args.js";
import { buildCompareReport, formatCompareTable } from "./compare-report.js";
import { errorMessage } from "./error-message.js";
import { InputError } from "./logit-files.js";
import { Progress } from "./progress.js";
import { jsonReportText } from "./report.js";
import { prepareJsonPath } from "./report-file.js";

type LoadLogitKit = (options?: LoadOptions) => Promise<LogitKit>;

function quoteArg(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`;
}

/** Runs the CLI and returns its exit code: 0 success, 1 failure, 2 invalid command line. */
async function main(argv: readonly string[]): Promise<number> {
  let parsed: ParsedCompareArgs;
  try {
    parsed = parseCompareArgs(argv);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`error: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  if (parsed.help) {
    process.stdout.write(compareHelpText());
    return 0;
  }
  const { options } = parsed;

  // pnpm runs the script in apps/bench and sets INIT_CWD to the directory that pnpm started in,
  // where the user's relative paths start.
  const cwd = process.env.INIT_CWD ?? process.cwd();
  const paths = {
    base: resolve(cwd, options.basePath),
    test: resolve(cwd, options.testPath),
    tokens: options.tokensPath === undefined ? undefined : resolve(cwd, options.tokensPath),
  };
  const jsonPath = options.jsonPath === undefined ? undefined : resolve(cwd, options.jsonPath);
  if (jsonPath !== undefined) {
    const problem = prepareJsonPath(jsonPath, false);
    if (problem !== null) {
      process.stderr.write(`error: --json: cannot write the JSON report to ${jsonPath}: ${problem}\n`);
      return 2;
    }
  }

  let loadLogitKit: LoadLogitKit;
  try {
    loadLogitKit = ((await import("logitkit")) as { loadLogitKit: LoadLogitKit }).loadLogitKit;
  } catch (error) {
    process.stderr.write(
      `error: the logitkit package failed to import (${errorMessage(error)}).\n` +
        "Build it first: run `pnpm compare` from the repository root, which builds it, or `pnpm build` there.\n",
    );
    return 1;
  }

  let inputs: CompareInputs | null = null;
  try {
    inputs = await openCompareInputs({ ...paths, ...options });
    const { rows, classes } = inputs.base.layout;
    const rowsPerChunk = Math.min(rows, options.rowsPerChunk ?? Math.max(1, Math.floor(DEFAULT_CHUNK_BYTES / (classes * 4))));

    let kit: LogitKit;
    try {
      kit = await loadLogitKit({ backend: options.backend, threads: options.threads });
    } catch (error) {
      process.stderr.write(`error: the ${options.backend} backend failed to load: ${errorMessage(error)}\n`);
      return 1;
    }
    if (kit.threadsReason !== undefined) {
      process.stderr.write(`warning: ${kit.threadsReason}\n`);
    }

    // Progress is shown on a terminal or with --progress, so that logs and tests stay quiet.
    const progress = options.progress || process.stderr.isTTY === true ? new Progress(process.stderr) : null;
    let shownPercent = -1;
    const result = await compareLogits(kit, inputs, {
      temperature: options.temperature,
      rowsPerChunk,
      onChunk: (done, total) => {
        const percent = Math.floor((done / total) * 100);
        if (progress !== null && percent !== shownPercent) {
          shownPercent = percent;
          progress.update(`compare: ${done} of ${total} rows (${percent}%)`);
        }
      },
    });
    progress?.clear();
    kit.dispose();

    const report = buildCompareReport(result, {
      command: ["pnpm", "compare", ...argv].map(quoteArg).join(" "),
      backend: kit.backend,
      threads: kit.threads,
      temperature: options.temperature,
      rowsPerChunk,
      base: inputs.base.layout,
      test: inputs.test.layout,
      tokens: inputs.tokens?.layout ?? null,
      sequenceLength: inputs.sequenceLength,
    });

    const json = jsonReportText(report);
    if (jsonPath !== undefined) {
      writeFileSync(jsonPath, json);
    }
    process.stdout.write(options.format === "json" ? json : formatCompareTable(report, cwd));
    if (report.invalidRows.count > 0 && options.format === "json") {
      process.stderr.write(`warning: ${report.invalidRows.count} rows have a NaN KL and are left out; the first is row ${report.invalidRows.firstRow}\n`);
    }
    return 0;
  } catch (error) {
    if (error instanceof InputError) {
      process.stderr.write(`error: ${error.message}\n`);
      return 1;
    }
    process.stderr.write(`error: the comparison failed: ${errorMessage(error)}\n`);
    return 1;
  } finally {
    await inputs?.close();
  }
}

process.exitCode = await main(process.argv.slice(2));
