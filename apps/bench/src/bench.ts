/**
 * Benchmark run: loads the backends, computes the real-data statistics and backend differences,
 * and times every (operation, shape) on every loaded backend.
 */
import type { LoadOptions, LogitKit } from "logitkit";
import { ACCURACY_SHAPE, measureAccuracy, type AccuracyReport } from "./accuracy.js";
import { formatShape, type BenchBackend, type BenchOptions, type Shape } from "./args.js";
import type { RealData } from "./real-data.js";
import { findOp, type OpDefinition, type OpInput } from "./ops.js";
import { mulberry32, randomLabels, randomLogits } from "./prng.js";
import type { ProgressReporter } from "./progress.js";
import type { Peer, PeerName, PeerVariant } from "./peers/peers.js";
import {
  addRatios,
  melemPerSec,
  type BenchFailure,
  type BenchRecord,
  type RealDataReport,
  type RecordBackend,
} from "./report.js";
import { computeBackendDiffs, computeRealStats, type RealStats } from "./stats.js";
import {
  timeAlternating,
  timeAlternatingAsync,
  type AsyncTimedFunction,
  type BackendTiming,
  type TimingConfig,
} from "./timing.js";
import { errorMessage } from "./error-message.js";

/** Standard deviation of the random logits, about that of LLM next-token logits. */
export const RANDOM_LOGIT_STD = 3;

/** Loads one backend; rejects when it is not available. */
export type KitLoader = (backend: BenchBackend) => Promise<LogitKit>;

/** Returns the loader of the benchmark's backends on top of the library's `loadLogitKit`. */
export function backendLoader(load: (options?: LoadOptions) => Promise<LogitKit>, threads: number): KitLoader {
  return (backend) => (backend === "wasm-threads" ? load({ backend: "wasm", threads }) : load({ backend }));
}

/**
 * Platform services of a run. The CLI reads the data files and may load the peer libraries, and
 * the web page fetches the data and has no peers.
 */
export interface BenchEnvironment {
  loadRealData(): RealData | Promise<RealData>;
  /** Imports the peer module; missing where the peers cannot run. */
  importPeers?: () => Promise<typeof import("./peers/peers.js")>;
}

/** Outputs of a run, for the report. */
export interface BenchRun {
  records: BenchRecord[];
  failures: BenchFailure[];
  realData: RealDataReport | null;
  /** Errors against float64 at ACCURACY_SHAPE; null when the measurement failed. */
  accuracy: AccuracyReport | null;
  /** Each requested backend: `loaded`, or why it failed to load. */
  backends: Partial<Record<BenchBackend, string>>;
  /** With `--peers`, each peer: `loaded (...)`, or why it failed to load; null otherwise. */
  peers: Partial<Record<PeerName, string>> | null;
  /** Whether every requested part ran; false when no backend loaded or a case failed. */
  complete: boolean;
}

/** One benchmark case: an operation on one input. */
interface BenchCase {
  op: OpDefinition;
  shape: Shape;
  data: "real" | "random";
}

/** Returns the timing settings of a run: shorter warm-up and samples with `--quick`. */
export function timingConfig(options: BenchOptions): TimingConfig {
  return options.quick
    ? { reps: options.reps, warmupMs: 5, warmupCalls: 1, minSampleMs: 1 }
    : { reps: options.reps, warmupMs: 50, warmupCalls: 2, minSampleMs: 2 };
}

/** Returns a seed for the logits of one shape, so that a shape gets the same data whatever other shapes run. */
export function shapeSeed(seed: number, shape: Shape): number {
  let hash = seed >>> 0;
  for (const value of [shape.rows, shape.classes]) {
    hash = Math.imul(hash ^ value, 0x9e3779b1) >>> 0;
    hash ^= hash >>> 16;
  }
  return hash;
}

