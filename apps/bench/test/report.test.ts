import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  addRatios,
  formatMs,
  formatRecordsTable,
  formatTable,
  melemPerSec,
  type BenchRecord,
  type JsonReport,
  type RecordBackend,
} from "../src/report.js";
import { defaultJsonPath, DEFAULT_RESULTS_DIR, prepareJsonPath, writeJsonReport } from "../src/report-file.js";

function record(backend: RecordBackend, medianMs: number, op = "softmax"): BenchRecord {
  return {
    op,
    rows: 8,
    classes: 50257,
    backend,
    medianMs,
    melemPerSec: melemPerSec(8, 50257, medianMs),
    data: "random",
    runs: 15,
    callsPerSample: 1,
    minMs: medianMs,
    maxMs: medianMs,
    preallocatedOut: true,
  };
}

describe("melemPerSec", () => {
  it("is million elements per second", () => {
    // 1e6 elements in 1000 ms is one million per second.
    expect(melemPerSec(1000, 1000, 1000)).toBe(1);
    expect(melemPerSec(8, 50257, 2)).toBeCloseTo(201.028, 6);
  });
});

describe("addRatios", () => {
  it("sets js time over wasm time on wasm records of the same case", () => {
    const records = [record("wasm", 2), record("js", 8), record("wasm", 1, "logSoftmax")];
    addRatios(records);

    expect(records[0].ratioVsJs).toBe(4);
    expect(records[1].ratioVsJs).toBeUndefined();
    expect(records[2].ratioVsJs).toBeUndefined();
  });
});

describe("addRatios with peers", () => {
  it("sets plainjs time over each time of the same case", () => {
    const records = [record("wasm", 2), record("js", 8), record("plainjs", 10), record("tfjs-wasm", 20), record("js", 3, "logSumExp")];
    addRatios(records);

    expect(records.map((entry) => entry.ratioVsPlainJs)).toEqual([5, 1.25, 1, 0.5, undefined]);
    expect(records[0].ratioVsJs).toBe(4);
  });
});

describe("formatRecordsTable with peers", () => {
  it("adds the variant and plainjs ratio columns", () => {
    const ort = { ...record("onnxruntime-web", 250), variant: "end-to-end" as const, awaited: true };
    const records = [record("js", 8), record("plainjs", 10), ort];
    addRatios(records);
    const lines = formatRecordsTable(records).split("\n");

    expect(lines[0]).toMatch(/backend\s+variant\s+median ms\s+Melem\/s\s+speed vs plainjs$/);
    expect(lines[2]).toMatch(/js\s+8\.000\s+50\.3\s+1\.25x$/);
    expect(lines[4]).toMatch(/onnxruntime-web\s+end-to-end, await\s+250\.0\s+1\.6\s+0\.040x$/);
  });

  it("leaves the peer columns out without peers", () => {
    const records = [record("wasm", 2), record("js", 8)];
    addRatios(records);

    expect(formatRecordsTable(records).split("\n")[0]).toMatch(/Melem\/s\s+wasm speedup vs js$/);
  });
});

describe("formatTable", () => {
  it("pads columns and aligns numbers right", () => {
    const text = formatTable(["op", "ms"], [["softmax", "1.5"], ["kl", "12.25"]], [false, true]);

    expect(text.split("\n")).toEqual(["op          ms", "-------  -----", "softmax    1.5", "kl       12.25"]);
  });
});

describe("formatRecordsTable", () => {
  it("shows the ratio on the wasm row only", () => {
    const records = [record("wasm", 2), record("js", 8)];
    addRatios(records);
    const lines = formatRecordsTable(records).split("\n");

    expect(lines[2]).toMatch(/^softmax\s+8x50257\s+random\s+wasm\s+2\.000\s+201\.0\s+4\.00x$/);
    expect(lines[3]).toMatch(/^softmax\s+8x50257\s+random\s+js\s+8\.000\s+50\.3$/);
  });
});

describe("formatMs", () => {
  it("keeps about four significant digits", () => {
    expect(formatMs(123.456)).toBe("123.5");
    expect(formatMs(1.23456)).toBe("1.235");
    expect(formatMs(0.00123456)).toBe("0.001235");
  });
});

describe("defaultJsonPath", () => {
  it("is a timestamped file in results without colons", () => {
    const path = defaultJsonPath(new Date("2025-01-02T03:04:05.678Z"));

    expect(path).toBe(join(DEFAULT_RESULTS_DIR, "bench-2025-01-02T03-04-05.678Z.json"));
    expect(DEFAULT_RESULTS_DIR.endsWith(join("apps", "bench", "results"))).toBe(true);
  });
});

describe("writeJsonReport", () => {
  it("keeps non-finite numbers as strings", () => {
    const dir = mkdtempSync(join(tmpdir(), "logitkit-bench-report-"));
    const path = join(dir, "report.json");
    const report: JsonReport = {
      machine: { cpu: "test cpu", cores: 2, node: "v20", platform: "linux-x64" },
      date: "2025-01-02T03:04:05.678Z",
      command: "pnpm bench",
      options: {},
      backends: { js: "loaded" },
      peers: null,
      totalSeconds: 1.5,
      records: [record("js", 8)],
      failures: [],
      accuracy: null,
      realData: null,
    };
    report.records[0].maxMs = Infinity;

    try {
      writeJsonReport(path, report);
      const parsed = JSON.parse(readFileSync(path, "utf8"));

      expect(parsed.records[0]).toMatchObject({ op: "softmax", rows: 8, classes: 50257, backend: "js", medianMs: 8 });
      expect(parsed.records[0].melemPerSec).toBeCloseTo(50.257, 9);
      expect(parsed.records[0].maxMs).toBe("Infinity");
      expect(parsed.machine.cores).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("prepareJsonPath", () => {
  it("rejects a missing directory before the run", () => {
    const problem = prepareJsonPath(join(tmpdir(), "logitkit-missing-dir", "x.json"), false);
    expect(problem).not.toBeNull();
  });

  it("rejects a path that is a directory", () => {
    expect(prepareJsonPath(tmpdir(), false)).not.toBeNull();
  });

  it("accepts a file in an existing directory", () => {
    const path = join(mkdtempSync(join(tmpdir(), "logitkit-json-")), "results.json");
    expect(prepareJsonPath(path, false)).toBeNull();
  });
});
