/**
 * Streaming readers of logit matrices in .npy, .safetensors and raw files, and of token files.
 * A reader checks the header and the file size when it opens the file, and then reads ranges
 * of rows at their offsets. It never reads the whole file at once, so its memory is that of
 * the largest range requested.
 */
import { open } from "node:fs/promises";
import { endianness } from "node:os";
import { extname } from "node:path";
import { errorMessage } from "./error-message.js";
import { bfloat16ToFloat32, halfToFloat32 } from "./half-float.js";

/** Element types of logits: IEEE float32, IEEE binary16 and bfloat16. */
export const LOGIT_DTYPES = ["f32", "f16", "bf16"] as const;
export type LogitDtype = (typeof LOGIT_DTYPES)[number];

export type FileFormat = "npy" | "safetensors" | "raw";

const DTYPE_BYTES: Record<LogitDtype, number> = { f32: 4, f16: 2, bf16: 2 };

/** Largest safetensors JSON header accepted, 100 MB: the safetensors library (0.4) rejects larger ones as too large. */
const MAX_SAFETENSORS_HEADER_BYTES = 100_000_000;

/** A file that is missing, unreadable, or whose header or size is invalid; the compare CLI exits 1. */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InputError";
  }
}

/** The part of an open file that the readers use, so that tests can record every read. */
export interface ReadableFile {
  /** Size in bytes when the file was opened. */
  readonly size: number;
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  close(): Promise<void>;
}

export type FileOpener = (path: string) => Promise<ReadableFile>;

/** Opens a file with `fs.promises.open`. */
export const openFile: FileOpener = async (path) => {
  const handle = await open(path, "r");
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) {
      throw new Error("not a regular file");
    }
    return {
      size: stats.size,
      read: (buffer, offset, length, position) => handle.read(buffer, offset, length, position),
      close: () => handle.close(),
    };
  } catch (error) {
    await handle.close();
    throw error;
  }
};

/** Returns the format of a file from its extension: `.npy`, `.safetensors`, anything else raw. */
export function formatOfPath(path: string): FileFormat {
  const extension = extname(path).toLowerCase();
  if (extension === ".npy") return "npy";
  if (extension === ".safetensors") return "safetensors";
  return "raw";
}

/**
 * Reads exactly `length` bytes at `position` into `buffer` from offset 0. A short read means
 * that the file shrank after its size was checked.
 */
async function readExactly(file: ReadableFile, buffer: Uint8Array, length: number, position: number, where: string): Promise<void> {
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await file.read(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) {
      throw new InputError(`${where}: the file ended at byte ${position + filled}, expected ${length - filled} more bytes (was it truncated while being read?)`);
    }
    filled += bytesRead;
  }
}

/** Opens `path`, turning a failure into an `InputError` that names the file's role. */
async function openInput(opener: FileOpener, path: string, where: string): Promise<ReadableFile> {
  if (endianness() !== "LE") {
    // NOTE: the readers view file bytes as typed arrays, which use the host's byte order.
    throw new InputError("the compare command needs a little-endian host, because it reads little-endian files through typed arrays");
  }
  try {
    return await opener(path);
  } catch (error) {
    throw new InputError(`${where}: cannot open the file: ${errorMessage(error)}`);
  }
}

/** Header of a .npy file: element type, memory order and shape. */
export interface NpyHeader {
  descr: string;
  fortranOrder: boolean;
  shape: number[];
  /** Byte offset of the data: the prefix, the header length field and the header. */
  dataOffset: number;
}

const NPY_MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"

function hasNpyMagic(bytes: Uint8Array): boolean {
  return NPY_MAGIC.every((byte, index) => bytes[index] === byte);
}

/**
 * Parses the dictionary literal of a .npy header, such as
 * `{'descr': '<f4', 'fortran_order': False, 'shape': (1024, 512), }`.
 */
