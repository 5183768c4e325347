/**
 * The stories260K next-token logits (see `data/stories260k/README.md`): teacher and
 * int8-quantized student logits of the stories260K model, and the sampled tokens. This module
 * decodes and checks the files' bytes, in Node and in browsers. `data.ts` reads the files from
 * disk, and the web page fetches them.
 */

/** Label value of the rows that have no next token; the library's default `ignoreIndex`. */
export const IGNORE_INDEX = -100;

/** File names inside the data folder. */
export const DATA_FILES = {
  meta: "meta.json",
  teacher: "teacher.f32",
  student: "student-q8.f32",
  tokens: "tokens.i32",
} as const;

/** Logits and labels of the stories260K data, as float32 / int32 arrays in native layout. */
export interface RealData {
  /** Folder or URL the files were read from. */
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
export interface DataMeta {
  sequences: number;
  length: number;
  vocab: number;
}

/** Raw contents of the three binary files. */
export interface DataFileBytes {
  teacher: Uint8Array;
  student: Uint8Array;
  tokens: Uint8Array;
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

/** Parses `meta.json` and checks the shape fields; `where` names the file in errors. */
export function parseDataMeta(text: string, where: string): DataMeta {
  const meta = JSON.parse(text) as Record<string, unknown>;

  for (const key of ["sequences", "length", "vocab"] as const) {
    const value = meta[key];
    if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
      throw new RangeError(`${where}: invalid "${key}" ${JSON.stringify(value)}, expected a positive integer`);
    }
  }

  const shape = meta as unknown as DataMeta;
  if (meta.rows !== undefined && meta.rows !== shape.sequences * shape.length) {
    throw new RangeError(
      `${where}: "rows" is ${JSON.stringify(meta.rows)}, expected sequences x length = ${shape.sequences * shape.length}`,
    );
  }
  return shape;
}

/** Checks that `bytes` contains exactly `count` 4-byte values and returns a view of them. */
function sizedView(bytes: Uint8Array, count: number, shapeText: string, where: string): DataView {
  const expectedBytes = count * 4;

  if (bytes.byteLength !== expectedBytes) {
    throw new RangeError(
      `${where} has ${bytes.byteLength} bytes, expected ${expectedBytes} (${shapeText} 4-byte values as given by meta.json)`,
    );
  }
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Decodes little-endian float32 values; the file must contain exactly `count` of them. */
export function decodeFloat32(bytes: Uint8Array, count: number, shapeText: string, where: string): Float32Array {
  const view = sizedView(bytes, count, shapeText, where);
  const values = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    values[i] = view.getFloat32(i * 4, true);
  }
  return values;
}

/** Decodes little-endian int32 values; the file must contain exactly `count` of them. */
export function decodeInt32(bytes: Uint8Array, count: number, shapeText: string, where: string): Int32Array {
  const view = sizedView(bytes, count, shapeText, where);
  const values = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    values[i] = view.getInt32(i * 4, true);
  }
  return values;
}

/**
 * Decodes the files of the data folder `dir`, checks their sizes against the shape in
 * `meta.json` and every token against the vocabulary, and builds the next-token labels.
 * `pathOf` turns a file name into the path or URL that error messages show.
 */
export function decodeRealData(dir: string, meta: DataMeta, bytes: DataFileBytes, pathOf: (name: string) => string): RealData {
  const { sequences, length, vocab } = meta;
  const rows = sequences * length;
  const logitsShape = `${rows} x ${vocab}`;

  const teacher = decodeFloat32(bytes.teacher, rows * vocab, logitsShape, pathOf(DATA_FILES.teacher));
  const student = decodeFloat32(bytes.student, rows * vocab, logitsShape, pathOf(DATA_FILES.student));
  const tokens = decodeInt32(bytes.tokens, rows, `${sequences} x ${length}`, pathOf(DATA_FILES.tokens));

  const badIndex = tokens.findIndex((token) => token < 0 || token >= vocab);
  if (badIndex >= 0) {
    throw new RangeError(
      `${pathOf(DATA_FILES.tokens)}: token ${tokens[badIndex]} at index ${badIndex} is outside the vocabulary [0, ${vocab})`,
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
