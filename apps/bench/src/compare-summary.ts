/**
 * Summaries of one value per row for `pnpm compare`: exact moments, min and max, and
 * percentiles that are exact from every stored value or estimated from a fixed-size histogram.
 */
import { HISTOGRAM_RELATIVE_ERROR, ValueHistogram, type HistogramRange } from "./value-histogram.js";

/** Percentiles reported for the KL and the change in probability, from high to low; 50 is the median. */
export const PERCENTILES = [99.9, 99, 95, 90, 50, 10, 5, 1, 0.1] as const;

/** "exact" sorts every value, and "histogram" estimates from a `ValueHistogram` in fixed memory. */
export type PercentileMethod = "exact" | "histogram";

/** Statistics of one value per row. */
export interface Summary {
  count: number;
  mean: number;
  /** Sample standard deviation (divisor count - 1) / sqrt(count); null for fewer than 2 values. */
  standardError: number | null;
  /** Root mean square. */
  rms: number;
  min: number;
  max: number;
  /**
   * Value at each of `PERCENTILES`, keyed "p99.9", ..., "p50", ..., "p0.1". The "p" keeps the
   * keys in this order: JavaScript lists integer-like keys such as "99" first, ascending.
   */
  percentiles: Record<string, number>;
  percentileMethod: PercentileMethod;
  /** Bound on the relative error of each percentile: 0 when exact, `HISTOGRAM_RELATIVE_ERROR` for a histogram. */
  percentileRelativeError: number;
}

/**
 * Returns the `p`-th percentile of `count` values, where `valueAt(k)` returns the value of rank
 * k in ascending order, by linear interpolation between the closest ranks: rank
 * h = (count - 1) p / 100, as NumPy's default method.
 */
export function interpolatePercentile(count: number, p: number, valueAt: (rank: number) => number): number {
  const rank = ((count - 1) * p) / 100;
  const lower = Math.floor(rank);
  const low = valueAt(lower);
  if (rank === lower) {
    return low;
  }

  // Equal neighbours return early so that two infinities do not give Infinity - Infinity = NaN.
  const high = valueAt(Math.min(lower + 1, count - 1));
  if (low === high) {
    return low;
  }
  return low + (rank - lower) * (high - low);
}

/**
 * Returns the `p`-th percentile of ascending `sorted` values by linear interpolation between
 * the closest ranks: rank h = (n - 1) p / 100, as NumPy's default method.
 */
export function percentileOfSorted(sorted: ArrayLike<number>, p: number): number {
  return interpolatePercentile(sorted.length, p, (rank) => sorted[rank]);
}

/**
 * Float64 sum with Neumaier's compensation. Its error bound is 2 eps |sum| + O(n eps^2) sum |x|,
 * where a plain sum's bound is (n - 1) eps sum |x|.
 */
class CompensatedSum {
  private sum = 0;
  private compensation = 0;

  add(value: number): void {
    const total = this.sum + value;
    if (Math.abs(this.sum) >= Math.abs(value)) {
      this.compensation += this.sum - total + value;
    } else {
      this.compensation += value - total + this.sum;
    }
    this.sum = total;
  }

  /** Returns the sum. After an overflow it returns the infinity, not the NaN of Infinity - Infinity. */
  value(): number {
    return Number.isFinite(this.sum) ? this.sum + this.compensation : this.sum;
  }
}

/**
 * Accumulates the statistics of a `Summary` one value at a time, in row order. The moments use
 * the same float64 arithmetic for both percentile methods, so only the percentiles differ.
 */
export class SummaryAccumulator {
  /** Stored values of an exact accumulator, of fixed capacity, or null for a histogram. */
  private readonly values: Float64Array | null;
  private readonly histogram: ValueHistogram | null;

  private count = 0;
  private min = Infinity;
  private max = -Infinity;
  private readonly sum = new CompensatedSum();
  private readonly sumOfSquares = new CompensatedSum();
  private positiveInfinities = 0;
  private negativeInfinities = 0;

