/**
 * Output of `pnpm compare`: the JSON report (its schema is in apps/bench/README.md) and the
 * table printed to stdout.
 */
import { isAbsolute, relative } from "node:path";
import type { CompareResult } from "./compare.js";
import { PERCENTILES, type Summary } from "./compare-summary.js";
import type { MatrixLayout, TokenLayout } from "./logit-files.js";
import { formatTable } from "./report.js";

/** Description of a logits file in the report. */
export interface LogitFileInfo {
  path: string;
  format: MatrixLayout["format"];
  dtype: MatrixLayout["dtype"];
  headerDtype: string | null;
  shape: number[];
  tensor: string | null;
}

export interface CompareReport {
  command: string;
  backend: string;
  threads: number;
  temperature: number;
  rowsPerChunk: number;
  base: LogitFileInfo;
  test: LogitFileInfo;
  tokens: {
    path: string;
    format: TokenLayout["format"];
    dtype: TokenLayout["dtype"];
    count: number;
    sequenceLength: number;
  } | null;
  rows: number;
  vocab: number;
  /** Rows left out of every statistic because their KL is NaN. */
  invalidRows: { count: number; firstRow: number | null };
  /** KL(base ‖ test) of each row in nats, and the first row with the max. */
  kl: (Summary & { maxRow: number }) | null;
  top1Agreement: { fraction: number; agreeingRows: number; rows: number };
  perplexity: {
    rows: number;
    meanNllBase: number;
    meanNllTest: number;
    base: number;
    test: number;
    /** test / base. */
    ratio: number;
  } | null;
  correctTokenProbability: {
    rows: number;
    meanBase: number;
    meanTest: number;
    /** p_test - p_base of each row. */
    change: Summary;
  } | null;
}

export function logitFileInfo(layout: MatrixLayout): LogitFileInfo {
  return {
    path: layout.path,
    format: layout.format,
    dtype: layout.dtype,
    headerDtype: layout.headerDtype,
    shape: layout.shape,
    tensor: layout.tensor,
  };
}

/** Context of a run that the report records next to the result. */
export interface CompareContext {
  command: string;
  backend: string;
  threads: number;
  temperature: number;
  rowsPerChunk: number;
  base: MatrixLayout;
  test: MatrixLayout;
  tokens: TokenLayout | null;
  sequenceLength: number;
}

export function buildCompareReport(result: CompareResult, context: CompareContext): CompareReport {
  const stats = result.tokenStats;
  const validRows = result.rows - result.invalidRows;

  return {
    command: context.command,
    backend: context.backend,
    threads: context.threads,
    temperature: context.temperature,
    rowsPerChunk: context.rowsPerChunk,
    base: logitFileInfo(context.base),
    test: logitFileInfo(context.test),
    tokens:
      context.tokens === null
        ? null
        : {
            path: context.tokens.path,
            format: context.tokens.format,
            dtype: context.tokens.dtype,
            count: context.tokens.count,
            sequenceLength: context.sequenceLength,
          },
    rows: result.rows,
    vocab: result.classes,
    invalidRows: { count: result.invalidRows, firstRow: result.firstInvalidRow },
    kl: result.kl,
    top1Agreement: { fraction: result.top1Agreement, agreeingRows: result.top1Agreeing, rows: validRows },
    perplexity:
      stats === null
        ? null
        : {
            rows: stats.labelledRows,
            meanNllBase: stats.meanNllBase,
            meanNllTest: stats.meanNllTest,
            base: stats.perplexityBase,
            test: stats.perplexityTest,
            ratio: stats.perplexityRatio,
          },
    correctTokenProbability:
      stats === null
        ? null
        : {
            rows: stats.labelledRows,
            meanBase: stats.meanProbabilityBase,
            meanTest: stats.meanProbabilityTest,
            change: stats.probabilityChange,
          },
  };
}

/** Formats a statistic with 5 significant digits, in exponent notation below 1e-3 in magnitude. */
export function formatValue(value: number | null | undefined): string {
  if (value === null || value === undefined) {
    return "-";
  }
  if (value === 0 || !Number.isFinite(value)) {
    return String(value);
  }
  if (Math.abs(value) < 1e-3 || Math.abs(value) >= 1e6) {
    return value.toExponential(4);
  }
  return value.toPrecision(5);
}

/** Returns the report line that names the percentile method of `summary` and its error bound, or null without a summary. */
export function describePercentiles(summary: Summary | null): string | null {
  if (summary === null) {
    return null;
  }
  if (summary.percentileMethod === "exact") {
    return "Percentiles: exact, from every row's value.";
  }
  return (
    `Percentiles: histogram, relative error <= ${formatValue(summary.percentileRelativeError)} ` +
    "(--percentiles exact sorts every row's value instead)."
  );
}

