import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  formatOfPath,
  InputError,
  openFile,
  openLogitFile,
  openTokenFile,
  parseNpyDictionary,
  type FileOpener,
  type LogitFileOptions,
} from "../src/logit-files.js";
import {
  float32Bytes,
  float32ToBfloat16BitsTruncated,
  float32ToHalfBitsTruncated,
  halfBitsValue,
  int32Bytes,
  npyBytes,
  safetensorsBytes,
  uint16Bytes,
} from "./logit-file-writers.js";

const dir = mkdtempSync(join(tmpdir(), "logitkit-files-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let fileCount = 0;
/** Writes `bytes` to a new file in the temp folder whose name ends in `suffix`. */
function writeTemp(suffix: string, bytes: Uint8Array): string {
  const path = join(dir, `file${fileCount++}${suffix}`);
  writeFileSync(path, bytes);
  return path;
}

/** 3 x 4 logits with distinct values that binary16 and bfloat16 hold exactly. */
const VALUES = Float32Array.from([1, -2, 0.5, 3, -0.25, 8, 1.5, -6, 0, 2.5, -1, 4]);
const ROWS = 3;
const CLASSES = 4;

async function readAll(path: string, options: Partial<LogitFileOptions> = {}) {
  const reader = await openLogitFile(path, { role: "BASE", ...options });
  try {
    const out = new Float32Array(reader.layout.rows * reader.layout.classes);
    await reader.readRows(0, reader.layout.rows, out);
    return { layout: reader.layout, values: Array.from(out) };
  } finally {
    await reader.close();
  }
}

async function openError(path: string, options: Partial<LogitFileOptions> = {}): Promise<InputError> {
  try {
    const reader = await openLogitFile(path, { role: "BASE", ...options });
    await reader.close();
  } catch (error) {
    if (error instanceof InputError) {
      return error;
    }
    throw error;
  }
  throw new Error(`expected an InputError for ${path}`);
}

describe("formatOfPath", () => {
  it("reads the extension", () => {
    expect(formatOfPath("a/b.npy")).toBe("npy");
    expect(formatOfPath("B.SAFETENSORS")).toBe("safetensors");
    expect(formatOfPath("teacher.f32")).toBe("raw");
    expect(formatOfPath("logits")).toBe("raw");
  });
});

describe("parseNpyDictionary", () => {
  it("reads the three entries in any order", () => {
    expect(parseNpyDictionary("{'shape': (2, 3), 'fortran_order': False, 'descr': '<f4', }", "x")).toEqual({
      descr: "<f4",
      fortranOrder: false,
      shape: [2, 3],
    });
  });

  it("reads Python 2 long integers", () => {
    expect(parseNpyDictionary("{'descr': '<f2', 'fortran_order': True, 'shape': (5L, 7L), }", "x").shape).toEqual([5, 7]);
  });

  it("rejects a structured dtype", () => {
    expect(() => parseNpyDictionary("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", "x")).toThrow(
      /no string 'descr' entry \(a structured dtype is not supported\)/,
    );
  });
});

describe("openLogitFile npy", () => {
  it.each([1, 2, 3])("reads float32 of format version %i", async (version) => {
    const path = writeTemp(".npy", npyBytes({ descr: "<f4", shape: [ROWS, CLASSES], data: float32Bytes(VALUES), version }));
    const { layout, values } = await readAll(path);

    expect(values).toEqual(Array.from(VALUES));
    expect(layout).toMatchObject({ format: "npy", dtype: "f32", headerDtype: "<f4", rows: ROWS, classes: CLASSES, sequenceLength: null });
    expect(layout.dataOffset % 64).toBe(0);
  });

  it("reads float16", async () => {
    const halves = Array.from(VALUES, float32ToHalfBitsTruncated);
    const path = writeTemp(".npy", npyBytes({ descr: "<f2", shape: [ROWS, CLASSES], data: uint16Bytes(halves) }));

    expect((await readAll(path)).values).toEqual(halves.map(halfBitsValue));
  });

  it.each(["<u2", "|V2", "<V2"])("reads %s as bfloat16 with --dtype bf16", async (descr) => {
    const path = writeTemp(".npy", npyBytes({ descr, shape: [ROWS, CLASSES], data: uint16Bytes(Array.from(VALUES, float32ToBfloat16BitsTruncated)) }));

    expect((await readAll(path, { dtype: "bf16" })).values).toEqual(Array.from(VALUES));
    expect((await openError(path)).message).toMatch(new RegExp(`dtype '\\${descr}' contains 2-byte values of an unknown type; pass --dtype bf16`));
  });

  it("flattens leading dimensions and keeps the sequence length", async () => {
    const path = writeTemp(".npy", npyBytes({ descr: "<f4", shape: [1, ROWS, CLASSES], data: float32Bytes(VALUES) }));
    const { layout, values } = await readAll(path);

    expect(layout).toMatchObject({ rows: ROWS, classes: CLASSES, sequenceLength: ROWS, shape: [1, ROWS, CLASSES] });
    expect(values).toEqual(Array.from(VALUES));
  });

  it.each([
    ["big-endian", { descr: ">f4" }, /big-endian dtype '>f4' is not supported.*astype\('<f4'\)/],
    ["Fortran order", { fortranOrder: true }, /Fortran \(column-major\) order, expected C order/],
    ["float64", { descr: "<f8" }, /unsupported .npy dtype '<f8', expected '<f4' \(float32\), '<f2' \(float16\)/],
    ["one dimension", { shape: [ROWS * CLASSES] }, /shape \(12\) has 1 dimension\(s\), expected at least 2 \(rows x vocab\)/],
    ["zero rows", { shape: [0, CLASSES], data: new Uint8Array(0) }, /contains no logits/],
    ["a truncated file", { data: float32Bytes(VALUES).subarray(0, 40) }, /the file is truncated: it has 40 bytes of data, expected 48 \(shape \(3, 4\) of f32\)/],
    ["extra bytes", { data: float32Bytes(Float32Array.from([...VALUES, 9])) }, /longer than its header says: it has 52 bytes of data, expected 48/],
  ])("rejects %s", async (_case, header, message) => {
    const options = { descr: "<f4", shape: [ROWS, CLASSES], data: float32Bytes(VALUES), ...header };
    const path = writeTemp(".npy", npyBytes(options));

    expect((await openError(path)).message).toMatch(message);
  });

  it("rejects a bad magic and an unknown version", async () => {
    const good = npyBytes({ descr: "<f4", shape: [ROWS, CLASSES], data: float32Bytes(VALUES) });
    const badMagic = good.slice();
    badMagic[1] = 0x41;
    const badVersion = good.slice();
    badVersion[6] = 4;

    expect((await openError(writeTemp(".npy", badMagic))).message).toMatch(/not a .npy file: it does not start with the magic string/);
    expect((await openError(writeTemp(".npy", badVersion))).message).toMatch(/unsupported .npy format version 4.0, expected 1.0, 2.0 or 3.0/);
  });

  it("checks --vocab and --dtype against the header", async () => {
    const path = writeTemp(".npy", npyBytes({ descr: "<f4", shape: [ROWS, CLASSES], data: float32Bytes(VALUES) }));

    expect((await openError(path, { vocab: 5 })).message).toMatch(/--vocab 5 does not match the last dimension of the stored shape, 4/);
    expect((await openError(path, { dtype: "f16" })).message).toMatch(/--dtype f16 does not match the .npy dtype '<f4' \(f32\)/);
  });

  it("names the role and path in messages", async () => {
    const path = writeTemp(".npy", new Uint8Array(4));

    expect((await openError(path, { role: "TEST" })).message).toBe(`TEST ${path}: the file has 4 bytes, too few for a .npy header (at least 10)`);
  });
});

describe("openLogitFile safetensors", () => {
  const f32 = { dtype: "F32", shape: [ROWS, CLASSES], data: float32Bytes(VALUES) };

  it("reads the only tensor", async () => {
    const path = writeTemp(".safetensors", safetensorsBytes({ logits: f32 }, { format: "pt" }));
    const { layout, values } = await readAll(path);

    expect(values).toEqual(Array.from(VALUES));
    expect(layout).toMatchObject({ format: "safetensors", tensor: "logits", dtype: "f32", headerDtype: "F32" });
  });

  it("reads BF16 and F16 tensors by name", async () => {
    const bf16 = { dtype: "BF16", shape: [ROWS, CLASSES], data: uint16Bytes(Array.from(VALUES, float32ToBfloat16BitsTruncated)) };
    const f16 = { dtype: "F16", shape: [ROWS, CLASSES], data: uint16Bytes(Array.from(VALUES, float32ToHalfBitsTruncated)) };
    const path = writeTemp(".safetensors", safetensorsBytes({ first: f32, brain: bf16, half: f16 }));

    expect((await readAll(path, { tensor: "brain" })).values).toEqual(Array.from(VALUES));
    expect((await readAll(path, { tensor: "half" })).values).toEqual(Array.from(VALUES));
    expect((await readAll(path, { tensor: "first" })).layout.dataOffset).toBeGreaterThan(8);
  });

  it("asks for --tensor when there are several", async () => {
    const path = writeTemp(".safetensors", safetensorsBytes({ a: f32, b: f32 }));

    expect((await openError(path)).message).toMatch(/the file has 2 tensors, pass --tensor NAME to pick one of: a, b/);
    expect((await openError(path, { tensor: "c" })).message).toMatch(/tensor "c" \(--tensor\) not found; the file has: a, b/);
  });

  it.each([
    ["an unknown dtype", { ...f32, dtype: "I32" }, /tensor "logits": unsupported dtype I32, expected F32, F16 or BF16/],
    ["a shape that does not fit the data", { ...f32, shape: [ROWS, CLASSES + 1] }, /has 48 bytes of data, expected 60/],
  ])("rejects %s", async (_case, tensor, message) => {
    const path = writeTemp(".safetensors", safetensorsBytes({ logits: tensor }));

    expect((await openError(path)).message).toMatch(message);
  });

  it("rejects a truncated file", async () => {
    const bytes = safetensorsBytes({ logits: f32 });
    const path = writeTemp(".safetensors", bytes.subarray(0, bytes.length - 4));

    expect((await openError(path)).message).toMatch(/the file is truncated: the tensor ends at byte \d+, but the file has \d+ bytes/);
  });

  it("rejects a bad header", async () => {
    const tooLong = new Uint8Array(16);
    new DataView(tooLong.buffer).setBigUint64(0, 1000n, true);
    const notJson = safetensorsBytes({ logits: f32 });
    notJson[8] = 0x5b; // "[" where "{" starts the JSON object

    expect((await openError(writeTemp(".safetensors", tooLong))).message).toMatch(/invalid safetensors header length 1000: expected at most 8/);
    expect((await openError(writeTemp(".safetensors", notJson))).message).toMatch(/the safetensors header is not valid JSON/);
  });
});

describe("openLogitFile raw", () => {
  it("reads f32, f16 and bf16", async () => {
    const f32Path = writeTemp(".f32", float32Bytes(VALUES));
    const f16Path = writeTemp(".f16", uint16Bytes(Array.from(VALUES, float32ToHalfBitsTruncated)));
    const bf16Path = writeTemp(".bf16", uint16Bytes(Array.from(VALUES, float32ToBfloat16BitsTruncated)));

    expect(await readAll(f32Path, { vocab: CLASSES })).toMatchObject({ values: Array.from(VALUES), layout: { rows: ROWS, format: "raw", dtype: "f32" } });
    expect((await readAll(f16Path, { vocab: CLASSES, dtype: "f16" })).values).toEqual(Array.from(VALUES));
    expect((await readAll(bf16Path, { vocab: CLASSES, dtype: "bf16" })).values).toEqual(Array.from(VALUES));
  });

  it("rejects a size that is not whole rows", async () => {
    const path = writeTemp(".f32", float32Bytes(VALUES).subarray(0, 44));

    expect((await openError(path, { vocab: CLASSES })).message).toMatch(
      /the file has 44 bytes, expected a positive multiple of one row, 16 bytes \(--vocab 4 values of f32\); check --vocab and --dtype/,
    );
  });

  it("rejects a raw file without --vocab", async () => {
    expect((await openError(writeTemp(".f32", float32Bytes(VALUES)))).message).toMatch(/a raw file needs --vocab N/);
  });

  it("rejects a .npy file read as raw", async () => {
    const path = writeTemp(".bin", npyBytes({ descr: "<f4", shape: [ROWS, CLASSES], data: float32Bytes(VALUES) }));

    expect((await openError(path, { vocab: CLASSES })).message).toMatch(/starts with the .npy magic string but is read as raw; rename it to end in .npy/);
  });

  it("reports a missing file", async () => {
    const path = join(dir, "missing.f32");

    expect((await openError(path, { vocab: 4 })).message).toMatch(new RegExp(`^BASE ${path}: cannot open the file: ENOENT`));
  });
});

describe("LogitFileReader.readRows", () => {
  it("reads a middle range with one request of that range's bytes", async () => {
    const path = writeTemp(".npy", npyBytes({ descr: "<f2", shape: [ROWS, CLASSES], data: uint16Bytes(Array.from(VALUES, float32ToHalfBitsTruncated)) }));
    const requests: { length: number; position: number }[] = [];
    const recordingOpener: FileOpener = async (filePath) => {
      const file = await openFile(filePath);
      return {
        size: file.size,
        read: (buffer, offset, length, position) => {
          requests.push({ length, position });
          return file.read(buffer, offset, length, position);
        },
        close: () => file.close(),
      };
    };

    const reader = await openLogitFile(path, { role: "BASE" }, recordingOpener);
    requests.length = 0;
    const out = new Float32Array(CLASSES);
    await reader.readRows(1, 1, out);
    await reader.close();

    expect(Array.from(out)).toEqual(Array.from(VALUES.subarray(CLASSES, 2 * CLASSES)));
    expect(requests).toEqual([{ length: CLASSES * 2, position: reader.layout.dataOffset + CLASSES * 2 }]);
  });

  it("rejects rows outside the file", async () => {
    const reader = await openLogitFile(writeTemp(".f32", float32Bytes(VALUES)), { role: "BASE", vocab: CLASSES });

    await expect(reader.readRows(2, 2, new Float32Array(8))).rejects.toThrow(/rows \[2, 4\) are outside \[0, 3\)/);
    await reader.close();
  });

  it("reports a file that shrank after opening", async () => {
    const path = writeTemp(".f32", float32Bytes(VALUES));
    const reader = await openLogitFile(path, { role: "BASE", vocab: CLASSES });
    writeFileSync(path, float32Bytes(VALUES).subarray(0, 16));

    await expect(reader.readRows(0, ROWS, new Float32Array(12))).rejects.toThrow(/the file ended at byte 16, expected 32 more bytes/);
    await reader.close();
  });
});

describe("openTokenFile", () => {
  const tokens = Int32Array.from([1, 3, 0, 2, 1, 3]);

  async function readTokens(path: string, count = tokens.length, vocab = 4) {
    const reader = await openTokenFile(path, count, vocab);
    try {
      const out = new Int32Array(count);
      await reader.readTokens(0, count, out);
      return { layout: reader.layout, tokens: Array.from(out) };
    } finally {
      await reader.close();
    }
  }

  it("reads raw int32", async () => {
    expect(await readTokens(writeTemp(".i32", int32Bytes(tokens)))).toMatchObject({ tokens: Array.from(tokens), layout: { format: "raw", sequenceLength: null } });
  });

  it("reads int64 .npy and takes the length of a 2-D shape", async () => {
    const data = new Uint8Array(new BigInt64Array(Array.from(tokens, BigInt)).buffer);
    const result = await readTokens(writeTemp(".npy", npyBytes({ descr: "<i8", shape: [2, 3], data })));

    expect(result.tokens).toEqual(Array.from(tokens));
    expect(result.layout).toMatchObject({ dtype: "i64", sequenceLength: 3, count: 6 });
  });

  it("reads int32 .npy", async () => {
    expect((await readTokens(writeTemp(".npy", npyBytes({ descr: "<i4", shape: [6], data: int32Bytes(tokens) })))).tokens).toEqual(Array.from(tokens));
  });

  it("rejects a token outside the vocabulary", async () => {
    const path = writeTemp(".i32", int32Bytes(Int32Array.from([1, 2, 4, 0])));

    await expect(readTokens(path, 4, 4)).rejects.toThrow(/--tokens .*: token 4 at index 2 is outside the vocabulary \[0, 4\)/);
  });

  it("rejects a count that differs from the rows", async () => {
    await expect(openTokenFile(writeTemp(".i32", int32Bytes(tokens)), 5, 4)).rejects.toThrow(/the file has 6 tokens, expected 5, one per row of logits/);
  });

  it("rejects an unsupported dtype and a partial value", async () => {
    const floatTokens = writeTemp(".npy", npyBytes({ descr: "<f4", shape: [6], data: float32Bytes(Float32Array.from(tokens)) }));

    await expect(openTokenFile(floatTokens, 6, 4)).rejects.toThrow(/unsupported token dtype '<f4', expected '<i4' \(int32\) or '<i8' \(int64\)/);
    await expect(openTokenFile(writeTemp(".i32", new Uint8Array(10)), 2, 4)).rejects.toThrow(/the file has 10 bytes, expected a multiple of 4/);
  });
});