/** Returns random inputs of `shape`: two independent logit matrices and uniform labels. */
export function randomInput(shape: Shape, seed: number): OpInput {
  const random = mulberry32(shapeSeed(seed, shape));
  return {
    rows: shape.rows,
    classes: shape.classes,
    first: randomLogits(shape.rows, shape.classes, random, RANDOM_LOGIT_STD),
    second: randomLogits(shape.rows, shape.classes, random, RANDOM_LOGIT_STD),
    labels: randomLabels(shape.rows, shape.classes, random),
  };
}

/** Loads every requested backend; a backend that fails or that resolves to another backend is reported and skipped. */
export async function loadBackends(
  requested: readonly BenchBackend[],
  loader: KitLoader,
  progress: ProgressReporter,
): Promise<{ kits: Map<BenchBackend, LogitKit>; status: Partial<Record<BenchBackend, string>> }> {
  const kits = new Map<BenchBackend, LogitKit>();
  const status: Partial<Record<BenchBackend, string>> = {};

  for (const backend of requested) {
    try {
      const kit = await loader(backend);
      const expected = backend === "wasm-threads" ? "wasm" : backend;
      if (kit.backend !== expected) {
        throw new Error(`loadLogitKit({ backend: "${expected}" }) returned the ${kit.backend} backend`);
      }
      if (backend === "wasm-threads" && kit.threads < 2) {
        throw new Error(`the thread pool did not start: ${kit.threadsReason ?? "unknown reason"}`);
      }
      kits.set(backend, kit);
      status[backend] = "loaded";
    } catch (error) {
      status[backend] = `failed to load: ${errorMessage(error)}`;
      progress.log(`The ${backend} backend failed to load, so it is not timed: ${errorMessage(error)}`);
    }
  }
  return { kits, status };
}

/** Function timed in one case, with the fields of its record that the timing does not give. */
interface CaseFunction extends AsyncTimedFunction<RecordBackend> {
  variant?: PeerVariant;
  preallocatedOut: boolean;
}

/**
 * Binds one case to every loaded backend and peer and runs each function once. A function that
 * throws is reported as a failure and left out, so that the others are still timed.
 */
async function bindCase(
  benchCase: BenchCase,
  input: OpInput,
  kits: Map<BenchBackend, LogitKit>,
  peers: readonly Peer[],
  progress: ProgressReporter,
): Promise<{ functions: CaseFunction[]; failures: BenchFailure[]; releases: (() => void)[] }> {
  const { op, shape } = benchCase;
  const functions: CaseFunction[] = [];
  const failures: BenchFailure[] = [];
  const releases: (() => void)[] = [];

  const reportFailure = (backend: RecordBackend, error: unknown) => {
    failures.push({ op: op.name, ...shape, backend, error: errorMessage(error) });
    progress.log(`${op.name} ${formatShape(shape)} failed on ${backend}: ${errorMessage(error)}`);
  };

  for (const [backend, kit] of kits) {
    try {
      const run = op.bind(kit, input);
      run();
      functions.push({ backend, run, awaited: false, preallocatedOut: op.preallocatedOut });
    } catch (error) {
      reportFailure(backend, error);
    }
  }

  for (const peer of peers) {
    try {
      if (op.peerOp === null) continue;
      const bound = peer.bind(op.peerOp, input);
      if (bound === null) continue;
      releases.push(bound.release);

      for (const fn of bound.functions) {
        fn.prepare?.();
        if (fn.awaited) await fn.run();
        else fn.run();
        functions.push(fn);
      }
    } catch (error) {
      reportFailure(peer.name, error);
    }
  }
  return { functions, failures, releases };
}

/**
 * Times one case on every loaded backend and on the peers that implement its operation. When no
 * function is awaited or needs a `prepare` step, the synchronous `timeAlternating` loop runs.
 */