export function parseNpyDictionary(text: string, where: string): Omit<NpyHeader, "dataOffset"> {
  const descr = /['"]descr['"]\s*:\s*'([^']*)'/.exec(text);
  const fortranOrder = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(text);
  const shape = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(text);

  if (!text.trimStart().startsWith("{")) {
    throw new InputError(`${where}: invalid .npy header ${JSON.stringify(text.slice(0, 80))}: expected a Python dictionary literal`);
  }
  if (descr === null) {
    throw new InputError(`${where}: the .npy header has no string 'descr' entry (a structured dtype is not supported): ${text.trim()}`);
  }
  if (fortranOrder === null || shape === null) {
    throw new InputError(`${where}: the .npy header lacks 'fortran_order' or 'shape': ${text.trim()}`);
  }

  // Python 2 wrote long integers with an L suffix.
  const dimensions = shape[1]
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "")
    .map((item) => (/^\d+L?$/.test(item) ? Number(item.replace("L", "")) : NaN));
  if (dimensions.some((dimension) => !Number.isSafeInteger(dimension))) {
    throw new InputError(`${where}: invalid .npy shape (${shape[1]}): expected non-negative integers`);
  }
  return { descr: descr[1], fortranOrder: fortranOrder[1] === "True", shape: dimensions };
}

/** Reads and checks the magic, version and header of a .npy file (versions 1.0, 2.0 and 3.0). */
async function readNpyHeader(file: ReadableFile, where: string): Promise<NpyHeader> {
  if (file.size < 10) {
    throw new InputError(`${where}: the file has ${file.size} bytes, too few for a .npy header (at least 10)`);
  }

  const prefix = new Uint8Array(12);
  await readExactly(file, prefix, Math.min(12, file.size), 0, where);
  if (!hasNpyMagic(prefix)) {
    throw new InputError(`${where}: not a .npy file: it does not start with the magic string \\x93NUMPY`);
  }

  const major = prefix[6];
  if (major < 1 || major > 3) {
    throw new InputError(`${where}: unsupported .npy format version ${major}.${prefix[7]}, expected 1.0, 2.0 or 3.0`);
  }

  // Version 1 stores the header length in 2 bytes, versions 2 and 3 in 4; all little-endian.
  const view = new DataView(prefix.buffer);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const headerStart = major === 1 ? 10 : 12;
  const dataOffset = headerStart + headerLength;
  if (dataOffset > file.size) {
    throw new InputError(`${where}: the .npy header length ${headerLength} runs past the end of the file (${file.size} bytes)`);
  }

  const headerBytes = new Uint8Array(headerLength);
  await readExactly(file, headerBytes, headerLength, headerStart, where);
  // Versions 1 and 2 encode the header in latin-1, version 3 in UTF-8.
  const text = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(headerBytes);
  return { ...parseNpyDictionary(text, where), dataOffset };
}

/** Tensor entry of a safetensors header. */
interface SafetensorsEntry {
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

function isNonNegativeIntegerArray(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((item) => Number.isSafeInteger(item) && (item as number) >= 0);
}

/** Reads the JSON header of a safetensors file and returns its tensors by name, and the data offset. */
async function readSafetensorsHeader(file: ReadableFile, where: string): Promise<{ entries: Map<string, SafetensorsEntry>; dataOffset: number }> {
  if (file.size < 8) {
    throw new InputError(`${where}: the file has ${file.size} bytes, too few for a safetensors header (at least 8)`);
  }

  const lengthBytes = new Uint8Array(8);
  await readExactly(file, lengthBytes, 8, 0, where);
  const headerLength = Number(new DataView(lengthBytes.buffer).getBigUint64(0, true));
  if (headerLength > MAX_SAFETENSORS_HEADER_BYTES || 8 + headerLength > file.size) {
    throw new InputError(
      `${where}: invalid safetensors header length ${headerLength}: expected at most ${Math.min(MAX_SAFETENSORS_HEADER_BYTES, file.size - 8)} ` +
        `(the file has ${file.size} bytes; is it a safetensors file?)`,
    );
  }

  const headerBytes = new Uint8Array(headerLength);
  await readExactly(file, headerBytes, headerLength, 8, where);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder().decode(headerBytes));
  } catch (error) {
    throw new InputError(`${where}: the safetensors header is not valid JSON: ${errorMessage(error)}`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    throw new InputError(`${where}: the safetensors header is not a JSON object`);
  }

  const entries = new Map<string, SafetensorsEntry>();
  for (const [name, value] of Object.entries(header)) {
    if (name === "__metadata__") {
      continue;
    }
    const entry = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const offsets = entry.data_offsets;
    if (
      typeof entry.dtype !== "string" ||
      !isNonNegativeIntegerArray(entry.shape) ||
      !isNonNegativeIntegerArray(offsets) ||
      offsets.length !== 2 ||
      offsets[0] > offsets[1]
    ) {
      throw new InputError(
        `${where}: invalid entry for tensor "${name}" in the safetensors header: expected dtype, shape and data_offsets [begin, end], got ${JSON.stringify(value)}`,
      );
    }
    entries.set(name, { dtype: entry.dtype, shape: entry.shape, begin: offsets[0], end: offsets[1] });
  }
  return { entries, dataOffset: 8 + headerLength };
}

