/**
 * The thread pool of the wasm backend: `threads - 1` workers that instantiate the shared-memory
 * build of the kernels on the same `WebAssembly.Memory` as the calling thread. A task is one
 * kernel call over many rows; the calling thread publishes it in a shared control block, takes
 * part in the work itself and returns when every chunk of rows is done, so the API stays
 * synchronous. See pool-worker.ts for the protocol.
 */
import { type ChunkRunner, type ControlLayout, createChunkRunner, workerSource } from "./pool-worker.js";
import { type ModuleWorker, onStopped, startModuleWorker } from "./spawn.js";

const MAX_ARGS = 12;

/** The claim word keeps the chunk index in 12 bits. */
const MAX_CHUNKS = 4095;

/** Offset of the chunk flags, after the Int32 slots and the two task slots of Float64 numbers. */
const FLAGS_OFFSET = 128 + 2 * 2 * MAX_ARGS * 8;

const LAYOUT: ControlLayout = {
  SEQ: 0,
  CLAIM: 1,
  DONE: 2,
  FAILED: 3,
  STOP: 4,
  TASK: 8,
  TASK_INTS: 8,
  KERNEL: 0,
  ARG_COUNT: 1,
  ROWS_ARG: 2,
  TOTAL_ROWS: 3,
  CHUNK_ROWS: 4,
  CHUNKS: 5,
  INT_SLOTS: 24,
  NUMBERS_OFFSET: 128,
  MAX_ARGS,
  SPIN_LOOPS: 20000,
  FLAGS_OFFSET,
  MAX_CHUNKS,
};

/** Control block size: the Int32 slots, two task slots of arguments and strides, the chunk flags. */
const CONTROL_BYTES = FLAGS_OFFSET + 4 * MAX_CHUNKS;

/**
 * Time without any finished chunk after which the calling thread decides that a worker stopped
 * (for example, terminated from outside) and runs the chunks it had claimed. One chunk takes
 * well under a second at the pool's chunk sizes (64 MiB per task), so 10 s only passes when a
 * worker is gone or the machine stalls every thread.
 */
const STALL_MS = 10_000;
/**
 * Chunks per thread: more than one, so that a thread slowed by other processes on a shared
 * machine leaves its remaining rows to the others instead of holding up the call.
 */
const CHUNKS_PER_THREAD = 4;

/** Maximum time of one wait of the calling thread, which then checks `done` again. */
const WAIT_MS = 1000;

/** One worker of the pool. */
export type PoolWorker = ModuleWorker;

/** A pool that runs row kernels on several threads; see the file comment. */
export interface ThreadPool {
  /** Number of threads that run a task, the calling thread included. */
  readonly threads: number;

  /**
   * Runs `kernels[kernel](...args)` over `rows` rows split into chunks, on every thread. `args`
   * are the arguments for the first row, `strides` the bytes to add to each argument per row (0
   * for arguments that are not row pointers), and `rowsArg` the index of the row-count argument.
   */
  run(kernel: number, args: readonly number[], strides: readonly number[], rowsArg: number, rows: number): void;

  /**
   * Publishes the same task as `run` and returns at once, so that the workers start on it while
   * the calling thread does other work, such as copying the next rows in. `finish()` completes it.
   */
  start(kernel: number, args: readonly number[], strides: readonly number[], rowsArg: number, rows: number): void;

  /** Runs chunks of the started task on the calling thread and waits for the rest; no-op without one. */
  finish(): void;

  /** Stops and terminates the workers; later `run` calls throw. */
  dispose(): void;

  /**
   * Reason why the pool stopped itself, or undefined while it works. After a stall the pool finishes
   * the call on the calling thread, terminates its workers and runs no further task.
   */
  readonly stoppedReason: string | undefined;
}

/** Options of `createThreadPool` for tests. */
export interface ThreadPoolOptions {
  /** Overrides `STALL_MS`. */
  stallMs?: number;
  /** Receives the started workers, so that a test can terminate one. */
  onWorkers?: (workers: readonly PoolWorker[]) => void;
  /**
   * Makes the first task lose its first chunk, as if a worker had claimed it and died: the
   * chunk is claimed, the workers are terminated, and only the stall takeover can run it. A
   * terminate() from outside stops a worker before it claims, so tests cannot reach that case.
   */
  loseFirstChunkForTesting?: boolean;
}