async function timeCase(
  benchCase: BenchCase,
  input: OpInput,
  kits: Map<BenchBackend, LogitKit>,
  peers: readonly Peer[],
  config: TimingConfig,
  progress: ProgressReporter,
  step: string,
): Promise<{ records: BenchRecord[]; failures: BenchFailure[] }> {
  const { op, shape, data } = benchCase;
  const { functions, failures, releases } = await bindCase(benchCase, input, kits, peers, progress);
  if (functions.length === 0) {
    releases.forEach((release) => release());
    return { records: [], failures };
  }

  progress.update(step, "warm-up");
  const onRun = (runIndex: number) => progress.update(step, `run ${runIndex + 1}/${config.reps}`);
  let timings: BackendTiming<RecordBackend>[];
  try {
    const needsAsync = functions.some((fn) => fn.awaited || fn.prepare !== undefined);
    timings = needsAsync ? await timeAlternatingAsync(functions, config, onRun) : timeAlternating(functions, config, onRun);
  } catch (error) {
    failures.push({ op: op.name, ...shape, backend: "all", error: errorMessage(error) });
    progress.log(`${op.name} ${formatShape(shape)} failed during the timing: ${errorMessage(error)}`);
    return { records: [], failures };
  } finally {
    releases.forEach((release) => release());
  }

  // timeAlternating* return one timing per function, in the order of `functions`.
  const records = timings.map((timing, index): BenchRecord => {
    const fn = functions[index];
    const record: BenchRecord = {
      op: op.name,
      rows: shape.rows,
      classes: shape.classes,
      backend: timing.backend,
      medianMs: timing.medianMs,
      melemPerSec: melemPerSec(shape.rows, shape.classes, timing.medianMs),
      data,
      runs: timing.runs,
      callsPerSample: timing.callsPerSample,
      minMs: timing.minMs,
      maxMs: timing.maxMs,
      preallocatedOut: fn.preallocatedOut,
    };
    if (fn.variant !== undefined) record.variant = fn.variant;
    if (fn.awaited) record.awaited = true;
    return record;
  });
  return { records, failures };
}

/** Computes the statistics with every backend and, with two backends, their largest differences. */
function analyzeRealData(data: RealData, kits: Map<BenchBackend, LogitKit>): RealDataReport {
  const statsByBackend: Partial<Record<BenchBackend, RealStats>> = {};
  for (const [backend, kit] of kits) {
    statsByBackend[backend] = computeRealStats(kit, data);
  }

  // wasm and js come first in the map, since BACKEND_NAMES orders the requested backends.
  const [first, second] = [...kits.values()];
  const diffs = second === undefined ? null : computeBackendDiffs(first, second, data);
  const statsBackend = [...kits.keys()][0];

  return {
    rows: data.rows,
    classes: data.classes,
    stats: statsByBackend[statsBackend] as RealStats,
    statsBackend,
    statsByBackend,
    maxBackendDiff: diffs === null ? null : Object.fromEntries(diffs.map((diff) => [diff.op, diff.maxAbsDiff])),
    backendDiffs: diffs,
  };
}

/**
 * Runs the benchmark with the backends that `loader` provides. Progress and errors go to
 * `progress`; the caller prints the returned records and statistics.
 */
