/**
 * Widening of 16-bit logits to float32 in TypeScript, for the `js` backend: chunks of rows are
 * converted into a reused float32 scratch array and passed to the float32 row kernels. Every
 * 16-bit value has an exact float32, and the kernels map rows to rows independently, so the
 * results equal those of converting the whole input first.
 */
import { type HalfLogits, type Logits, type RowKernels, VOCAB_STATS } from "../backend.js";
import { bufferOf, byteOffsetOf, lengthOf } from "../intrinsics.js";
import { topKRowWords } from "../topk.js";

/**
 * Floats converted per chunk (1 MiB of float32), at least one row. A chunk this size stays in
 * the cache between its conversion and the kernel's passes over it.
 */
const CHUNK_FLOATS = 256 * 1024;

/** Float32 bit patterns of the 65536 binary16 values, built on first use (256 KiB). */
let f16Table: Uint32Array | null = null;

/**
 * Returns the float32 bits of every binary16 bit pattern, from the IEEE 754 definition:
 * (-1)^s 2^(e - 15) (1 + m / 1024) for exponents 1 to 30 and (-1)^s 2^-14 (m / 1024) for
 * exponent 0. Exponent 31 is Infinity or NaN, whose mantissa is kept, shifted left by 13.
 */
function binary16Table(): Uint32Array {
  if (f16Table !== null) return f16Table;

  const values = new Float32Array(65536);
  const bits = new Uint32Array(values.buffer);
  for (let h = 0; h < 65536; h++) {
    const sign = h >> 15;
    const exponent = (h >> 10) & 31;
    const mantissa = h & 1023;

    // Writing a NaN through a Float32Array may change its payload, so these go in as bits.
    if (exponent === 31) {
      bits[h] = (sign << 31) | 0x7f800000 | (mantissa << 13);
      continue;
    }
    const magnitude = exponent === 0 ? mantissa * 2 ** -24 : (1024 + mantissa) * 2 ** (exponent - 25);
    values[h] = sign === 1 ? -magnitude : magnitude;
  }
  f16Table = bits;
  return bits;
}

/** Returns the value of one 16-bit float given as its bits. */
export function halfToNumber(bits: number, dtype: HalfLogits["dtype"]): number {
  const word = new Uint32Array([dtype === "bf16" ? bits << 16 : binary16Table()[bits]]);
  return new Float32Array(word.buffer)[0];
}

/** Writes `count` values of `half` from index `from` to `out[0 .. count)` as float32. */
function widenInto(half: HalfLogits, from: number, count: number, out: Float32Array): void {
  const source = half.bits;
  const target = new Uint32Array(out.buffer, out.byteOffset, count);
  if (half.dtype === "bf16") {
    for (let i = 0; i < count; i++) target[i] = source[from + i] << 16;
    return;
  }

  const table = binary16Table();
  for (let i = 0; i < count; i++) target[i] = table[source[from + i]];
}

/** Returns a new float32 array with every value of `half`, for a handle that keeps float32. */
export function widenAll(half: HalfLogits): Float32Array {
  const out = new Float32Array(half.bits.length);
  widenInto(half, 0, out.length, out);
  return out;
}

/**
 * Scratch arrays of CHUNK_FLOATS floats, one per logits argument (two at most), reused across
 * calls. The kernels run none of the caller's code, so no call can reenter while one uses them.
 */
const scratch: Array<Float32Array | null> = [null, null];

/** Returns a float32 array of at least `length` floats for logits argument `slot` (0 or 1). */
function scratchFor(slot: number, length: number): Float32Array {
  // NOTE: a row longer than CHUNK_FLOATS gets an array of one row per call, which is then the
  // whole input's size for a single-row call.
  if (length > CHUNK_FLOATS) return new Float32Array(length);

  let array = scratch[slot];
  if (array === null) {
    array = new Float32Array(CHUNK_FLOATS);
    scratch[slot] = array;
  }
  return array;
}

type RowArray = Float32Array | Float64Array | Int32Array;

type RowArrayType<T extends RowArray> = new (buffer: ArrayBufferLike, byteOffset: number, length: number) => T;

/** Returns the constructor of this realm for the element type of `array`. */
function typeOf<T extends RowArray>(array: T): RowArrayType<T> {
  if (array instanceof Float64Array) return Float64Array as unknown as RowArrayType<T>;
  if (array instanceof Int32Array) return Int32Array as unknown as RowArrayType<T>;
  return Float32Array as unknown as RowArrayType<T>;
}

/**
 * Returns a view of rows `[first, first + count)` of a row-major array with `perRow` values per
 * row, or null for null. The view is built from the buffer, because `subarray` would read the
 * caller's `constructor` property.
 */
