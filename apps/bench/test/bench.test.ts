import { loadLogitKit } from "logitkit";
import { describe, expect, it } from "vitest";
import { parseArgs, type BenchOptions } from "../src/args.js";
import { backendLoader, randomInput, runBench, shapeSeed, timingConfig } from "../src/bench.js";
import { nodeEnvironment } from "../src/node-environment.js";
import { Progress } from "../src/progress.js";

function options(argv: string[]): BenchOptions {
  const parsed = parseArgs(argv);
  if (parsed.help) {
    throw new Error("expected options, got a help request");
  }
  return parsed.options;
}

/** Progress that collects its lines instead of writing to stderr. */
function collectingProgress(): { progress: Progress; lines: string[] } {
  const lines: string[] = [];
  return { progress: new Progress({ write: (text: string) => lines.push(text) }), lines };
}

describe("randomInput", () => {
  it("is deterministic for a seed and shape", () => {
    const a = randomInput({ rows: 3, classes: 7 }, 5);
    const b = randomInput({ rows: 3, classes: 7 }, 5);

    expect(b.first).toEqual(a.first);
    expect(b.second).toEqual(a.second);
    expect(b.labels).toEqual(a.labels);
  });

  it("draws independent matrices", () => {
    const input = randomInput({ rows: 4, classes: 100 }, 5);

    expect(input.second).not.toEqual(input.first);
    expect(input.first.length).toBe(400);
    expect(input.labels.every((label) => label >= 0 && label < 100)).toBe(true);
  });

  it("gives each shape its own seed", () => {
    expect(shapeSeed(1, { rows: 8, classes: 50257 })).not.toBe(shapeSeed(1, { rows: 1, classes: 50257 }));
    expect(shapeSeed(1, { rows: 8, classes: 50257 })).not.toBe(shapeSeed(2, { rows: 8, classes: 50257 }));
  });
});

describe("timingConfig", () => {
  it("samples at least 2 ms by default", () => {
    expect(timingConfig(options([]))).toMatchObject({ reps: 15, minSampleMs: 2 });
    expect(timingConfig(options(["--quick"]))).toMatchObject({ reps: 3, minSampleMs: 1 });
  });
});

describe("runBench", () => {
  it("times js when wasm fails to load", async () => {
    const { progress, lines } = collectingProgress();
    const run = await runBench(
      options(["--quick", "--no-real", "--reps", "2", "--ops", "softmax,crossEntropyWithGrad", "--shapes", "2x16,1x8"]),
      async (backend) => {
        if (backend === "wasm") {
          throw new Error("no SIMD here");
        }
        return backendLoader(loadLogitKit, 2)(backend);
      },
      progress,
      nodeEnvironment,
    );

    expect(run.complete).toBe(true);
    expect(run.backends.wasm).toBe("failed to load: no SIMD here");
    expect(run.backends.js).toBe("loaded");
    expect(lines.join("")).toContain("The wasm backend failed to load, so it is not timed: no SIMD here");
    expect(run.records.map((record) => `${record.op} ${record.rows}x${record.classes} ${record.backend}`)).toEqual([
      "softmax 2x16 js",
      "crossEntropyWithGrad 2x16 js",
      "softmax 1x8 js",
      "crossEntropyWithGrad 1x8 js",
    ]);
    for (const record of run.records) {
      expect(record.runs).toBe(2);
      expect(record.medianMs).toBeGreaterThan(0);
      expect(record.melemPerSec).toBeCloseTo((record.rows * record.classes) / record.medianMs / 1e3, 9);
    }
  });

  it("rejects a loader that returns another backend", async () => {
    const { progress } = collectingProgress();
    const run = await runBench(
      options(["--quick", "--no-real", "--backends", "wasm", "--shapes", "1x8"]),
      () => loadLogitKit({ backend: "js" }),
      progress,
      nodeEnvironment,
    );

    expect(run.complete).toBe(false);
    expect(run.records).toEqual([]);
    expect(run.backends.wasm).toMatch(/returned the js backend/);
  });

  it("times the thread pool against one thread", async () => {
    const { progress } = collectingProgress();
    const run = await runBench(
      options(["--quick", "--no-real", "--reps", "1", "--threads", "2", "--ops", "softmax", "--shapes", "64x4096"]),
      backendLoader(loadLogitKit, 2),
      progress,
      nodeEnvironment,
    );

    expect(run.backends["wasm-threads"]).toBe("loaded");
    const threaded = run.records.find((record) => record.backend === "wasm-threads");
    const single = run.records.find((record) => record.backend === "wasm");
    expect(threaded?.ratioVsOneThread).toBeCloseTo((single?.medianMs ?? NaN) / (threaded?.medianMs ?? NaN), 12);
    expect(threaded?.ratioVsOneThread).toBeGreaterThan(0);
  });

  it("computes the real-data statistics", async () => {
    const { progress } = collectingProgress();
    const run = await runBench(
      options(["--quick", "--reps", "1", "--backends", "js", "--ops", "crossEntropy", "--shapes", "1x8"]),
      backendLoader(loadLogitKit, 2),
      progress,
      nodeEnvironment,
    );

    expect(run.realData?.statsBackend).toBe("js");
    expect(run.realData?.stats.labelledRows).toBe(1016);
    expect(run.realData?.maxBackendDiff).toBeNull();
    expect(run.records.map((record) => `${record.data} ${record.rows}x${record.classes}`)).toEqual(["real 1024x512", "random 1x8"]);
  });
});
