/**
 * Fixed-size, mergeable histogram of float64 values that estimates any order statistic within
 * a stated error. `pnpm compare` uses it for the percentiles of files whose per-row values
 * would take too much memory.
 *
 * A log-spaced bin contains the magnitudes that share a float64 exponent e and the top
 * `MANTISSA_BITS` bits of the mantissa. Each octave [2^e, 2^(e + 1)) is so split into 1024
 * bins of width 2^(e - 10), and the bin of a value comes from its bits, with no rounding of a
 * logarithm at the edges. Zeros and infinities are counted exactly. Nonzero magnitudes below
 * the bins go to an underflow bucket and finite ones above them to an overflow bucket, and each
 * of these buckets stores the exact min and max of its values.
 */

/** Mantissa bits that select the bin within an octave. */
const MANTISSA_BITS = 10;
const OCTAVE_BINS = 2 ** MANTISSA_BITS;

/**
 * Bound on |estimate - x| / |x| of an order statistic x that lies in a log-spaced bin: the
 * estimate is the bin's midpoint, at most half a bin width 2^(e - 11) from any x >= 2^e.
 */
export const HISTOGRAM_RELATIVE_ERROR = 2 ** -(MANTISSA_BITS + 1);

/** Magnitudes that the log-spaced bins cover: [2^minExponent, 2^(maxExponent + 1)). */
export interface HistogramRange {
  minExponent: number;
  maxExponent: number;
}

/** Edge buckets, whose values keep an exact min and max, in ascending order of value. */
const NEGATIVE_OVERFLOW = 0;
const NEGATIVE_UNDERFLOW = 1;
const POSITIVE_UNDERFLOW = 2;
const POSITIVE_OVERFLOW = 3;

export class ValueHistogram {
  readonly range: HistogramRange;

  /** Values added, the exact min and the exact max. */
  count = 0;
  min = Infinity;
  max = -Infinity;

  /** Log-spaced bins of one sign. */
  private readonly signBins: number;
  private readonly smallestBinned: number;
  private readonly largestBinnedExclusive: number;

  /**
   * Counts of the buckets in ascending order of value: -Infinity, negative overflow, negative
   * bins from the largest magnitude down, negative underflow, zero, positive underflow,
   * positive bins, positive overflow, +Infinity. Float64 counts stay exact up to 2^53 values.
   */
  private readonly counts: Float64Array;
  private readonly edgeMin = new Float64Array(4).fill(Infinity);
  private readonly edgeMax = new Float64Array(4).fill(-Infinity);
  private readonly bits = new DataView(new ArrayBuffer(8));

  constructor(range: HistogramRange) {
    const { minExponent, maxExponent } = range;
    if (!Number.isInteger(minExponent) || !Number.isInteger(maxExponent) || minExponent < -1022 || maxExponent > 1023 || minExponent > maxExponent) {
      throw new RangeError(`invalid histogram range 2^${minExponent} to 2^${maxExponent + 1}: expected integer exponents with -1022 <= min <= max <= 1023`);
    }

    this.range = { minExponent, maxExponent };
    this.signBins = (maxExponent - minExponent + 1) * OCTAVE_BINS;
    this.smallestBinned = 2 ** minExponent;
    this.largestBinnedExclusive = 2 ** (maxExponent + 1);
    this.counts = new Float64Array(2 * this.signBins + 7);
  }

  /** Bytes of the counts and edge values, which do not depend on how many values are added. */
  get byteLength(): number {
    return this.counts.byteLength + this.edgeMin.byteLength + this.edgeMax.byteLength;
  }

  /** Adds a value. Throws a `RangeError` for NaN, which has no rank. */
  add(value: number): void {
    if (Number.isNaN(value)) {
      throw new RangeError("cannot add NaN to a histogram: expected a number or an infinity");
    }

    this.count++;
    if (value < this.min) {
      this.min = value;
    }
    if (value > this.max) {
      this.max = value;
    }

    const bucket = this.bucketOf(value);
    this.counts[bucket]++;
    const edge = this.edgeOf(bucket);
    if (edge >= 0) {
      this.edgeMin[edge] = Math.min(this.edgeMin[edge], value);
      this.edgeMax[edge] = Math.max(this.edgeMax[edge], value);
    }
  }

