import { describe, expect, it } from "vitest";
import { median, timeAlternating, timeAlternatingAsync, warmUpAndCalibrate, type TimingConfig } from "../src/timing.js";

/** Clock that advances only when a fake call runs, by that call's cost. */
function fakeClock() {
  let now = 0;
  return {
    clock: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe("median", () => {
  it("takes the middle of an odd count", () => {
    expect(median([5, 1, 3])).toBe(3);
  });

  it("averages the middle pair of an even count", () => {
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it("does not reorder its input", () => {
    const values = [3, 1, 2];
    median(values);

    expect(values).toEqual([3, 1, 2]);
  });

  it("rejects an empty list", () => {
    expect(() => median([])).toThrow(RangeError);
  });
});

describe("warmUpAndCalibrate", () => {
  const config: TimingConfig = { reps: 15, warmupMs: 10, warmupCalls: 2, minSampleMs: 2 };

  it("batches fast calls up to the minimum sample time", () => {
    const { clock, advance } = fakeClock();
    const calls = warmUpAndCalibrate(() => advance(0.1), config, clock);

    expect(calls).toBe(32);
  });

  it("uses one call per sample for slow calls", () => {
    const { clock, advance } = fakeClock();
    let count = 0;
    const calls = warmUpAndCalibrate(
      () => {
        count++;
        advance(50);
      },
      config,
      clock,
    );

    expect(calls).toBe(1);
    expect(count).toBe(3);
  });
});

describe("timeAlternating", () => {
  it("alternates backends and reverses the order every other run", () => {
    const { clock, advance } = fakeClock();
    const order: string[] = [];
    let timing = false;
    const functions = ["wasm", "js"].map((backend) => ({
      backend,
      run: () => {
        if (timing) {
          order.push(backend);
        }
        advance(backend === "wasm" ? 5 : 20);
      },
    }));

    const results = timeAlternating(
      functions,
      { reps: 4, warmupMs: 0, warmupCalls: 1, minSampleMs: 1 },
      () => {
        timing = true;
      },
      clock,
    );

    expect(order).toEqual(["wasm", "js", "js", "wasm", "wasm", "js", "js", "wasm"]);
    expect(results.map((result) => result.backend)).toEqual(["wasm", "js"]);
    expect(results[0].medianMs).toBe(5);
    expect(results[1].medianMs).toBe(20);
    expect(results[0].runs).toBe(4);
  });

  it("divides a batched sample by its call count", () => {
    const { clock, advance } = fakeClock();
    const results = timeAlternating(
      [{ backend: "js", run: () => advance(0.25) }],
      { reps: 15, warmupMs: 0, warmupCalls: 1, minSampleMs: 2 },
      undefined,
      clock,
    );

    expect(results[0].callsPerSample).toBe(8);
    expect(results[0].medianMs).toBeCloseTo(0.25, 12);
    expect(results[0].runs).toBe(15);
  });

  it("times real calls with performance.now", () => {
    const results = timeAlternating(
      [{ backend: "js", run: () => Math.sqrt(Math.random()) }],
      { reps: 3, warmupMs: 1, warmupCalls: 1, minSampleMs: 0.5 },
    );

    expect(results[0].medianMs).toBeGreaterThan(0);
    expect(results[0].callsPerSample).toBeGreaterThan(1);
  });
});

describe("timeAlternatingAsync", () => {
  it("awaits async calls and prepares each sample", async () => {
    const { clock, advance } = fakeClock();
    const events: string[] = [];
    const functions = [
      { backend: "sync", awaited: false, prepare: () => events.push("prepare sync"), run: () => advance(4) },
      {
        backend: "async",
        awaited: true,
        run: async () => {
          await Promise.resolve();
          advance(10);
        },
      },
    ];

    const results = await timeAlternatingAsync(
      functions,
      { reps: 3, warmupMs: 0, warmupCalls: 1, minSampleMs: 1 },
      (runIndex) => events.push(`run ${runIndex}`),
      clock,
    );

    expect(results.map((result) => result.backend)).toEqual(["sync", "async"]);
    expect(results[0].medianMs).toBe(4);
    expect(results[1].medianMs).toBe(10);
    expect(results[1].runs).toBe(3);
    expect(events).toEqual(["prepare sync", "run 0", "prepare sync", "run 1", "prepare sync", "run 2", "prepare sync"]);
  });
});