  /** Welford's running mean and sum of squared deviations of the finite values. */
  private finiteCount = 0;
  private runningMean = 0;
  private squaredDeviations = 0;

  private constructor(values: Float64Array | null, histogram: ValueHistogram | null) {
    this.values = values;
    this.histogram = histogram;
  }

  /** Returns an accumulator that stores up to `capacity` values (8 bytes each) for exact percentiles. */
  static exact(capacity: number): SummaryAccumulator {
    return new SummaryAccumulator(new Float64Array(capacity), null);
  }

  /** Returns an accumulator that estimates percentiles from a histogram of `range`, in memory that does not grow. */
  static histogram(range: HistogramRange): SummaryAccumulator {
    return new SummaryAccumulator(null, new ValueHistogram(range));
  }

  get method(): PercentileMethod {
    return this.values === null ? "histogram" : "exact";
  }

  /** Bytes that the percentiles keep: the stored values, or the histogram's counts. */
  get storageBytes(): number {
    return this.values?.byteLength ?? (this.histogram as ValueHistogram).byteLength;
  }

  /** Adds a value, which must not be NaN. Throws a `RangeError` past the capacity of an exact accumulator. */
  add(value: number): void {
    if (this.values !== null) {
      if (this.count >= this.values.length) {
        throw new RangeError(`cannot store more than ${this.values.length} values for exact percentiles: expected at most the capacity`);
      }
      this.values[this.count] = value;
    } else {
      (this.histogram as ValueHistogram).add(value);
    }

    this.count++;
    this.min = Math.min(this.min, value);
    this.max = Math.max(this.max, value);

    if (value === Infinity) {
      this.positiveInfinities++;
      return;
    }
    if (value === -Infinity) {
      this.negativeInfinities++;
      return;
    }

    this.sum.add(value);
    this.sumOfSquares.add(value * value);
    this.finiteCount++;
    const delta = value - this.runningMean;
    this.runningMean += delta / this.finiteCount;
    this.squaredDeviations += delta * (value - this.runningMean);
  }

  /** Returns the summary, or null when no value was added. Sorts the stored values of an exact accumulator in place. */
  summary(): Summary | null {
    const { count } = this;
    if (count === 0) {
      return null;
    }

    // Infinities give what a sum over every value gives: a mean of that infinity (NaN for both
    // signs), an infinite RMS, and a NaN standard error from Infinity - Infinity.
    const infinities = this.positiveInfinities + this.negativeInfinities;
    let mean = this.sum.value() / count;
    if (this.positiveInfinities > 0 && this.negativeInfinities > 0) {
      mean = NaN;
    } else if (infinities > 0) {
      mean = this.positiveInfinities > 0 ? Infinity : -Infinity;
    }

    let standardError: number | null = null;
    if (count >= 2) {
      standardError = infinities > 0 ? NaN : Math.sqrt(this.squaredDeviations / (count - 1)) / Math.sqrt(count);
    }
    const rms = infinities > 0 ? Infinity : Math.sqrt(this.sumOfSquares.value() / count);

    let valueAt: (rank: number) => number;
    if (this.values !== null) {
      const sorted = this.values.subarray(0, count).sort();
      valueAt = (rank) => sorted[rank];
    } else {
      const histogram = this.histogram as ValueHistogram;
      valueAt = (rank) => histogram.valueAtRank(rank);
    }
    const percentiles: Record<string, number> = {};
    for (const p of PERCENTILES) {
      percentiles[`p${p}`] = interpolatePercentile(count, p, valueAt);
    }

    return {
      count,
      mean,
      standardError,
      rms,
      min: this.min,
      max: this.max,
      percentiles,
      percentileMethod: this.method,
      percentileRelativeError: this.values === null ? HISTOGRAM_RELATIVE_ERROR : 0,
    };
  }
}

/** Summarizes `values`, which must not contain NaN, with exact percentiles. */
export function summarize(values: ArrayLike<number>): Summary | null {
  const accumulator = SummaryAccumulator.exact(values.length);
  for (let i = 0; i < values.length; i++) {
    accumulator.add(values[i]);
  }
  return accumulator.summary();
}
