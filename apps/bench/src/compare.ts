/**
 * Statistics of `pnpm compare`: how far the next-token distributions of a test model (such as
 * a quantized copy) are from those of a base model, computed row by row on logits streamed
 * from files in chunks of rows.
 */
import type { LogitKit } from "logitkit";
import {
  InputError,
  openFile,
  openLogitFile,
  openTokenFile,
  type FileOpener,
  type LogitDtype,
  type LogitFileReader,
  type TokenFileReader,
} from "./logit-files.js";
import { SummaryAccumulator, type PercentileMethod, type Summary } from "./compare-summary.js";
import { IGNORE_INDEX } from "./real-data.js";
import { argmaxRows } from "./stats.js";
import type { HistogramRange } from "./value-histogram.js";

/** `--percentiles`: "auto" is exact up to the row cap of the settings, else a histogram. */
export const PERCENTILE_MODES = ["auto", "exact", "histogram"] as const;
export type PercentileMode = (typeof PERCENTILE_MODES)[number];

/**
 * Most rows for which "auto" computes exact percentiles. Exact percentiles store one float64
 * KL and one float64 probability change per row, so 2^20 rows take 16 MiB. That is the size of
 * one default chunk buffer (`DEFAULT_CHUNK_BYTES`), so the per-row values never cost more than
 * the chunk memory that every run has. Evaluation sets of up to a million tokens stay exact.
 */
export const EXACT_PERCENTILE_MAX_ROWS = 2 ** 20;

/**
 * Magnitudes that the KL histogram's bins cover, [2^-40, 2^14) = [9.1e-13, 16384) nats. KL
 * below 9.1e-13 is far under the error of one row's KL in float32 (about 1e-7).
 */
export const KL_HISTOGRAM_RANGE: HistogramRange = { minExponent: -40, maxExponent: 13 };

/** Magnitudes of the probability change that its histogram's bins cover, [2^-40, 2), so every change in [-1, 1] fits. */
export const PROBABILITY_CHANGE_HISTOGRAM_RANGE: HistogramRange = { minExponent: -40, maxExponent: 0 };

/** Returns the percentile method of a run over `rows` rows: "auto" stays exact up to `exactMaxRows` rows. */
export function resolvePercentileMethod(mode: PercentileMode, rows: number, exactMaxRows: number): PercentileMethod {
  if (mode !== "auto") {
    return mode;
  }
  return rows <= exactMaxRows ? "exact" : "histogram";
}

/** Open inputs of a comparison; the two logits files have the same rows and classes. */
export interface CompareInputs {
  /** Closes every file. */
  close(): Promise<void>;
  base: LogitFileReader;
  test: LogitFileReader;
  /** Tokens, one per row, or null when only the KL and top-1 agreement are wanted. */
  tokens: TokenFileReader | null;
  /**
   * Tokens per sequence; `rows` must be a multiple of it. Row r predicts token r + 1, except
   * the last row of each sequence, which has no correct token.
   */
  sequenceLength: number;
}

/** Paths and file options of a comparison, as the command line gives them. */
export interface CompareFiles {
  base: string;
  test: string;
  tokens?: string;
  vocab?: number;
  baseDtype?: LogitDtype;
  testDtype?: LogitDtype;
  tensor?: string;
  sequenceLength?: number;
}

/**
 * Returns the sequence length: `given` (from --seq-len), else the one that a file's shape sets,
 * else all rows. Throws an `InputError` when the sources disagree or the length does not
 * divide the rows.
 */
export function resolveSequenceLength(
  rows: number,
  given: number | undefined,
  hints: readonly { source: string; length: number | null }[],
): number {
  const known = hints.filter((hint): hint is { source: string; length: number } => hint.length !== null);
  const length = given ?? known[0]?.length ?? rows;
  const lengthSource = given === undefined ? (known[0]?.source ?? "one sequence of all rows") : "--seq-len";

  for (const hint of known) {
    if (hint.length !== length) {
      throw new InputError(`${hint.source} sets a sequence length of ${hint.length}, but ${lengthSource} sets ${length}`);
    }
  }
  if (rows % length !== 0) {
    throw new InputError(`sequence length ${length} (${lengthSource}) does not divide the ${rows} rows: expected sequences of equal length`);
  }
  return length;
}

/**
 * Opens BASE, TEST and the tokens and checks that they fit together: the same rows and
 * vocabulary, one token per row, and a sequence length that divides the rows. Closes what it
 * opened when a check fails.
 */