/** Position, shape and element type of a matrix of logits in its file. */
export interface MatrixLayout {
  path: string;
  format: FileFormat;
  dtype: LogitDtype;
  /** Element type as the header writes it (`<f4`, `BF16`), or null for a raw file. */
  headerDtype: string | null;
  /** Shape as stored; `[rows, classes]` for a raw file. */
  shape: number[];
  /** Product of every dimension but the last. */
  rows: number;
  /** Last dimension: the vocabulary size. */
  classes: number;
  /** Tensor name inside a safetensors file, else null. */
  tensor: string | null;
  /** Next-to-last dimension of a shape with 3 or more (batch x sequence x vocab), else null. */
  sequenceLength: number | null;
  /** Byte offset of the first logit. */
  dataOffset: number;
}

/** How to open a logits file; the header of a .npy or safetensors file sets what it can. */
export interface LogitFileOptions {
  /** Role of the file in messages, such as `BASE`. */
  role: string;
  /** Vocabulary size: required for raw files, checked against the header of the others. */
  vocab?: number;
  /** Element type: that of raw files (default f32), else checked against the header. */
  dtype?: LogitDtype;
  /** Tensor to read from a safetensors file; optional when the file has one tensor. */
  tensor?: string;
}

/** Returns the dtype of a .npy descr, using `requested` (from `--dtype`) for 2-byte integers and raw bytes. */
function npyLogitDtype(descr: string, requested: LogitDtype | undefined, where: string): LogitDtype {
  const supported = "expected '<f4' (float32), '<f2' (float16), or '<u2' / '<V2' / '|V2' holding bfloat16 with --dtype bf16";

  if (descr.startsWith(">") && /^>[fiuV]\d+$/.test(descr)) {
    throw new InputError(`${where}: big-endian dtype '${descr}' is not supported, ${supported}; convert it with a.astype('<${descr.slice(1)}')`);
  }

  let dtype: LogitDtype;
  if (descr === "<f4") {
    dtype = "f32";
  } else if (descr === "<f2") {
    dtype = "f16";
  } else if (descr === "<u2" || descr === "|V2" || descr === "<V2") {
    // NumPy has no bfloat16. np.save writes an ml_dtypes.bfloat16 array with the void descr
    // '<V2' (the open ml_dtypes issue "bfloat16 & other custom dtypes incompatible with
    // np.save"), and a .view(np.uint16) as '<u2', so only the user knows the bits are bfloat16.
    if (requested !== "bf16") {
      throw new InputError(`${where}: dtype '${descr}' contains 2-byte values of an unknown type; pass --dtype bf16 if they are bfloat16 bit patterns`);
    }
    return "bf16";
  } else {
    throw new InputError(`${where}: unsupported .npy dtype '${descr}', ${supported}`);
  }

  if (requested !== undefined && requested !== dtype) {
    throw new InputError(`${where}: --dtype ${requested} does not match the .npy dtype '${descr}' (${dtype})`);
  }
  return dtype;
}

const SAFETENSORS_DTYPES: Record<string, LogitDtype> = { F32: "f32", F16: "f16", BF16: "bf16" };

/** Checks a stored shape and returns its rows (every dimension but the last) and classes. */
function rowsAndClasses(shape: number[], where: string): { rows: number; classes: number } {
  if (shape.length < 2) {
    throw new InputError(`${where}: shape (${shape.join(", ")}) has ${shape.length} dimension(s), expected at least 2 (rows x vocab)`);
  }

  const classes = shape[shape.length - 1];
  const rows = shape.slice(0, -1).reduce((product, dimension) => product * dimension, 1);
  if (rows === 0 || classes === 0) {
    throw new InputError(`${where}: shape (${shape.join(", ")}) contains no logits, expected at least one row and one class`);
  }
  if (!Number.isSafeInteger(rows * classes)) {
    throw new InputError(`${where}: shape (${shape.join(", ")}) is too large to index`);
  }
  return { rows, classes };
}

