/**
 * The thread pool of the wasm backend: `threads - 1` workers that instantiate the shared-memory
 * build of the kernels on the same `WebAssembly.Memory` as the calling thread. A task is one
 * kernel call over many rows; the calling thread publishes it in a shared control block, takes
 * part in the work itself and returns when every chunk of rows is done, so the API stays
 * synchronous. See pool-worker.ts for the protocol.
 */
import { type ChunkRunner, type ControlLayout, createChunkRunner, workerSource } from "./pool-worker.js";

const MAX_ARGS = 12;

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
};

/** Control block size: the Int32 slots, then two task slots of arguments and strides. */
const CONTROL_BYTES = LAYOUT.NUMBERS_OFFSET + 2 * 2 * MAX_ARGS * 8;

/** The claim word keeps the chunk index in 12 bits. */
const MAX_CHUNKS = 4095;

/**
 * Chunks per thread: more than one, so that a thread slowed by other processes on a shared
 * machine leaves its remaining rows to the others instead of holding up the call.
 */
const CHUNKS_PER_THREAD = 4;

/** Maximum time of one wait of the calling thread, which then checks `done` again. */
const WAIT_MS = 1000;

/** One worker, as far as the pool needs it in Node.js and in browsers. */
interface PoolWorker {
  postMessage(message: unknown): void;
  terminate(): unknown;
}

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

type NodeWorkerModule = {
  Worker: new (url: URL) => PoolWorker & {
    unref(): void;
    once(event: string, listener: (value: unknown) => void): void;
  };
};

/** Returns Node.js's `worker_threads`, or null outside Node.js. */
async function nodeWorkerThreads(): Promise<NodeWorkerModule | null> {
  const process = (globalThis as { process?: { versions?: { node?: string }; getBuiltinModule?: (id: string) => unknown } })
    .process;
  if (typeof process?.versions?.node !== "string") return null;
  if (typeof process.getBuiltinModule === "function") {
    return process.getBuiltinModule("node:worker_threads") as NodeWorkerModule;
  }

  // Node.js before 20.16 has no getBuiltinModule. The specifier is a variable and the comments
  // make webpack and Vite skip the import, so browser bundles never resolve a Node.js module.
  const specifier = "node:worker_threads";
  return (await import(/* webpackIgnore: true */ /* @vite-ignore */ specifier)) as NodeWorkerModule;
}

/** Starts one worker and resolves once it has instantiated the kernels. */
async function startWorker(init: unknown): Promise<PoolWorker> {
  const node = await nodeWorkerThreads();
  if (node !== null) {
    // A data: URL makes the worker an ES module whatever flags the process runs with. Source run
    // with `eval: true` would follow an inherited `--input-type=module` and then lack `require`.
    const worker = new node.Worker(new URL(`data:text/javascript,${encodeURIComponent(workerSource("node"))}`));

    // An idle pool must not keep the process alive when the caller forgets dispose().
    worker.unref();
    return new Promise((resolve, reject) => {
      worker.once("error", reject);
      worker.once("exit", (code) => reject(new Error(`worker exited with code ${String(code)} while starting`)));
      worker.once("message", (message) => {
        const failed = (message as { failed?: string }).failed;
        if (failed === undefined) resolve(worker);
        else reject(new Error(failed));
      });
      worker.postMessage(init);
    });
  }

  if (typeof Worker !== "function" || typeof Blob !== "function" || typeof URL?.createObjectURL !== "function") {
    throw new Error("this environment has no Web Workers");
  }
  const url = URL.createObjectURL(new Blob([workerSource("browser")], { type: "text/javascript" }));
  try {
    const worker = new Worker(url, { type: "module" });
    return await new Promise<PoolWorker>((resolve, reject) => {
      worker.addEventListener("error", (event) => reject(new Error(event.message || "a worker failed to start")));
      worker.addEventListener("message", (event: MessageEvent) => {
        const failed = (event.data as { failed?: string }).failed;
        if (failed === undefined) resolve(worker);
        else reject(new Error(failed));
      });
      worker.postMessage(init);
    });
  } finally {
    URL.revokeObjectURL(url);
  }
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
): Promise<ThreadPool> {
  const control = new SharedArrayBuffer(CONTROL_BYTES);
  const ints = new Int32Array(control, 0, LAYOUT.INT_SLOTS);
  const numbers = new Float64Array(control, LAYOUT.NUMBERS_OFFSET, 4 * MAX_ARGS);
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

  // Chunk count of the task started and not yet finished, else 0.
  let pending = 0;

  const pool: ThreadPool = {
    threads,

    run(kernel, args, strides, rowsArg, rows) {
      pool.start(kernel, args, strides, rowsArg, rows);
      pool.finish();
    },

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
      Atomics.store(ints, LAYOUT.DONE, 0);
      Atomics.store(ints, LAYOUT.FAILED, 0);
      Atomics.store(ints, LAYOUT.CLAIM, (seq & 0x7ffff) << 12);
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
      // NOTE: a worker terminated from outside while it runs a chunk leaves this loop waiting.
      let spin = 0;
      for (let done = Atomics.load(ints, LAYOUT.DONE); done < chunks; done = Atomics.load(ints, LAYOUT.DONE)) {
        if (blocking && ++spin > LAYOUT.SPIN_LOOPS) Atomics.wait(ints, LAYOUT.DONE, done, WAIT_MS);
      }
      if (Atomics.load(ints, LAYOUT.FAILED) !== 0) throw new Error("logitkit: a kernel failed on a worker thread");
    },

    dispose() {
      if (disposed) return;
      disposed = true;
      pending = 0;
      Atomics.store(ints, LAYOUT.STOP, 1);
      Atomics.store(ints, LAYOUT.SEQ, (seq + 1) | 0);
      Atomics.notify(ints, LAYOUT.SEQ);
      for (const worker of workers) worker.terminate();
    },
  };
  return pool;
}
