/**
 * Code shared by the calling thread and the workers of the thread pool. Both functions here are
 * sent to the workers as source text, so neither may refer to anything outside its own body:
 * imports, module constants and helpers are invisible in a worker. The control layout travels
 * in the first message instead.
 *
 * Protocol over the control block (an Int32Array and a Float64Array on one SharedArrayBuffer):
 * - Tasks have increasing sequence numbers. The caller writes task `seq` into slot `seq & 1`,
 *   resets `claim` and `done`, then stores `seq` (a sequentially consistent store, so a thread
 *   that loads the new `seq` also reads the task) and wakes the workers. Two slots let a late
 *   thread still read its old task intact while the next one is written into the other slot.
 * - Every thread, the caller included, claims chunks of rows with a compare-and-swap on one
 *   word that holds the task's tag (low bits of `seq`) above the next chunk index (low 12 bits).
 *   A late thread whose task is over finds another tag and claims nothing, so it never runs a
 *   chunk with stale arguments.
 * - `done` counts finished chunks; the thread that finishes the last one wakes the caller.
 * - Each finished chunk also stores the task's tag in its slot of the chunk flags, so that a
 *   caller whose wait stalls can find the chunks that a stopped worker had claimed and never
 *   finished, and run them itself.
 */

/** Indices into the control block, sent to every worker. */
export interface ControlLayout {
  /** Int32 slots shared by all tasks. */
  SEQ: number;
  CLAIM: number;
  DONE: number;
  FAILED: number;
  STOP: number;
  /** Int32 index of task slot 0; slot 1 follows `TASK_INTS` later. Fields in each slot: */
  TASK: number;
  TASK_INTS: number;
  KERNEL: number;
  ARG_COUNT: number;
  ROWS_ARG: number;
  TOTAL_ROWS: number;
  CHUNK_ROWS: number;
  CHUNKS: number;
  INT_SLOTS: number;
  /**
   * Byte offset of the Float64Array. Each task slot has `MAX_ARGS` arguments (for the first row)
   * followed by the byte stride per row of each argument (0 for arguments that are not pointers).
   */
  NUMBERS_OFFSET: number;
  MAX_ARGS: number;
  /** Loads of a flag before a thread falls back to Atomics.wait (see the worker loop). */
  SPIN_LOOPS: number;
  /** Byte offset of the Int32 chunk flags, one per chunk index below `MAX_CHUNKS`. */
  FLAGS_OFFSET: number;
  MAX_CHUNKS: number;
}

/**
 * Runs every chunk it can claim of the published task with sequence `seq`. With `chunk`, runs
 * that one chunk without claiming it, which the caller uses to take over a stopped worker's chunk.
 */
export type ChunkRunner = (seq: number, chunk?: number) => void;

/**
 * Returns the chunk loop of one thread: it claims chunks of the task published under `seq`
 * until none is left, calls the kernel on each with pointers advanced to the chunk's first row,
 * and counts it in `done`. A kernel that throws marks the task failed and still counts its chunk,
 * so the caller never waits for it forever.
 */