function sequenceLengthOf(shape: readonly number[]): number | null {
  return shape.length >= 3 ? shape[shape.length - 2] : null;
}

/** Checks `--vocab` against the vocabulary size that a header sets. */
function checkVocab(options: LogitFileOptions, classes: number, where: string): void {
  if (options.vocab !== undefined && options.vocab !== classes) {
    throw new InputError(`${where}: --vocab ${options.vocab} does not match the last dimension of the stored shape, ${classes}`);
  }
}

/** Checks that the data after the header has exactly the size that the shape and dtype give. */
function checkDataSize(dataBytes: number, layout: Omit<MatrixLayout, "dataOffset" | "path">, where: string): void {
  const expected = layout.rows * layout.classes * DTYPE_BYTES[layout.dtype];
  if (dataBytes !== expected) {
    const problem = dataBytes < expected ? "truncated" : "longer than its header says";
    throw new InputError(
      `${where}: the file is ${problem}: it has ${dataBytes} bytes of data, expected ${expected} ` +
        `(shape (${layout.shape.join(", ")}) of ${layout.dtype})`,
    );
  }
}

async function npyLayout(file: ReadableFile, path: string, options: LogitFileOptions, where: string): Promise<MatrixLayout> {
  const header = await readNpyHeader(file, where);
  if (header.fortranOrder) {
    throw new InputError(`${where}: the array is in Fortran (column-major) order, expected C order; save np.ascontiguousarray(a) instead`);
  }

  const dtype = npyLogitDtype(header.descr, options.dtype, where);
  const { rows, classes } = rowsAndClasses(header.shape, where);
  checkVocab(options, classes, where);

  const layout = {
    path,
    format: "npy" as const,
    dtype,
    headerDtype: header.descr,
    shape: header.shape,
    rows,
    classes,
    tensor: null,
    sequenceLength: sequenceLengthOf(header.shape),
  };
  checkDataSize(file.size - header.dataOffset, layout, where);
  return { ...layout, dataOffset: header.dataOffset };
}

async function safetensorsLayout(file: ReadableFile, path: string, options: LogitFileOptions, where: string): Promise<MatrixLayout> {
  const { entries, dataOffset } = await readSafetensorsHeader(file, where);
  const names = [...entries.keys()];
  const nameList = names.slice(0, 10).join(", ") + (names.length > 10 ? `, ... (${names.length} in all)` : "");

  let name: string;
  if (options.tensor !== undefined) {
    if (!entries.has(options.tensor)) {
      throw new InputError(`${where}: tensor "${options.tensor}" (--tensor) not found; the file has: ${nameList || "no tensors"}`);
    }
    name = options.tensor;
  } else if (names.length === 1) {
    name = names[0];
  } else {
    throw new InputError(`${where}: the file has ${names.length} tensors, pass --tensor NAME to pick one of: ${nameList || "none"}`);
  }

  const entry = entries.get(name) as SafetensorsEntry;
  const dtype = SAFETENSORS_DTYPES[entry.dtype];
  const tensorWhere = `${where}, tensor "${name}"`;
  if (dtype === undefined) {
    throw new InputError(`${tensorWhere}: unsupported dtype ${entry.dtype}, expected F32, F16 or BF16`);
  }
  if (options.dtype !== undefined && options.dtype !== dtype) {
    throw new InputError(`${tensorWhere}: --dtype ${options.dtype} does not match the safetensors dtype ${entry.dtype} (${dtype})`);
  }

  const { rows, classes } = rowsAndClasses(entry.shape, tensorWhere);
  checkVocab(options, classes, tensorWhere);
  const layout = {
    path,
    format: "safetensors" as const,
    dtype,
    headerDtype: entry.dtype,
    shape: entry.shape,
    rows,
    classes,
    tensor: name,
    sequenceLength: sequenceLengthOf(entry.shape),
  };
  checkDataSize(entry.end - entry.begin, layout, tensorWhere);
  if (dataOffset + entry.end > file.size) {
    throw new InputError(
      `${tensorWhere}: the file is truncated: the tensor ends at byte ${dataOffset + entry.end}, but the file has ${file.size} bytes`,
    );
  }
  return { ...layout, dataOffset: dataOffset + entry.begin };
}