/** Returns `path` relative to `directory` when it lies inside it, else `path`. */
function shortPath(path: string, directory: string | undefined): string {
  if (directory === undefined) {
    return path;
  }
  const relativePath = relative(directory, path);
  return relativePath.startsWith("..") || isAbsolute(relativePath) ? path : relativePath;
}

function describeFile(info: LogitFileInfo, directory: string | undefined): string {
  const tensor = info.tensor === null ? "" : `, tensor "${info.tensor}"`;
  const stored = info.headerDtype === null ? info.dtype : `${info.headerDtype} read as ${info.dtype}`;
  return `${shortPath(info.path, directory)} (${info.format}, ${stored}, shape ${info.shape.join(" x ")}${tensor})`;
}

/**
 * Formats the report as the text that the CLI prints by default. Paths inside `directory`
 * (the user's working directory) are shown relative to it.
 */
export function formatCompareTable(report: CompareReport, directory?: string): string {
  const lines: string[] = [];
  const threads = report.threads === 1 ? "1 thread" : `${report.threads} threads`;
  lines.push(`base:   ${describeFile(report.base, directory)}`);
  lines.push(`test:   ${describeFile(report.test, directory)}`);
  if (report.tokens === null) {
    lines.push("tokens: none (pass --tokens FILE for the perplexity and the probability of the correct token)");
  } else {
    const { tokens } = report;
    lines.push(
      `tokens: ${shortPath(tokens.path, directory)} (${tokens.format}, ${tokens.dtype}); correct token of row r = token r + 1, ` +
        `sequences of ${tokens.sequenceLength} tokens`,
    );
  }
  lines.push(
    `${report.rows} rows x ${report.vocab} vocab, backend ${report.backend} (${threads}), ` +
      `temperature ${report.temperature}, ${report.rowsPerChunk} rows per chunk`,
  );
  if (report.invalidRows.count > 0) {
    lines.push(
      `warning: ${report.invalidRows.count} rows have a NaN KL (a NaN or +Infinity logit, or only -Infinity) ` +
        `and are left out of every statistic; the first is row ${report.invalidRows.firstRow}`,
    );
  }

  const change = report.correctTokenProbability?.change ?? null;
  const header = ["statistic", "KL(base ‖ test), nats"];
  if (change !== null) {
    header.push("p_test - p_base of the correct token");
  }
  const summaries = change === null ? [report.kl] : [report.kl, change];
  const row = (label: string, pick: (summary: Summary) => number | null, format = formatValue) => [
    label,
    ...summaries.map((summary) => (summary === null ? "-" : format(pick(summary)))),
  ];

  const rows = [
    row("mean", (summary) => summary.mean),
    row("standard error", (summary) => summary.standardError),
    row("RMS", (summary) => summary.rms),
    row("max", (summary) => summary.max),
    ...PERCENTILES.map((p) => row(p === 50 ? "median" : `${p}%`, (summary) => summary.percentiles[`p${p}`])),
    row("min", (summary) => summary.min),
    row("rows", (summary) => summary.count, String),
  ];
  lines.push("");
  lines.push(formatTable(header, rows, header.map((_, column) => column > 0)));
  lines.push("");

  const percentileNote = describePercentiles(report.kl ?? change);
  if (percentileNote !== null) {
    lines.push(percentileNote);
  }
  if (report.kl !== null) {
    lines.push(`Max KL at row ${report.kl.maxRow}.`);
  }
  const { top1Agreement } = report;
  lines.push(
    `Top-1 agreement: ${(top1Agreement.fraction * 100).toFixed(2)}% (${top1Agreement.agreeingRows} of ${top1Agreement.rows} rows ` +
      "with the same argmax)",
  );
  if (report.perplexity !== null && report.correctTokenProbability !== null) {
    const { perplexity, correctTokenProbability } = report;
    lines.push(
      `Perplexity over ${perplexity.rows} rows with a correct token: base ${formatValue(perplexity.base)}, ` +
        `test ${formatValue(perplexity.test)}, test / base ${formatValue(perplexity.ratio)}`,
    );
    lines.push(
      `Mean probability of the correct token: base ${formatValue(correctTokenProbability.meanBase)}, ` +
        `test ${formatValue(correctTokenProbability.meanTest)}`,
    );
  } else if (report.tokens !== null) {
    lines.push("Perplexity: no valid row has a correct token.");
  }
  return `${lines.join("\n")}\n`;
}