function rowsOf<T extends RowArray>(array: T | null, first: number, count: number, perRow: number): T | null {
  if (array === null) return null;

  // Reading `buffer` of a small typed array makes V8 allocate an ArrayBuffer for it, so a call
  // that fits in one chunk passes its arrays as they are.
  if (first === 0 && count * perRow === lengthOf(array)) return array;

  const Type = typeOf(array);
  return new Type(bufferOf(array), byteOffsetOf(array) + first * perRow * array.BYTES_PER_ELEMENT, count * perRow);
}

/** Returns rows `[first, first + count)` of logits as float32, widened into scratch `slot` when 16-bit. */
function float32Rows(logits: Logits, slot: number, first: number, count: number, classes: number): Float32Array {
  if (ArrayBuffer.isView(logits)) return rowsOf(logits, first, count, classes)!;

  const length = count * classes;
  const out = scratchFor(slot, length);
  widenInto(logits, first * classes, length, out);
  return length === lengthOf(out) ? out : new Float32Array(out.buffer, 0, length);
}

/**
 * Runs `kernel` on the rows of up to two logits arguments, of which at least one is 16-bit, in
 * chunks of about CHUNK_FLOATS floats. `kernel` gets the chunk's first row, its row count and
 * the chunk's float32 logits.
 */
function inChunks(
  rows: number,
  classes: number,
  first: Logits,
  second: Logits | null,
  kernel: (from: number, count: number, a: Float32Array, b: Float32Array | null) => void,
): void {
  const chunkRows = Math.max(1, Math.floor(CHUNK_FLOATS / classes));

  // An empty batch still makes one call with 0 rows, as on float32 logits.
  for (let from = 0; from === 0 || from < rows; from += chunkRows) {
    const count = Math.min(chunkRows, rows - from);
    const a = float32Rows(first, 0, from, count, classes);
    const b = second === null ? null : float32Rows(second, 1, from, count, classes);
    kernel(from, count, a, b);
    if (rows === 0) break;
  }
}

/**
 * Returns row kernels that accept 16-bit logits and run `base` on them chunk by chunk after
 * widening. Float32 calls go straight to `base`, with no closure or view, because calls on tiny
 * inputs cost well under a microsecond.
 */