async function rawLayout(file: ReadableFile, path: string, options: LogitFileOptions, where: string): Promise<MatrixLayout> {
  if (options.vocab === undefined) {
    throw new InputError(`${where}: a raw file needs --vocab N, the number of logits per row`);
  }

  const dtype = options.dtype ?? "f32";
  const rowBytes = options.vocab * DTYPE_BYTES[dtype];
  if (file.size >= 6) {
    const start = new Uint8Array(6);
    await readExactly(file, start, 6, 0, where);
    if (hasNpyMagic(start)) {
      throw new InputError(`${where}: the file starts with the .npy magic string but is read as raw; rename it to end in .npy`);
    }
  }
  if (file.size === 0 || file.size % rowBytes !== 0) {
    throw new InputError(
      `${where}: the file has ${file.size} bytes, expected a positive multiple of one row, ${rowBytes} bytes ` +
        `(--vocab ${options.vocab} values of ${dtype}); check --vocab and --dtype, or the file is truncated`,
    );
  }

  const rows = file.size / rowBytes;
  return {
    path,
    format: "raw",
    dtype,
    headerDtype: null,
    shape: [rows, options.vocab],
    rows,
    classes: options.vocab,
    tensor: null,
    sequenceLength: null,
    dataOffset: 0,
  };
}

/** Reads ranges of rows of a logits file as float32. */
export class LogitFileReader {
  readonly layout: MatrixLayout;
  private readonly file: ReadableFile;
  private readonly where: string;
  /** Bytes of 16-bit values before conversion; grows to the largest range requested. */
  private scratch = new Uint8Array(0);

  constructor(file: ReadableFile, layout: MatrixLayout, where: string) {
    this.file = file;
    this.layout = layout;
    this.where = where;
  }

  /**
   * Reads rows `[first, first + count)` into `out` as float32, with one read request of
   * `count x classes x bytes per value`. `out` must hold at least `count x classes` values.
   */
  async readRows(first: number, count: number, out: Float32Array): Promise<void> {
    const { rows, classes, dtype, dataOffset } = this.layout;
    if (!Number.isSafeInteger(first) || !Number.isSafeInteger(count) || first < 0 || count < 0 || first + count > rows) {
      throw new RangeError(`${this.where}: rows [${first}, ${first + count}) are outside [0, ${rows})`);
    }
    if (out.length < count * classes) {
      throw new RangeError(`${this.where}: the output has room for ${out.length} values, expected at least ${count * classes}`);
    }

    const valueBytes = DTYPE_BYTES[dtype];
    const length = count * classes * valueBytes;
    const position = dataOffset + first * classes * valueBytes;
    if (dtype === "f32") {
      await readExactly(this.file, new Uint8Array(out.buffer, out.byteOffset, length), length, position, this.where);
      return;
    }

    if (this.scratch.length < length) {
      this.scratch = new Uint8Array(length);
    }
    await readExactly(this.file, this.scratch, length, position, this.where);
    const halves = new Uint16Array(this.scratch.buffer, 0, length / 2);
    if (dtype === "f16") {
      halfToFloat32(halves, out);
    } else {
      bfloat16ToFloat32(halves, out);
    }
  }

  close(): Promise<void> {
    return this.file.close();
  }
}

/** Opens a logits file, checks its header and size, and returns a reader of its rows. */
export async function openLogitFile(path: string, options: LogitFileOptions, opener: FileOpener = openFile): Promise<LogitFileReader> {
  const where = `${options.role} ${path}`;
  const file = await openInput(opener, path, where);

  try {
    const format = formatOfPath(path);
    let layout: MatrixLayout;
    if (format === "npy") {
      layout = await npyLayout(file, path, options, where);
    } else if (format === "safetensors") {
      layout = await safetensorsLayout(file, path, options, where);
    } else {
      layout = await rawLayout(file, path, options, where);
    }
    return new LogitFileReader(file, layout, where);
  } catch (error) {
    await file.close();
    throw error;
  }
}

/** Position, shape and element type of the tokens in their file. */
export interface TokenLayout {
  path: string;
  format: "npy" | "raw";
  /** `i32` or `i64`, little-endian. */
  dtype: "i32" | "i64";
  shape: number[];
  count: number;
  /** Second dimension of a 2-D .npy array (sequences x length), else null. */
  sequenceLength: number | null;
  dataOffset: number;
}