export async function runBench(
  options: BenchOptions,
  loader: KitLoader,
  progress: ProgressReporter,
  environment: BenchEnvironment,
): Promise<BenchRun> {
  const { kits, status } = await loadBackends(options.backends, loader, progress);
  const run: BenchRun = {
    records: [],
    failures: [],
    realData: null,
    accuracy: null,
    backends: status,
    peers: null,
    complete: kits.size > 0,
  };
  if (kits.size === 0) {
    return run;
  }

  // The accuracy runs on the same seeded logits as the timings of its shape.
  progress.update(`accuracy against float64 at ${formatShape(ACCURACY_SHAPE)}`);
  try {
    const input = randomInput(ACCURACY_SHAPE, options.seed);
    run.accuracy = measureAccuracy(kits, input.first, input.labels, ACCURACY_SHAPE.classes);
  } catch (error) {
    progress.log(`The accuracy measurement failed: ${errorMessage(error)}`);
    run.failures.push({ op: "accuracy", ...ACCURACY_SHAPE, backend: "all", error: errorMessage(error) });
  }

  // The peer module is imported only here, so that a run without --peers loads no peer library.
  let peers: Peer[] = [];
  let peerOps: readonly string[] = [];
  if (options.peers) {
    if (environment.importPeers === undefined) {
      throw new Error("the peer libraries cannot run here, so run without peers");
    }
    const peerModule = await environment.importPeers();
    progress.update("loading the peer libraries");
    const loaded = await peerModule.loadPeers((message) => progress.log(message));
    peers = loaded.peers;
    peerOps = peerModule.PEER_OPS;
    run.peers = loaded.status;
  }

  const config = timingConfig(options);
  const backendText = [...kits.keys()].join(",");
  const realOps = options.real ? options.realOps.map(findOp) : [];
  const randomOps = options.randomOps.map(findOp);
  const totalCases = realOps.length + randomOps.length * options.shapes.length;
  let caseIndex = 0;

  const runCases = async (cases: BenchCase[], input: OpInput) => {
    for (const benchCase of cases) {
      caseIndex++;
      // Peers run on the random logits only, for the operations they implement.
      const casePeers = benchCase.data === "random" && benchCase.op.peerOp !== null && peerOps.includes(benchCase.op.peerOp) ? peers : [];
      const names = [backendText, ...casePeers.map((peer) => peer.name)].join(",");
      const step = `[${caseIndex}/${totalCases}] ${benchCase.op.name} ${formatShape(benchCase.shape)} ${names}`;
      progress.update(step);
      await progress.caseStarting?.(caseIndex - 1, totalCases);

      const result = await timeCase(benchCase, input, kits, casePeers, config, progress, step);
      run.records.push(...result.records);
      run.failures.push(...result.failures);
    }
  };

  if (options.real) {
    let data: RealData | undefined;
    try {
      data = await environment.loadRealData();
    } catch (error) {
      progress.log(`The real logits failed to load, so their part is skipped: ${errorMessage(error)}`);
      run.failures.push({ op: "load real data", rows: 0, classes: 0, backend: "all", error: errorMessage(error) });
      caseIndex += realOps.length;
    }

    if (data !== undefined) {
      progress.update(`real logits ${data.rows}x${data.classes}: statistics and backend differences`);
      try {
        run.realData = analyzeRealData(data, kits);
      } catch (error) {
        progress.log(`The statistics of the real logits failed: ${errorMessage(error)}`);
        run.failures.push({ op: "real-data statistics", rows: data.rows, classes: data.classes, backend: "all", error: errorMessage(error) });
      }

      const input: OpInput = {
        rows: data.rows,
        classes: data.classes,
        first: data.teacher,
        second: data.student,
        labels: data.labels,
      };
      const shape = { rows: data.rows, classes: data.classes };
      await runCases(realOps.map((op) => ({ op, shape, data: "real" })), input);
    }
  }

  for (const shape of options.shapes) {
    let input: OpInput;
    progress.update(`creating random logits ${formatShape(shape)}`);
    try {
      input = randomInput(shape, options.seed);
    } catch (error) {
      progress.log(`Random logits of shape ${formatShape(shape)} could not be created, so it is skipped: ${errorMessage(error)}`);
      run.failures.push({ op: "create random logits", ...shape, backend: "all", error: errorMessage(error) });
      caseIndex += randomOps.length;
      continue;
    }
    await runCases(randomOps.map((op) => ({ op, shape, data: "random" })), input);
  }
  progress.clear();

  for (const peer of peers) {
    try {
      await peer.close();
    } catch (error) {
      progress.log(`Closing the ${peer.name} peer failed: ${errorMessage(error)}`);
    }
  }

  addRatios(run.records);
  run.complete = run.failures.length === 0;
  return run;
}
