/**
 * Loading of the real next-token logits in `data/stories260k` (see its README.md): teacher and
 * int8-quantized student logits of the stories260K model, and the sampled tokens.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** Label value of the rows that have no next token; the library's default `ignoreIndex`. */
export const IGNORE_INDEX = -100;

/** Folder of the stories260K files inside this app. */
export const DEFAULT_DATA_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "data", "stories260k");

/** Logits and labels of the stories260K data, as float32 / int32 arrays in native layout. */
export interface RealData {
  /** Folder the files were read from. */
  dir: string;
  /** Number of token sequences. */
  sequences: number;
  /** Tokens per sequence. */
  length: number;
  /** `sequences * length`: one row of logits per position. */
  rows: number;
  /** Vocabulary size. */
  classes: number;
  /** Logits of the float32 model, `rows x classes`. */
  teacher: Float32Array;
  /** Logits of the int8-quantized model, `rows x classes`. */
  student: Float32Array;
  /** Sampled tokens, `sequences x length`. */
  tokens: Int32Array;
  /** Next-token label of each row, `IGNORE_INDEX` at the last position of each sequence. */
  labels: Int32Array;
}

/** Shape fields of `meta.json` that the loader relies on. */
interface DataMeta {
  sequences: number;
  length: number;
  vocab: number;
}

/**
 * Builds the next-token label of every row: row r predicts the token at the next position, so
 * its label is `tokens[r + 1]`. The last position of each sequence has no next token and gets
 * `ignoreIndex`.
 */
export function nextTokenLabels(tokens: Int32Array, length: number, ignoreIndex = IGNORE_INDEX): Int32Array {
  if (!Number.isInteger(length) || length < 1 || tokens.length % length !== 0) {
    throw new RangeError(
      `invalid sequence length ${length} for ${tokens.length} tokens: expected a positive integer that divides the token count`,
    );
  }

  const labels = new Int32Array(tokens.length);
  for (let row = 0; row < tokens.length; row++) {
    labels[row] = row % length === length - 1 ? ignoreIndex : tokens[row + 1];
  }
  return labels;
}

/** Reads little-endian float32 values and checks that the file contains exactly `count` of them. */
export function readFloat32File(path: string, count: number, shapeText: string): Float32Array {
  const view = readSizedFile(path, count, shapeText);
  const values = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    values[i] = view.getFloat32(i * 4, true);
  }
  return values;
}

/** Reads little-endian int32 values and checks that the file contains exactly `count` of them. */
export function readInt32File(path: string, count: number, shapeText: string): Int32Array {
  const view = readSizedFile(path, count, shapeText);
  const values = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    values[i] = view.getInt32(i * 4, true);
  }
  return values;
}

function readSizedFile(path: string, count: number, shapeText: string): DataView {
  const bytes = readFileSync(path);
  const expectedBytes = count * 4;

  if (bytes.byteLength !== expectedBytes) {
    throw new RangeError(
      `${path} has ${bytes.byteLength} bytes, expected ${expectedBytes} (${shapeText} 4-byte values as given by meta.json)`,
    );
  }
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function readMeta(path: string): DataMeta {
  const meta = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;

  for (const key of ["sequences", "length", "vocab"] as const) {
    const value = meta[key];
    if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
      throw new RangeError(`${path}: invalid "${key}" ${JSON.stringify(value)}, expected a positive integer`);
    }
  }

  const shape = meta as unknown as DataMeta;
  if (meta.rows !== undefined && meta.rows !== shape.sequences * shape.length) {
    throw new RangeError(
      `${path}: "rows" is ${JSON.stringify(meta.rows)}, expected sequences x length = ${shape.sequences * shape.length}`,
    );
  }
  return shape;
}

/**
 * Loads `meta.json`, `teacher.f32`, `student-q8.f32` and `tokens.i32` from `dir`, checks their
 * sizes against the shape in `meta.json` and every token against the vocabulary, and builds the
 * next-token labels.
 */
export function loadRealData(dir = DEFAULT_DATA_DIR): RealData {
  const { sequences, length, vocab } = readMeta(join(dir, "meta.json"));
  const rows = sequences * length;
  const logitsShape = `${rows} x ${vocab}`;

  const teacher = readFloat32File(join(dir, "teacher.f32"), rows * vocab, logitsShape);
  const student = readFloat32File(join(dir, "student-q8.f32"), rows * vocab, logitsShape);
  const tokens = readInt32File(join(dir, "tokens.i32"), rows, `${sequences} x ${length}`);

  const badIndex = tokens.findIndex((token) => token < 0 || token >= vocab);
  if (badIndex >= 0) {
    throw new RangeError(
      `${join(dir, "tokens.i32")}: token ${tokens[badIndex]} at index ${badIndex} is outside the vocabulary [0, ${vocab})`,
    );
  }

  return {
    dir,
    sequences,
    length,
    rows,
    classes: vocab,
    teacher,
    student,
    tokens,
    labels: nextTokenLabels(tokens, length),
  };
}
