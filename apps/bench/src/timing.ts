/**
 * Timing of one benchmark case on several backends: warm-up, calibration of the calls per
 * sample, then timed samples that alternate between the backends so that drifts of the machine
 * (clock speed, other load) hit every backend alike.
 */

/** Settings of the timing loop. */
export interface TimingConfig {
  /** Timed samples per backend. */
  reps: number;
  /** Minimum warm-up time per backend, in ms. */
  warmupMs: number;
  /** Minimum warm-up calls per backend. */
  warmupCalls: number;
  /** Minimum duration of one sample, in ms: calls faster than this are repeated within a sample. */
  minSampleMs: number;
}

/** Function to time on one backend. */
export interface TimedFunction<B extends string = string> {
  backend: B;
  run: () => unknown;
}

/** Timing result of one backend. */
export interface BackendTiming<B extends string = string> {
  backend: B;
  /** Median time of one call over the samples, in ms. */
  medianMs: number;
  /** Fastest and slowest sample, per call, in ms. */
  minMs: number;
  maxMs: number;
  /** Timed samples. */
  runs: number;
  /** Calls in each sample; the sample time is divided by it. */
  callsPerSample: number;
}

/** Clock in ms; `performance.now` outside tests. */
export type Clock = () => number;

const defaultClock: Clock = () => performance.now();

/** Last value returned by a timed call, kept so that no call can be optimized away. */
export let lastResult: unknown;

/** Returns the median of `values` (the mean of the two middle values for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) {
    throw new RangeError("median of an empty list is undefined: expected at least one value");
  }

  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function timeCalls(run: () => unknown, calls: number, clock: Clock): number {
  const start = clock();
  for (let i = 0; i < calls; i++) {
    lastResult = run();
  }
  return clock() - start;
}

/**
 * Runs `run` for at least `warmupCalls` calls and `warmupMs`, then returns the number of calls
 * per sample. That is the smallest power of two whose batch takes at least `minSampleMs`, so
 * that a sample of a fast call is long against the resolution of the clock.
 */
export function warmUpAndCalibrate(run: () => unknown, config: TimingConfig, clock: Clock = defaultClock): number {
  const start = clock();
  let warmupCalls = 0;
  while (warmupCalls < config.warmupCalls || clock() - start < config.warmupMs) {
    lastResult = run();
    warmupCalls++;
  }

  // The cap ends the doubling for a call that the clock measures as taking no time.
  const maxCallsPerSample = 1 << 24;
  let calls = 1;
  while (calls < maxCallsPerSample && timeCalls(run, calls, clock) < config.minSampleMs) {
    calls *= 2;
  }
  return calls;
}

/**
 * Times every function of `functions` `config.reps` times, alternating between them run by run
 * and reversing their order on every other run, and returns the per-call median of each.
 * `onRun` is called before each run with its index.
 */
export function timeAlternating<B extends string>(
  functions: readonly TimedFunction<B>[],
  config: TimingConfig,
  onRun?: (runIndex: number) => void,
  clock: Clock = defaultClock,
): BackendTiming<B>[] {
  const callsPerSample = functions.map((fn) => warmUpAndCalibrate(fn.run, config, clock));
  const samples: number[][] = functions.map(() => []);

  for (let runIndex = 0; runIndex < config.reps; runIndex++) {
    onRun?.(runIndex);

    for (let k = 0; k < functions.length; k++) {
      const index = runIndex % 2 === 0 ? k : functions.length - 1 - k;
      const calls = callsPerSample[index];
      samples[index].push(timeCalls(functions[index].run, calls, clock) / calls);
    }
  }

  return functions.map((fn, index) => ({
    backend: fn.backend,
    medianMs: median(samples[index]),
    minMs: Math.min(...samples[index]),
    maxMs: Math.max(...samples[index]),
    runs: samples[index].length,
    callsPerSample: callsPerSample[index],
  }));
}

/** Function to time with `timeAlternatingAsync`. */
export interface AsyncTimedFunction<B extends string = string> extends TimedFunction<B> {
  /** Whether `run` returns a promise that each call awaits before the next call starts. */
  awaited: boolean;
  /**
   * Runs before the warm-up and before every sample, outside the timing: for example to make a
   * library's backend current when several functions share one global library state.
   */
  prepare?: () => void;
}

async function timeCallsAsync(fn: AsyncTimedFunction, calls: number, clock: Clock): Promise<number> {
  if (!fn.awaited) {
    return timeCalls(fn.run, calls, clock);
  }

  const start = clock();
  for (let i = 0; i < calls; i++) {
    lastResult = await fn.run();
  }
  return clock() - start;
}

/** `warmUpAndCalibrate` for a function that may return a promise; see there for the rules. */
export async function warmUpAndCalibrateAsync(fn: AsyncTimedFunction, config: TimingConfig, clock: Clock = defaultClock): Promise<number> {
  fn.prepare?.();
  const start = clock();
  let warmupCalls = 0;
  while (warmupCalls < config.warmupCalls || clock() - start < config.warmupMs) {
    lastResult = fn.awaited ? await fn.run() : fn.run();
    warmupCalls++;
  }

  const maxCallsPerSample = 1 << 24;
  let calls = 1;
  while (calls < maxCallsPerSample && (await timeCallsAsync(fn, calls, clock)) < config.minSampleMs) {
    calls *= 2;
  }
  return calls;
}

/**
 * `timeAlternating` for functions that may be asynchronous or need a `prepare` step. A function
 * with `awaited: false` is timed in the same synchronous loop as in `timeAlternating`, so its
 * times compare with those of `timeAlternating`. The time of an awaited call also includes the
 * promise resolution and its event-loop turn.
 */
export async function timeAlternatingAsync<B extends string>(
  functions: readonly AsyncTimedFunction<B>[],
  config: TimingConfig,
  onRun?: (runIndex: number) => void,
  clock: Clock = defaultClock,
): Promise<BackendTiming<B>[]> {
  const callsPerSample: number[] = [];
  for (const fn of functions) {
    callsPerSample.push(await warmUpAndCalibrateAsync(fn, config, clock));
  }
  const samples: number[][] = functions.map(() => []);

  for (let runIndex = 0; runIndex < config.reps; runIndex++) {
    onRun?.(runIndex);

    for (let k = 0; k < functions.length; k++) {
      const index = runIndex % 2 === 0 ? k : functions.length - 1 - k;
      const calls = callsPerSample[index];
      functions[index].prepare?.();
      samples[index].push((await timeCallsAsync(functions[index], calls, clock)) / calls);
    }
  }

  return functions.map((fn, index) => ({
    backend: fn.backend,
    medianMs: median(samples[index]),
    minMs: Math.min(...samples[index]),
    maxMs: Math.max(...samples[index]),
    runs: samples[index].length,
    callsPerSample: callsPerSample[index],
  }));
}