export function createChunkRunner(
  control: SharedArrayBuffer,
  layout: ControlLayout,
  kernels: ReadonlyArray<(...args: number[]) => unknown>,
): ChunkRunner {
  const L = layout;
  const ints = new Int32Array(control, 0, L.INT_SLOTS);
  const numbers = new Float64Array(control, L.NUMBERS_OFFSET, 4 * L.MAX_ARGS);
  const flags = new Int32Array(control, L.FLAGS_OFFSET, L.MAX_CHUNKS);
  const args: number[] = [];

  return function runChunks(seq: number, only?: number): void {
    const slot = seq & 1;
    const task = L.TASK + slot * L.TASK_INTS;
    const base = slot * 2 * L.MAX_ARGS;
    const kernel = kernels[ints[task + L.KERNEL]];
    const argCount = ints[task + L.ARG_COUNT];
    const rowsArg = ints[task + L.ROWS_ARG];
    const totalRows = ints[task + L.TOTAL_ROWS];
    const chunkRows = ints[task + L.CHUNK_ROWS];
    const chunks = ints[task + L.CHUNKS];
    args.length = argCount;

    const tag = seq & 0x7ffff;
    for (;;) {
      let chunk: number;
      if (only === undefined) {
        const word = Atomics.load(ints, L.CLAIM);
        chunk = word & 0xfff;
        if (word >>> 12 !== tag || chunk >= chunks) return;
        if (Atomics.compareExchange(ints, L.CLAIM, word, word + 1) !== word) continue;
      } else {
        chunk = only;
      }

      const first = chunk * chunkRows;
      for (let k = 0; k < argCount; k++) args[k] = numbers[base + k] + first * numbers[base + L.MAX_ARGS + k];
      args[rowsArg] = Math.min(chunkRows, totalRows - first);
      try {
        kernel(...args);
      } catch {
        Atomics.store(ints, L.FAILED, 1);
      }
      Atomics.store(flags, chunk, tag);
      if (Atomics.add(ints, L.DONE, 1) + 1 === chunks) Atomics.notify(ints, L.DONE);
      if (only !== undefined) return;
    }
  };
}

/**
 * Body of a worker thread, in Node.js (`worker_threads`) and in
 * browsers (a dedicated Web Worker); `port` is `parentPort` or the worker's global scope. It receives the compiled module, the shared memory and the
 * control block, instantiates the kernels, replies "ready", and then waits on `seq` for tasks
 * until the pool sets `stop`. It never returns to its event loop, so every exchange after the
 * first message goes through the shared control block.
 */
export function workerMain(makeRunner: typeof createChunkRunner, port: WorkerPort): void {
  port.addEventListener("message", function start(event) {
    const init = event.data as {
      module: WebAssembly.Module;
      memory: WebAssembly.Memory;
      control: SharedArrayBuffer;
      layout: ControlLayout;
      kernelNames: string[];
    };
    let runChunks: ChunkRunner;
    try {
      const instance = new WebAssembly.Instance(init.module, {
        env: {
          memory: init.memory,
          abort: () => {
            throw new Error("logitkit kernel aborted");
          },
        },
      });
      const exports = instance.exports as Record<string, (...args: number[]) => unknown>;
      runChunks = makeRunner(init.control, init.layout, init.kernelNames.map((name) => exports[name]));
    } catch (error) {
      port.postMessage({ failed: String(error) });
      return;
    }
    port.postMessage({ ready: true });

    const L = init.layout;
    const ints = new Int32Array(init.control, 0, L.INT_SLOTS);
    let seen = Atomics.load(ints, L.SEQ);
    for (;;) {
      // Spin before sleeping: the stages of one call follow each other within microseconds,
      // while a wake-up from Atomics.wait took about 0.1 ms on a 2-core virtual machine.
      for (let spin = 0; spin < L.SPIN_LOOPS && Atomics.load(ints, L.SEQ) === seen; spin++);
      Atomics.wait(ints, L.SEQ, seen);
      if (Atomics.load(ints, L.STOP) === 1) return;
      const seq = Atomics.load(ints, L.SEQ);
      if (seq === seen) continue;
      seen = seq;
      runChunks(seq);
    }
  });
}

/** The side of a worker's message channel that faces the pool. */
export interface WorkerPort {
  postMessage(message: unknown): void;
  addEventListener(type: "message", listener: (event: { data: unknown }) => void): void;
}

/**
 * Returns the source text of a worker, an ES module: both functions above, then the call that
 * starts it with the message port of its platform. The Node.js import stays in a string because
 * bundlers rewrite imports written in code, and the rewritten names do not exist in the worker.
 * The functions are passed as expressions, never by name, because minifiers rename them.
 */
export function workerSource(platform: "node" | "browser"): string {
  const prelude = platform === "node" ? 'import { parentPort } from "node:worker_threads";\n' : "";
  const port = platform === "node" ? "parentPort" : "self";
  return `${prelude}(${workerMain.toString()})((${createChunkRunner.toString()}), ${port});\n`;
}