export async function openCompareInputs(files: CompareFiles, opener: FileOpener = openFile): Promise<CompareInputs> {
  const shared = { vocab: files.vocab, tensor: files.tensor };
  const opened: (LogitFileReader | TokenFileReader)[] = [];
  const close = async () => {
    await Promise.all(opened.map((reader) => reader.close()));
  };

  try {
    const base = await openLogitFile(files.base, { ...shared, dtype: files.baseDtype, role: "BASE" }, opener);
    opened.push(base);
    const test = await openLogitFile(files.test, { ...shared, dtype: files.testDtype, role: "TEST" }, opener);
    opened.push(test);

    const baseLayout = base.layout;
    const testLayout = test.layout;
    if (baseLayout.rows !== testLayout.rows || baseLayout.classes !== testLayout.classes) {
      throw new InputError(
        `BASE and TEST have different shapes: BASE ${baseLayout.rows} rows x ${baseLayout.classes} vocab (${baseLayout.path}), ` +
          `TEST ${testLayout.rows} rows x ${testLayout.classes} vocab (${testLayout.path}); expected the logits of the same rows`,
      );
    }

    let tokens: TokenFileReader | null = null;
    if (files.tokens !== undefined) {
      tokens = await openTokenFile(files.tokens, baseLayout.rows, baseLayout.classes, opener);
      opened.push(tokens);
    }

    const sequenceLength = resolveSequenceLength(baseLayout.rows, files.sequenceLength, [
      { source: `the shape of BASE (${baseLayout.shape.join(", ")})`, length: baseLayout.sequenceLength },
      { source: `the shape of TEST (${testLayout.shape.join(", ")})`, length: testLayout.sequenceLength },
      { source: `the shape of --tokens (${tokens?.layout.shape.join(", ")})`, length: tokens?.layout.sequenceLength ?? null },
    ]);
    return { base, test, tokens, sequenceLength, close };
  } catch (error) {
    await close();
    throw error;
  }
}

export interface CompareSettings {
  /** Every statistic uses softmax(z / temperature). */
  temperature: number;
  rowsPerChunk: number;
  /** Percentile mode, "auto" when absent. */
  percentiles?: PercentileMode;
  /** Most rows for which "auto" keeps exact percentiles, `EXACT_PERCENTILE_MAX_ROWS` when absent. */
  exactPercentileMaxRows?: number;
  /** Called after each chunk with the rows done so far. */
  onChunk?: (rowsDone: number, rows: number) => void;
}

/** Statistics that need the correct token of each row. */
export interface TokenStats {
  /** Rows that have a correct token and are valid. */
  labelledRows: number;
  /** Mean negative log-likelihood of the correct tokens, in nats. */
  meanNllBase: number;
  meanNllTest: number;
  /** exp(mean negative log-likelihood). */
  perplexityBase: number;
  perplexityTest: number;
  /** perplexityTest / perplexityBase. */
  perplexityRatio: number;
  /** Mean probability of the correct token. */
  meanProbabilityBase: number;
  meanProbabilityTest: number;
  /** Change p_test - p_base of the correct token's probability. */
  probabilityChange: Summary;
}

export interface CompareResult {
  rows: number;
  classes: number;
  /**
   * Rows left out of every statistic because their KL is NaN: a NaN or +Infinity logit, or a
   * row of only -Infinity, in either file.
   */
  invalidRows: number;
  /** First invalid row, or null. */
  firstInvalidRow: number | null;
  /** KL(base ‖ test) of each valid row, in nats; null when no row is valid. */
  kl: (Summary & { maxRow: number }) | null;
  /** Valid rows where the base and test logits have the same argmax (the first on ties). */
  top1Agreeing: number;
  /** top1Agreeing / valid rows. */
  top1Agreement: number;
  /** Null without tokens, or when no valid row has a correct token. */
  tokenStats: TokenStats | null;
  /** Method of every percentile of the run. */
  percentileMethod: PercentileMethod;
  /**
   * Bytes that the percentiles of the KL and the probability change keep: 8 per stored row for
   * "exact", and a size set by the histogram ranges alone for "histogram".
   */
  percentileStorageBytes: number;
}

/** Builds the correct token of each row of a chunk: the next token within the row's sequence. */
function chunkLabels(tokens: Int32Array, first: number, count: number, rows: number, sequenceLength: number, out: Int32Array): void {
  for (let i = 0; i < count; i++) {
    const row = first + i;
    const lastOfSequence = row % sequenceLength === sequenceLength - 1 || row + 1 >= rows;
    out[i] = lastOfSequence ? IGNORE_INDEX : tokens[i + 1];
  }
}

/**
 * Streams both logits files in chunks of `rowsPerChunk` rows and computes, on `kit`:
 * KL(softmax(base / T) ‖ softmax(test / T)) per row, the top-1 agreement, and with tokens the
 * perplexities and the change in the probability of the correct token. Sums run in float64.
 * Memory: the chunk buffers (two of rows x classes float32 values), and for the percentiles
 * either two float64 values per row ("exact") or two histograms of fixed size ("histogram").
 */