  /** Adds the values of `other`, a histogram of the same range, as if each had been added here. */
  merge(other: ValueHistogram): void {
    if (other.range.minExponent !== this.range.minExponent || other.range.maxExponent !== this.range.maxExponent) {
      throw new RangeError(
        `cannot merge a histogram of 2^${other.range.minExponent} to 2^${other.range.maxExponent + 1} into one of ` +
          `2^${this.range.minExponent} to 2^${this.range.maxExponent + 1}: expected the same range`,
      );
    }

    for (let i = 0; i < this.counts.length; i++) {
      this.counts[i] += other.counts[i];
    }
    for (let edge = 0; edge < 4; edge++) {
      this.edgeMin[edge] = Math.min(this.edgeMin[edge], other.edgeMin[edge]);
      this.edgeMax[edge] = Math.max(this.edgeMax[edge], other.edgeMax[edge]);
    }
    this.count += other.count;
    this.min = Math.min(this.min, other.min);
    this.max = Math.max(this.max, other.max);
  }

  /**
   * Estimates the value of 0-based rank `rank` in ascending order. Ranks 0 and count - 1 return
   * the exact min and max, and zeros and infinities are exact. In a log-spaced bin the error is
   * at most `HISTOGRAM_RELATIVE_ERROR` x |exact value|, and in an underflow or overflow bucket
   * at most that bucket's max - min.
   */
  valueAtRank(rank: number): number {
    if (!(rank >= 0 && rank < this.count) || !Number.isInteger(rank)) {
      throw new RangeError(`invalid rank ${rank}: expected an integer from 0 to ${this.count - 1}`);
    }
    if (rank === 0) {
      return this.min;
    }
    if (rank === this.count - 1) {
      return this.max;
    }

    let before = 0;
    let bucket = 0;
    while (before + this.counts[bucket] <= rank) {
      before += this.counts[bucket];
      bucket++;
    }

    const edge = this.edgeOf(bucket);
    if (edge >= 0) {
      // Ranks spread evenly between the bucket's exact min and max, which they lie between.
      const low = this.edgeMin[edge];
      const high = this.edgeMax[edge];
      const bucketCount = this.counts[bucket];
      return bucketCount === 1 ? low : low + ((rank - before) / (bucketCount - 1)) * (high - low);
    }
    return Math.min(this.max, Math.max(this.min, this.bucketMidpoint(bucket)));
  }

  private bucketOf(value: number): number {
    const zero = this.signBins + 3;
    if (value === 0) {
      return zero;
    }
    if (value === Infinity) {
      return this.counts.length - 1;
    }
    if (value === -Infinity) {
      return 0;
    }

    const magnitude = Math.abs(value);
    const sign = value > 0 ? 1 : -1;
    if (magnitude < this.smallestBinned) {
      return zero + sign;
    }
    if (magnitude >= this.largestBinnedExclusive) {
      return zero + sign * (this.signBins + 2);
    }
    return zero + sign * (this.binOf(magnitude) + 2);
  }

  /** Returns the log-spaced bin, 0 for the smallest magnitudes, of a magnitude the bins cover. */
  private binOf(magnitude: number): number {
    // The high 32 bits of a float64 are the sign, 11 exponent bits and 20 mantissa bits.
    this.bits.setFloat64(0, magnitude);
    const high = this.bits.getUint32(0);
    const exponent = (high >>> 20) - 1023;
    const mantissaTop = (high >>> (20 - MANTISSA_BITS)) & (OCTAVE_BINS - 1);
    return (exponent - this.range.minExponent) * OCTAVE_BINS + mantissaTop;
  }

  /** Returns the edge bucket's index in `edgeMin` and `edgeMax`, or -1 for another bucket. */
  private edgeOf(bucket: number): number {
    const zero = this.signBins + 3;
    switch (bucket - zero) {
      case -(this.signBins + 2):
        return NEGATIVE_OVERFLOW;
      case -1:
        return NEGATIVE_UNDERFLOW;
      case 1:
        return POSITIVE_UNDERFLOW;
      case this.signBins + 2:
        return POSITIVE_OVERFLOW;
      default:
        return -1;
    }
  }

  /** Returns the midpoint of a log-spaced bin's values, or the exact value of a zero or infinite bucket. */
  private bucketMidpoint(bucket: number): number {
    const offset = bucket - (this.signBins + 3);
    if (offset === 0) {
      return 0;
    }
    if (bucket === 0) {
      return -Infinity;
    }
    if (bucket === this.counts.length - 1) {
      return Infinity;
    }

    const bin = Math.abs(offset) - 2;
    const exponent = this.range.minExponent + Math.floor(bin / OCTAVE_BINS);
    const mantissaTop = bin % OCTAVE_BINS;
    const midpoint = 2 ** exponent * (1 + (mantissaTop + 0.5) / OCTAVE_BINS);
    return offset > 0 ? midpoint : -midpoint;
  }
}