export function widenHalfLogits(base: RowKernels<Float32Array>): RowKernels {
  return {
    ...base,

    isStoredView: (data) => ArrayBuffer.isView(data) && base.isStoredView(data),

    store: (data) => base.store(ArrayBuffer.isView(data) ? data : widenAll(data)),

    softmaxRows: (z, rows, classes, invT, out) => {
      if (ArrayBuffer.isView(z)) {
        base.softmaxRows(z, rows, classes, invT, out);
        return;
      }

      inChunks(rows, classes, z, null, (from, count, zc) =>
        base.softmaxRows(zc, count, classes, invT, rowsOf(out, from, count, classes)!),
      );
    },

    logSoftmaxRows: (z, rows, classes, invT, out) => {
      if (ArrayBuffer.isView(z)) {
        base.logSoftmaxRows(z, rows, classes, invT, out);
        return;
      }

      inChunks(rows, classes, z, null, (from, count, zc) =>
        base.logSoftmaxRows(zc, count, classes, invT, rowsOf(out, from, count, classes)!),
      );
    },

    logSumExpRows: (z, rows, classes, invT, out) => {
      if (ArrayBuffer.isView(z)) {
        base.logSumExpRows(z, rows, classes, invT, out);
        return;
      }

      inChunks(rows, classes, z, null, (from, count, zc) =>
        base.logSumExpRows(zc, count, classes, invT, rowsOf(out, from, count, 1)!),
      );
    },

    entropyLogitsRows: (z, rows, classes, invT, rowLoss, gradScale, grad) => {
      if (ArrayBuffer.isView(z)) {
        base.entropyLogitsRows(z, rows, classes, invT, rowLoss, gradScale, grad);
        return;
      }

      inChunks(rows, classes, z, null, (from, count, zc) =>
        base.entropyLogitsRows(
          zc,
          count,
          classes,
          invT,
          rowsOf(rowLoss, from, count, 1)!,
          rowsOf(gradScale, from, count, 1),
          rowsOf(grad, from, count, classes),
        ),
      );
    },

    crossEntropyLabelsRows: (z, labels, rows, classes, invT, weight, ignoreIndex, labelSmoothing, rowLoss, gradScale, grad) => {
      if (ArrayBuffer.isView(z)) {
        base.crossEntropyLabelsRows(
          z,
          labels,
          rows,
          classes,
          invT,
          weight,
          ignoreIndex,
          labelSmoothing,
          rowLoss,
          gradScale,
          grad,
        );
        return;
      }

      inChunks(rows, classes, z, null, (from, count, zc) =>
        base.crossEntropyLabelsRows(
          zc,
          rowsOf(labels, from, count, 1)!,
          count,
          classes,
          invT,
          weight,
          ignoreIndex,
          labelSmoothing,
          rowsOf(rowLoss, from, count, 1)!,
          rowsOf(gradScale, from, count, 1),
          rowsOf(grad, from, count, classes),
        ),
      );
    },

    crossEntropyTargetsRows: (z, targets, rows, classes, invT, weight, labelSmoothing, rowLoss, gradScale, grad) => {
      if (ArrayBuffer.isView(z)) {
        base.crossEntropyTargetsRows(z, targets, rows, classes, invT, weight, labelSmoothing, rowLoss, gradScale, grad);
        return;
      }

      inChunks(rows, classes, z, null, (from, count, zc) =>
        base.crossEntropyTargetsRows(
          zc,
          rowsOf(targets, from, count, classes)!,
          count,
          classes,
          invT,
          weight,
          labelSmoothing,
          rowsOf(rowLoss, from, count, 1)!,
          rowsOf(gradScale, from, count, 1),
          rowsOf(grad, from, count, classes),
        ),
      );
    },

    klLogitsRows: (p, q, rows, classes, invT, rowLoss, gradScale, grad) => {
      if (ArrayBuffer.isView(p) && ArrayBuffer.isView(q)) {
        base.klLogitsRows(p, q, rows, classes, invT, rowLoss, gradScale, grad);
        return;
      }

      inChunks(rows, classes, p, q, (from, count, pc, qc) =>
        base.klLogitsRows(
          pc,
          qc!,
          count,
          classes,
          invT,
          rowsOf(rowLoss, from, count, 1)!,
          rowsOf(gradScale, from, count, 1),
          rowsOf(grad, from, count, classes),
        ),
      );
    },

    jsDivergenceRows: (p, q, rows, classes, invT, beta, rowLoss, gradScale, grad) => {
      if (ArrayBuffer.isView(p) && ArrayBuffer.isView(q)) {
        base.jsDivergenceRows(p, q, rows, classes, invT, beta, rowLoss, gradScale, grad);
        return;
      }

      inChunks(rows, classes, p, q, (from, count, pc, qc) =>
        base.jsDivergenceRows(
          pc,
          qc!,
          count,
          classes,
          invT,
          beta,
          rowsOf(rowLoss, from, count, 1)!,
          rowsOf(gradScale, from, count, 1),
          rowsOf(grad, from, count, classes),
        ),
      );
    },

    distillationRows: (student, teacher, labels, ignoreIndex, rows, classes, invT, alpha, rowLoss, gradScale, grad) => {
      if (ArrayBuffer.isView(student) && ArrayBuffer.isView(teacher)) {
        base.distillationRows(student, teacher, labels, ignoreIndex, rows, classes, invT, alpha, rowLoss, gradScale, grad);
        return;
      }

      inChunks(rows, classes, student, teacher, (from, count, sc, tc) =>
        base.distillationRows(
          sc,
          tc!,
          rowsOf(labels, from, count, 1),
          ignoreIndex,
          count,
          classes,
          invT,
          alpha,
          rowsOf(rowLoss, from, count, 1)!,
          rowsOf(gradScale, from, count, 1),
          rowsOf(grad, from, count, classes),
        ),
      );
    },

    topKDistillationRows: (student, teacher, k, labels, ignoreIndex, rows, classes, invT, alpha, rowLoss, gradScale, grad) => {
      if (ArrayBuffer.isView(student)) {
        base.topKDistillationRows(student, teacher, k, labels, ignoreIndex, rows, classes, invT, alpha, rowLoss, gradScale, grad);
        return;
      }

      inChunks(rows, classes, student, null, (from, count, sc) =>
        base.topKDistillationRows(
          sc,
          rowsOf(teacher, from, count, topKRowWords(k))!,
          k,
          rowsOf(labels, from, count, 1),
          ignoreIndex,
          count,
          classes,
          invT,
          alpha,
          rowsOf(rowLoss, from, count, 1)!,
          rowsOf(gradScale, from, count, 1),
          rowsOf(grad, from, count, classes),
        ),
      );
    },

    vocabStatsRows: (z, t, rows, classes, invT, stats) => {
      if (ArrayBuffer.isView(z) && (t === null || ArrayBuffer.isView(t))) {
        base.vocabStatsRows(z, t, rows, classes, invT, stats);
        return;
      }

      inChunks(rows, classes, z, t, (from, count, zc, tc) =>
        base.vocabStatsRows(zc, tc, count, classes, invT, rowsOf(stats, from, count, VOCAB_STATS)!),
      );
    },
  };
}