export async function compareLogits(kit: LogitKit, inputs: CompareInputs, settings: CompareSettings): Promise<CompareResult> {
  const { rows, classes } = inputs.base.layout;
  const { temperature, rowsPerChunk } = settings;
  const { sequenceLength } = inputs;
  if (rows % sequenceLength !== 0) {
    throw new RangeError(`sequence length ${sequenceLength} does not divide the ${rows} rows`);
  }

  const baseChunk = new Float32Array(rowsPerChunk * classes);
  const testChunk = new Float32Array(rowsPerChunk * classes);
  const tokenChunk = new Int32Array(rowsPerChunk + 1);
  const labelChunk = new Int32Array(rowsPerChunk);

  // The method is chosen before the first row, so exact storage is allocated once, at most
  // exactPercentileMaxRows x 16 bytes in "auto", and a histogram run never allocates per-row storage.
  const method = resolvePercentileMethod(settings.percentiles ?? "auto", rows, settings.exactPercentileMaxRows ?? EXACT_PERCENTILE_MAX_ROWS);
  const changeCapacity = inputs.tokens === null ? 0 : rows;
  const klStats = method === "exact" ? SummaryAccumulator.exact(rows) : SummaryAccumulator.histogram(KL_HISTOGRAM_RANGE);
  const changeStats =
    method === "exact" ? SummaryAccumulator.exact(changeCapacity) : SummaryAccumulator.histogram(PROBABILITY_CHANGE_HISTOGRAM_RANGE);

  let validRows = 0;
  let labelledRows = 0;
  let invalidRows = 0;
  let firstInvalidRow: number | null = null;
  let maxKl = -Infinity;
  let maxRow = -1;
  let top1Agreeing = 0;
  let nllSumBase = 0;
  let nllSumTest = 0;
  let probabilitySumBase = 0;
  let probabilitySumTest = 0;

  for (let first = 0; first < rows; first += rowsPerChunk) {
    const count = Math.min(rowsPerChunk, rows - first);
    const base = baseChunk.subarray(0, count * classes);
    const test = testChunk.subarray(0, count * classes);
    await inputs.base.readRows(first, count, base);
    await inputs.test.readRows(first, count, test);

    const kl = kit.klDivergence(base, test, { classes, temperature, reduction: "none" });
    const argmaxBase = argmaxRows(base, classes);
    const argmaxTest = argmaxRows(test, classes);

    let nllBase: Float32Array | null = null;
    let nllTest: Float32Array | null = null;
    const labels = labelChunk.subarray(0, count);
    if (inputs.tokens !== null) {
      // Row r needs token r + 1, so the chunk reads one token past its last row when it exists.
      const tokenCount = Math.min(count + 1, rows - first);
      await inputs.tokens.readTokens(first, tokenCount, tokenChunk);
      chunkLabels(tokenChunk, first, count, rows, sequenceLength, labels);

      const options = { classes, temperature, reduction: "none", ignoreIndex: IGNORE_INDEX } as const;
      nllBase = kit.crossEntropy(base, labels, options);
      nllTest = kit.crossEntropy(test, labels, options);
    }

    for (let i = 0; i < count; i++) {
      if (Number.isNaN(kl[i])) {
        invalidRows++;
        firstInvalidRow ??= first + i;
        continue;
      }

      klStats.add(kl[i]);
      validRows++;
      if (kl[i] > maxKl) {
        maxKl = kl[i];
        maxRow = first + i;
      }
      if (argmaxBase[i] === argmaxTest[i]) {
        top1Agreeing++;
      }

      if (nllBase !== null && nllTest !== null && labels[i] !== IGNORE_INDEX) {
        const probabilityBase = Math.exp(-nllBase[i]);
        const probabilityTest = Math.exp(-nllTest[i]);
        nllSumBase += nllBase[i];
        nllSumTest += nllTest[i];
        probabilitySumBase += probabilityBase;
        probabilitySumTest += probabilityTest;
        changeStats.add(probabilityTest - probabilityBase);
        labelledRows++;
      }
    }
    settings.onChunk?.(first + count, rows);
  }

  const klSummary = klStats.summary();
  const changeSummary = changeStats.summary();

  let tokenStats: TokenStats | null = null;
  if (changeSummary !== null) {
    const meanNllBase = nllSumBase / labelledRows;
    const meanNllTest = nllSumTest / labelledRows;
    tokenStats = {
      labelledRows,
      meanNllBase,
      meanNllTest,
      perplexityBase: Math.exp(meanNllBase),
      perplexityTest: Math.exp(meanNllTest),
      // exp of the difference keeps the ratio finite when both perplexities overflow.
      perplexityRatio: Math.exp(meanNllTest - meanNllBase),
      meanProbabilityBase: probabilitySumBase / labelledRows,
      meanProbabilityTest: probabilitySumTest / labelledRows,
      probabilityChange: changeSummary,
    };
  }

  return {
    rows,
    classes,
    invalidRows,
    firstInvalidRow,
    kl: klSummary === null ? null : { ...klSummary, maxRow },
    top1Agreeing,
    top1Agreement: validRows === 0 ? NaN : top1Agreeing / validRows,
    tokenStats,
    percentileMethod: method,
    percentileStorageBytes: klStats.storageBytes + changeStats.storageBytes,
  };
}
