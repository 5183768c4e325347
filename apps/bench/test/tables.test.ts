import { describe, expect, it } from "vitest";
import { columnOf, markdownTables, type TableRecord } from "../src/tables.js";

const RECORDS: TableRecord[] = [
  { op: "softmax", rows: 8, classes: 50257, backend: "wasm", data: "random", medianMs: 1 },
  { op: "softmax", rows: 8, classes: 50257, backend: "js", data: "random", medianMs: 8 },
  { op: "softmax", rows: 8, classes: 50257, backend: "tfjs-wasm", variant: "kernel", data: "random", medianMs: 1.5 },
  { op: "crossEntropy", rows: 1024, classes: 512, backend: "wasm", data: "real", medianMs: 2 },
];

describe("markdownTables", () => {
  it("names peer columns with their variant", () => {
    expect(columnOf(RECORDS[2])).toBe("tfjs-wasm (kernel)");
    expect(columnOf(RECORDS[0])).toBe("wasm");
  });

  it("pivots times and ratios against wasm", () => {
    const lines = markdownTables(RECORDS).split("\n");
    expect(lines[0]).toBe("| op | shape | wasm | js | tfjs-wasm (kernel) |");
    expect(lines[2]).toBe("| softmax | 8 x 50257 | 1.000 | 8.000 | 1.500 |");
    expect(lines[3]).toBe("| crossEntropy | 1024 x 512 (real) | 2.000 | - | - |");
    expect(lines[5]).toBe("| op | shape | js / wasm | tfjs-wasm (kernel) / wasm |");
    expect(lines[7]).toBe("| softmax | 8 x 50257 | 8.00x | 1.50x |");
    expect(lines[8]).toBe("| crossEntropy | 1024 x 512 (real) | - | - |");
  });
});
