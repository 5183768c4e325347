import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DEFAULT_DATA_DIR, IGNORE_INDEX, loadRealData, nextTokenLabels } from "../src/data.js";

describe("nextTokenLabels", () => {
  it("shifts tokens by one within each sequence", () => {
    const tokens = Int32Array.from([1, 5, 6, 7, 1, 8, 9, 10]);

    expect(Array.from(nextTokenLabels(tokens, 4))).toEqual([5, 6, 7, IGNORE_INDEX, 8, 9, 10, IGNORE_INDEX]);
  });

  it("uses the given ignore index", () => {
    expect(Array.from(nextTokenLabels(Int32Array.from([3, 4]), 2, -1))).toEqual([4, -1]);
  });

  it("rejects a length that does not divide the tokens", () => {
    expect(() => nextTokenLabels(new Int32Array(10), 3)).toThrow(/invalid sequence length 3 for 10 tokens/);
    expect(() => nextTokenLabels(new Int32Array(10), 0)).toThrow(RangeError);
  });
});

describe("loadRealData", () => {
  const data = loadRealData();

  it("has the stories260K shapes", () => {
    expect(data.rows).toBe(1024);
    expect(data.classes).toBe(512);
    expect(data.sequences).toBe(8);
    expect(data.length).toBe(128);
    expect(data.teacher.length).toBe(1024 * 512);
    expect(data.student.length).toBe(1024 * 512);
    expect(data.tokens.length).toBe(1024);
  });

  it("reads the files as little-endian values", () => {
    const teacherBytes = readFileSync(join(DEFAULT_DATA_DIR, "teacher.f32"));
    const studentBytes = readFileSync(join(DEFAULT_DATA_DIR, "student-q8.f32"));
    const tokenBytes = readFileSync(join(DEFAULT_DATA_DIR, "tokens.i32"));

    for (const index of [0, 1, 511, 512, 300_000, 1024 * 512 - 1]) {
      expect(data.teacher[index]).toBe(teacherBytes.readFloatLE(index * 4));
      expect(data.student[index]).toBe(studentBytes.readFloatLE(index * 4));
    }
    for (let index = 0; index < 1024; index++) {
      expect(data.tokens[index]).toBe(tokenBytes.readInt32LE(index * 4));
    }
  });

  it("starts every sequence with BOS", () => {
    for (let sequence = 0; sequence < 8; sequence++) {
      expect(data.tokens[sequence * 128]).toBe(1);
    }
  });

  it("ignores exactly the last row of each sequence", () => {
    for (let row = 0; row < data.rows; row++) {
      if (row % 128 === 127) {
        expect(data.labels[row]).toBe(IGNORE_INDEX);
      } else {
        expect(data.labels[row]).toBe(data.tokens[row + 1]);
      }
    }
    expect(data.labels.filter((label) => label === IGNORE_INDEX).length).toBe(8);
  });
});

describe("loadRealData errors", () => {
  const dir = mkdtempSync(join(tmpdir(), "logitkit-bench-data-"));
  for (const name of ["meta.json", "teacher.f32", "student-q8.f32", "tokens.i32"]) {
    copyFileSync(join(DEFAULT_DATA_DIR, name), join(dir, name));
  }
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("rejects a logits file of the wrong size", () => {
    writeFileSync(join(dir, "student-q8.f32"), new Uint8Array(1024 * 512 * 4 - 4));

    expect(() => loadRealData(dir)).toThrow(/student-q8\.f32 has 2097148 bytes, expected 2097152 \(1024 x 512/);
    copyFileSync(join(DEFAULT_DATA_DIR, "student-q8.f32"), join(dir, "student-q8.f32"));
  });

  it("rejects a token outside the vocabulary", () => {
    const tokens = Buffer.alloc(1024 * 4);
    for (let index = 0; index < 1024; index++) {
      tokens.writeInt32LE(index === 17 ? 512 : 3, index * 4);
    }
    writeFileSync(join(dir, "tokens.i32"), tokens);

    expect(() => loadRealData(dir)).toThrow(/token 512 at index 17 is outside the vocabulary \[0, 512\)/);
    copyFileSync(join(DEFAULT_DATA_DIR, "tokens.i32"), join(dir, "tokens.i32"));
  });

  it("rejects an invalid meta.json shape", () => {
    writeFileSync(join(dir, "meta.json"), JSON.stringify({ sequences: 8, length: 128, vocab: 0 }));

    expect(() => loadRealData(dir)).toThrow(/invalid "vocab" 0, expected a positive integer/);
    copyFileSync(join(DEFAULT_DATA_DIR, "meta.json"), join(dir, "meta.json"));
  });
});