/** Whether this thread may block in `Atomics.wait` (not a browser's main thread). */
function canBlock(ints: Int32Array): boolean {
  try {
    Atomics.wait(ints, LAYOUT.FAILED, 1, 0);
    return true;
  } catch {
    return false;
  }
}

/** Starts one worker and resolves once it has instantiated the kernels. */
async function startWorker(init: unknown): Promise<PoolWorker> {
  const { worker, reply } = await startModuleWorker(workerSource, init);
  const failed = (reply as { failed?: string }).failed;
  if (failed === undefined) return worker;
  worker.terminate();
  throw new Error(failed);
}

/**
 * Starts `threads - 1` workers on `module` (the shared-memory build) and `memory`. `kernels` are
 * the calling thread's exports named by `kernelNames`, in the same order. Rejects when a worker
 * cannot start; the workers already started are terminated.
 */
export async function createThreadPool(
  threads: number,
  module: WebAssembly.Module,
  memory: WebAssembly.Memory,
  kernelNames: readonly string[],
  kernels: ReadonlyArray<(...args: number[]) => unknown>,
  options: ThreadPoolOptions = {},
): Promise<ThreadPool> {
  const stallMs = options.stallMs ?? STALL_MS;
  const control = new SharedArrayBuffer(CONTROL_BYTES);
  const ints = new Int32Array(control, 0, LAYOUT.INT_SLOTS);
  const numbers = new Float64Array(control, LAYOUT.NUMBERS_OFFSET, 4 * MAX_ARGS);
  const flags = new Int32Array(control, FLAGS_OFFSET, MAX_CHUNKS);
  const blocking = canBlock(ints);

  const init = { module, memory, control, layout: LAYOUT, kernelNames: [...kernelNames] };
  const started = await Promise.allSettled(Array.from({ length: threads - 1 }, () => startWorker(init)));
  const workers = started.flatMap((result) => (result.status === "fulfilled" ? [result.value] : []));
  const failure = started.find((result) => result.status === "rejected");
  if (failure !== undefined) {
    for (const worker of workers) worker.terminate();
    throw (failure as PromiseRejectedResult).reason;
  }

  const runChunks: ChunkRunner = createChunkRunner(control, LAYOUT, kernels);
  let seq = 0;
  let disposed = false;
  let stoppedReason: string | undefined;
  let loseChunk = options.loseFirstChunkForTesting === true;

  // Chunk count of the task started and not yet finished, else 0.
  let pending = 0;

  /** Terminates the workers; `STOP` makes any that still run leave their loop. */
  const stopWorkers = () => {
    Atomics.store(ints, LAYOUT.STOP, 1);
    Atomics.store(ints, LAYOUT.SEQ, (seq + 1) | 0);
    Atomics.notify(ints, LAYOUT.SEQ);
    for (const worker of workers) worker.terminate();
  };

  /**
   * Runs on the calling thread every chunk of the task that no thread finished, then stops the
   * pool. A worker that is only slow may still finish such a chunk, but it writes the same
   * values to the same rows, because every chunk has its own rows and scratch.
   * NOTE: such a worker could also write after the call has returned, into memory that a later
   * call reuses, if it resumes between the stall and its termination. No test covers that race.
   */
  const takeOver = (chunks: number, stalledMs: number) => {
    const tag = seq & 0x7ffff;
    let unfinished = 0;
    for (let chunk = 0; chunk < chunks; chunk++) {
      if (Atomics.load(flags, chunk) === tag) continue;
      runChunks(seq, chunk);
      unfinished++;
    }
    stoppedReason =
      `a worker thread finished no chunk for ${Math.round(stalledMs)} ms, so the calling thread ran the ${unfinished} ` +
      "unfinished chunks of that call, stopped the thread pool and runs later calls alone";
    stopWorkers();
  };

  // A worker that exits or fails while the pool runs leaves it short of a thread. Calls then still
  // finish, because the calling thread claims every chunk left, but the pool stops and records
  // the reason.
  const onWorkerLost = (index: number, detail: string) => {
    if (disposed || stoppedReason !== undefined) return;
    stoppedReason = `worker thread ${index + 1} ${detail}, so the thread pool stopped and later calls run on the calling thread`;
    stopWorkers();
  };
  workers.forEach((worker, index) => onStopped(worker, (detail) => onWorkerLost(index, detail)));
  options.onWorkers?.(workers);

  const pool: ThreadPool = {
    threads,

    get stoppedReason() {
      return stoppedReason;
    },


    run(kernel, args, strides, rowsArg, rows) {
      pool.start(kernel, args, strides, rowsArg, rows);
      pool.finish();
    },

    // After a stall the workers are gone, so the calling thread claims every chunk in finish().
    start(kernel, args, strides, rowsArg, rows) {
      if (disposed) throw new Error("logitkit: the thread pool was disposed");
      if (pending !== 0) throw new Error("logitkit: a thread pool task started before the previous one finished");
      if (args.length > MAX_ARGS) throw new Error(`logitkit: a kernel with ${args.length} arguments exceeds the pool's ${MAX_ARGS}`);

      const chunks0 = Math.min(MAX_CHUNKS, rows, threads * CHUNKS_PER_THREAD);
      const chunkRows = Math.ceil(rows / chunks0);
      const chunks = Math.ceil(rows / chunkRows);

      // Write the task into the slot that no late thread of the previous task reads.
      seq = (seq + 1) | 0;
      const task = LAYOUT.TASK + (seq & 1) * LAYOUT.TASK_INTS;
      const base = (seq & 1) * 2 * MAX_ARGS;
      ints[task + LAYOUT.KERNEL] = kernel;
      ints[task + LAYOUT.ARG_COUNT] = args.length;
      ints[task + LAYOUT.ROWS_ARG] = rowsArg;
      ints[task + LAYOUT.TOTAL_ROWS] = rows;
      ints[task + LAYOUT.CHUNK_ROWS] = chunkRows;
      ints[task + LAYOUT.CHUNKS] = chunks;
      for (let k = 0; k < args.length; k++) {
        numbers[base + k] = args[k];
        numbers[base + MAX_ARGS + k] = strides[k];
      }
      // -1 is no task's tag, so every chunk of the new task starts unfinished.
      flags.fill(-1, 0, chunks);
      Atomics.store(ints, LAYOUT.DONE, 0);
      Atomics.store(ints, LAYOUT.FAILED, 0);
      Atomics.store(ints, LAYOUT.CLAIM, (seq & 0x7ffff) << 12);
      if (loseChunk) {
        loseChunk = false;
        stopWorkers();
        Atomics.add(ints, LAYOUT.CLAIM, 1);
      }
      Atomics.store(ints, LAYOUT.SEQ, seq);
      Atomics.notify(ints, LAYOUT.SEQ);
      pending = chunks;
    },

    finish() {
      const chunks = pending;
      if (chunks === 0) return;
      pending = 0;
      runChunks(seq);

      // Chunks claimed by workers may still run. A browser's main thread cannot block, so it spins.
      let spin = 0;
      let lastDone = -1;
      let lastProgressMs = -1;
      for (let done = Atomics.load(ints, LAYOUT.DONE); done < chunks; done = Atomics.load(ints, LAYOUT.DONE)) {
        const waits = blocking && ++spin > LAYOUT.SPIN_LOOPS;
        if (waits) Atomics.wait(ints, LAYOUT.DONE, done, Math.min(WAIT_MS, stallMs));
        else spin++;

        // Progress restarts the stall clock. While spinning the clock is read every 1024 loads
        // only, so that the loop stays cheap.
        if (done !== lastDone) {
          lastDone = done;
          lastProgressMs = -1;
          continue;
        }
        if (!waits && (spin & 1023) !== 0) continue;
        const now = performance.now();
        if (lastProgressMs < 0) lastProgressMs = now;
        else if (now - lastProgressMs > stallMs) {
          takeOver(chunks, now - lastProgressMs);
          break;
        }
      }
      if (Atomics.load(ints, LAYOUT.FAILED) !== 0) throw new Error("logitkit: a kernel failed on a worker thread");
    },

    dispose() {
      if (disposed) return;
      disposed = true;
      pending = 0;
      stopWorkers();
    },
  };
  return pool;
}