/** Reads ranges of tokens as int32 and checks each against the vocabulary. */
export class TokenFileReader {
  readonly layout: TokenLayout;
  private readonly file: ReadableFile;
  private readonly where: string;
  private readonly vocab: number;
  private scratch = new Uint8Array(0);

  constructor(file: ReadableFile, layout: TokenLayout, vocab: number, where: string) {
    this.file = file;
    this.layout = layout;
    this.vocab = vocab;
    this.where = where;
  }

  /** Reads tokens `[first, first + count)` into `out`, with one read request; throws an `InputError` for a token outside the vocabulary. */
  async readTokens(first: number, count: number, out: Int32Array): Promise<void> {
    const { count: total, dtype, dataOffset } = this.layout;
    if (!Number.isSafeInteger(first) || !Number.isSafeInteger(count) || first < 0 || count < 0 || first + count > total) {
      throw new RangeError(`${this.where}: tokens [${first}, ${first + count}) are outside [0, ${total})`);
    }

    const valueBytes = dtype === "i32" ? 4 : 8;
    const length = count * valueBytes;
    if (this.scratch.length < length) {
      this.scratch = new Uint8Array(length);
    }
    await readExactly(this.file, this.scratch, length, dataOffset + first * valueBytes, this.where);

    const values = dtype === "i32" ? new Int32Array(this.scratch.buffer, 0, count) : new BigInt64Array(this.scratch.buffer, 0, count);
    for (let i = 0; i < count; i++) {
      const token = Number(values[i]);
      if (token < 0 || token >= this.vocab) {
        throw new InputError(`${this.where}: token ${values[i]} at index ${first + i} is outside the vocabulary [0, ${this.vocab})`);
      }
      out[i] = token;
    }
  }

  close(): Promise<void> {
    return this.file.close();
  }
}

/**
 * Opens a token file: raw little-endian int32, or a .npy array of '<i4' or '<i8' with 1 or 2
 * dimensions. The file must hold exactly `count` tokens.
 */
export async function openTokenFile(path: string, count: number, vocab: number, opener: FileOpener = openFile): Promise<TokenFileReader> {
  const where = `--tokens ${path}`;
  const file = await openInput(opener, path, where);

  try {
    let layout: TokenLayout;
    if (formatOfPath(path) === "npy") {
      const header = await readNpyHeader(file, where);
      if (header.fortranOrder && header.shape.length > 1) {
        throw new InputError(`${where}: the array is in Fortran (column-major) order, expected C order; save np.ascontiguousarray(a) instead`);
      }
      if (header.descr !== "<i4" && header.descr !== "<i8") {
        throw new InputError(`${where}: unsupported token dtype '${header.descr}', expected '<i4' (int32) or '<i8' (int64)`);
      }
      if (header.shape.length < 1 || header.shape.length > 2) {
        throw new InputError(`${where}: token shape (${header.shape.join(", ")}) has ${header.shape.length} dimensions, expected 1 (tokens) or 2 (sequences x length)`);
      }

      const dtype = header.descr === "<i4" ? "i32" : "i64";
      const tokens = header.shape.reduce((product, dimension) => product * dimension, 1);
      const dataBytes = file.size - header.dataOffset;
      if (dataBytes !== tokens * (dtype === "i32" ? 4 : 8)) {
        throw new InputError(`${where}: the file has ${dataBytes} bytes of data, expected ${tokens * (dtype === "i32" ? 4 : 8)} (shape (${header.shape.join(", ")}) of '${header.descr}')`);
      }
      layout = {
        path,
        format: "npy",
        dtype,
        shape: header.shape,
        count: tokens,
        sequenceLength: header.shape.length === 2 ? header.shape[1] : null,
        dataOffset: header.dataOffset,
      };
    } else {
      if (file.size % 4 !== 0) {
        throw new InputError(`${where}: the file has ${file.size} bytes, expected a multiple of 4 (raw little-endian int32 tokens)`);
      }
      layout = { path, format: "raw", dtype: "i32", shape: [file.size / 4], count: file.size / 4, sequenceLength: null, dataOffset: 0 };
    }

    if (layout.count !== count) {
      throw new InputError(`${where}: the file has ${layout.count} tokens, expected ${count}, one per row of logits (token r is the input at row r)`);
    }
    return new TokenFileReader(file, layout, vocab, where);
  } catch (error) {
    await file.close();
    throw error;
  }
}
