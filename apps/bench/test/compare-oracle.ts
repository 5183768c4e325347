/**
 * Float64 reference of the compare statistics, written from their definitions and independent
 * of src/compare.ts: per row log-softmax in float64, KL = sum p (log p - log q), the next token
 * of each row as the correct one, and percentiles by linear interpolation between closest ranks.
 */

export interface ReferenceSummary {
  count: number;
  mean: number;
  standardError: number;
  rms: number;
  min: number;
  max: number;
  percentiles: Record<string, number>;
}

export interface ReferenceStats {
  /** KL(base ‖ test) of each row. */
  klRows: Float64Array;
  kl: ReferenceSummary;
  maxRow: number;
  top1Agreeing: number;
  labelledRows: number;
  meanNllBase: number;
  meanNllTest: number;
  meanProbabilityBase: number;
  meanProbabilityTest: number;
  /** p_test - p_base of the correct token, over labelled rows. */
  probabilityChangeRows: Float64Array;
  probabilityChange: ReferenceSummary;
}

const PERCENTILE_LIST = [99.9, 99, 95, 90, 50, 10, 5, 1, 0.1];

function logSoftmaxRow(logits: Float32Array, offset: number, classes: number, temperature: number): Float64Array {
  const row = new Float64Array(classes);
  let max = -Infinity;
  for (let c = 0; c < classes; c++) {
    row[c] = logits[offset + c] / temperature;
    max = Math.max(max, row[c]);
  }

  let sum = 0;
  for (let c = 0; c < classes; c++) {
    sum += Math.exp(row[c] - max);
  }
  const logSum = max + Math.log(sum);
  for (let c = 0; c < classes; c++) {
    row[c] -= logSum;
  }
  return row;
}

function firstArgmax(logits: Float32Array, offset: number, classes: number): number {
  let best = 0;
  for (let c = 1; c < classes; c++) {
    if (logits[offset + c] > logits[offset + best]) {
      best = c;
    }
  }
  return best;
}

function referenceSummary(values: Float64Array): ReferenceSummary {
  const n = values.length;
  const mean = values.reduce((sum, value) => sum + value, 0) / n;
  const variance = values.reduce((sum, value) => sum + (value - mean) ** 2, 0) / (n - 1);
  const sorted = Float64Array.from(values).sort();

  const percentiles: Record<string, number> = {};
  for (const p of PERCENTILE_LIST) {
    const rank = ((n - 1) * p) / 100;
    const low = Math.floor(rank);
    const high = Math.ceil(rank);
    percentiles[`p${p}`] = sorted[low] + (rank - low) * (sorted[high] - sorted[low]);
  }

  return {
    count: n,
    mean,
    standardError: Math.sqrt(variance / n),
    rms: Math.sqrt(values.reduce((sum, value) => sum + value * value, 0) / n),
    min: sorted[0],
    max: sorted[n - 1],
    percentiles,
  };
}

/**
 * Computes every statistic of the compare report in float64 from float32 logits. Row r's correct
 * token is tokens[r + 1] unless r is the last row of its sequence.
 */
export function referenceStats(
  base: Float32Array,
  test: Float32Array,
  tokens: Int32Array,
  classes: number,
  sequenceLength: number,
  temperature = 1,
): ReferenceStats {
  const rows = base.length / classes;
  const klRows = new Float64Array(rows);
  const changes: number[] = [];
  let top1Agreeing = 0;
  let nllBase = 0;
  let nllTest = 0;
  let probabilityBase = 0;
  let probabilityTest = 0;

  for (let row = 0; row < rows; row++) {
    const offset = row * classes;
    const logP = logSoftmaxRow(base, offset, classes, temperature);
    const logQ = logSoftmaxRow(test, offset, classes, temperature);

    let kl = 0;
    for (let c = 0; c < classes; c++) {
      kl += Math.exp(logP[c]) * (logP[c] - logQ[c]);
    }
    klRows[row] = kl;

    if (firstArgmax(base, offset, classes) === firstArgmax(test, offset, classes)) {
      top1Agreeing++;
    }

    if (row % sequenceLength !== sequenceLength - 1) {
      const label = tokens[row + 1];
      nllBase -= logP[label];
      nllTest -= logQ[label];
      probabilityBase += Math.exp(logP[label]);
      probabilityTest += Math.exp(logQ[label]);
      changes.push(Math.exp(logQ[label]) - Math.exp(logP[label]));
    }
  }

  let maxRow = 0;
  klRows.forEach((value, row) => {
    if (value > klRows[maxRow]) maxRow = row;
  });
  const labelledRows = changes.length;
  const probabilityChangeRows = Float64Array.from(changes);

  return {
    klRows,
    kl: referenceSummary(klRows),
    maxRow,
    top1Agreeing,
    labelledRows,
    meanNllBase: nllBase / labelledRows,
    meanNllTest: nllTest / labelledRows,
    meanProbabilityBase: probabilityBase / labelledRows,
    meanProbabilityTest: probabilityTest / labelledRows,
    probabilityChangeRows,
    probabilityChange: referenceSummary(probabilityChangeRows),
  };
}
