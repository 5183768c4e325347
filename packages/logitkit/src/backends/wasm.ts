/**
 * The `wasm` backend: copies the inputs into the module's linear memory, calls a SIMD kernel
 * and copies the outputs out. The kernels allocate nothing; this file lays out every buffer.
 *
 * Memory: the layout starts at the module's heap base, every buffer is 16-byte aligned, and
 * the memory grows when a call needs more (it never shrinks). Large inputs are processed in
 * chunks of whole rows, so one call's working set stays near `CHUNK_BYTES` (`POOL_CHUNK_BYTES`
 * with the thread pool). Every kernel maps
 * rows to rows independently, so chunking does not change any result. `memory.grow` detaches
 * the old buffer, so the cached views of the memory are replaced right after every growth.
 */
import { type HalfLogits, type Logits, type ProbsKind, type RowKernels, VOCAB_STATS } from "../backend.js";
import { bufferOf, byteOffsetOf, copyInto, lengthOf } from "../intrinsics.js";
import { createThreadPool, type ThreadPool, type ThreadPoolOptions } from "./pool.js";
import { topKRowWords } from "../topk.js";
import { routeRowKernels } from "./route.js";

/**
 * Target working set of one kernel call without the thread pool, in bytes. A chunk this small
 * stays in the L2 cache between the copy in, the kernel's passes and the copy out, which made
 * array calls 1.1x to 1.6x faster than 64 MiB chunks (softmax, log-softmax, cross-entropy and KL with gradients at
 * 8 x 50257, 64 x 32000 and 4 x 128256; 1 x 50257 is one row, so unchanged). The per-chunk cost
 * of a few microseconds stays small next to 1 MiB of work.
 * NOTE: measured on one 2-core AMD EPYC virtual machine (1 MiB of L2 per core) only.
 */
const CHUNK_BYTES = 1024 * 1024;

/**
 * Target working set of one chunk on the thread pool, in bytes: large enough to split across
 * the threads and to run in stages (see STAGED_MIN_BYTES).
 * NOTE: not measured against smaller chunks; CHUNK_BYTES was measured on one thread only.
 */
const POOL_CHUNK_BYTES = 64 * 1024 * 1024;

/** Largest linear memory of wasm32 (65536 pages of 64 KiB). */
const MAX_MEMORY_BYTES = 65536 * 65536;

const PAGE_BYTES = 65536;

/**
 * Smallest chunk, in bytes of row data, that the thread pool splits across threads. Waking the
 * workers and waiting for them costs some tens of microseconds, so smaller calls run on the
 * calling thread alone.
 */
const PARALLEL_MIN_BYTES = 256 * 1024;

/**
 * Smallest chunk, in bytes of row data, that the thread pool runs in stages. While the workers
 * compute one stage, the calling thread copies the next stage in and the previous one out, so
 * the copies overlap the kernels instead of adding to them.
 */
const STAGED_MIN_BYTES = 2 * 1024 * 1024;

/** Stages of a staged chunk: more overlap, but each stage costs one wake-up of the workers. */
const STAGES = 8;

/**
 * Smallest row, in classes, whose vocabulary the pool splits across threads when there are fewer
 * rows than threads (softmax, log-softmax and logsumexp). Each split row makes three pool tasks.
 */
const SPLIT_MIN_CLASSES = 1 << 17;

/** Exports that the thread pool calls by index; the workers look them up by these names. */
const POOL_KERNELS = [
  "f32_softmax_rows",
  "f32_log_softmax_rows",
  "f32_logsumexp_rows",
  "f32_probs_rows",
  "f32_entropy_logits_rows",
  "f32_cross_entropy_labels_rows",
  "f32_cross_entropy_targets_rows",
  "f32_kl_logits_rows",
  "f32_js_divergence_rows",
  "f32_distillation_rows",
  "f32_vocab_stats_rows",
  "f32_topk_distillation_rows",
  "f32_rmax_slices",
  "f32_raddstoreexpminusmax_slices",
  "f32_vscale_slices",
  "f32_vshiftscale_slices",
] as const;

type KernelName = (typeof POOL_KERNELS)[number];

/** Marks the argument that receives the number of rows of a chunk. */
const ROWS = { rows: true } as const;

/** `BUFFER[i]` marks the argument that receives the pointer of buffer `i` of the call. */
const BUFFER = [0, 1, 2, 3, 4, 5].map((buffer) => ({ buffer }));

/** A kernel argument: a number passed as is, a buffer's pointer, or the chunk's row count. */
type KernelArg = number | { readonly buffer: number } | typeof ROWS;

type Pointer = number;

/** Dispatch mode of `callRows`: this thread, the pool, or a pool task that is only started. */
type Dispatch = "serial" | "pool" | "start";

/** Rounds up to a multiple of 16 with float arithmetic, since `& ~15` wraps at 2^31. */
function align16(bytes: number): number {
  return Math.ceil(bytes / 16) * 16;
}

interface KernelExports {
  memory: WebAssembly.Memory;
  heap_base(): number;
  f32_softmax_rows(z: Pointer, out: Pointer, rows: number, classes: number, invT: number): void;
  f32_log_softmax_rows(z: Pointer, out: Pointer, rows: number, classes: number, invT: number): void;
  f32_logsumexp_rows(z: Pointer, out: Pointer, rows: number, classes: number, invT: number): void;
  f32_probs_rows(kind: number, p: Pointer, q: Pointer, rows: number, classes: number, rowLoss: Pointer): void;
  f32_entropy_logits_rows(
    z: Pointer,
    rows: number,
    classes: number,
    invT: number,
    rowLoss: Pointer,
    gradScale: Pointer,
    grad: Pointer,
  ): void;
  f32_cross_entropy_labels_rows(
    z: Pointer,
    labels: Pointer,
    rows: number,
    classes: number,
    invT: number,
    weight: Pointer,
    ignoreIndex: number,
    labelSmoothing: number,
    rowLoss: Pointer,
    gradScale: Pointer,
    grad: Pointer,
  ): void;
  f32_cross_entropy_targets_rows(
    z: Pointer,
    targets: Pointer,
    rows: number,
    classes: number,
    invT: number,
    weight: Pointer,
    labelSmoothing: number,
    rowLoss: Pointer,
    gradScale: Pointer,
    grad: Pointer,
  ): void;
  f32_kl_logits_rows(
    p: Pointer,
    q: Pointer,
    rows: number,
    classes: number,
    invT: number,
    rowLoss: Pointer,
    gradScale: Pointer,
    grad: Pointer,
  ): void;
  f32_js_divergence_rows(
    p: Pointer,
    q: Pointer,
    rows: number,
    classes: number,
    invT: number,
    beta: number,
    rowLoss: Pointer,
    gradScale: Pointer,
    grad: Pointer,
  ): void;
  f32_rmax_slices(z: Pointer, slices: number, length: number, maxOut: Pointer): void;
  f32_raddstoreexpminusmax_slices(
    z: Pointer,
    out: Pointer,
    slices: number,
    length: number,
    m: number,
    invT: number,
    sums: Pointer,
  ): void;
  f32_vscale_slices(x: Pointer, slices: number, length: number, scale: number): void;
  f32_vshiftscale_slices(
    z: Pointer,
    out: Pointer,
    slices: number,
    length: number,
    m: number,
    invT: number,
    shift: number,
  ): void;
  f32_distillation_rows(
    student: Pointer,
    teacher: Pointer,
    labels: Pointer,
    ignoreIndex: number,
    rows: number,
    classes: number,
    invT: number,
    alpha: number,
    rowLoss: Pointer,
    gradScale: Pointer,
    grad: Pointer,
  ): void;
  f32_vocab_stats_rows(z: Pointer, t: Pointer, rows: number, classes: number, invT: number, stats: Pointer): void;
  f32_topk_distillation_rows(
    student: Pointer,
    teacher: Pointer,
    k: number,
    labels: Pointer,
    ignoreIndex: number,
    rows: number,
    classes: number,
    invT: number,
    alpha: number,
    rowLoss: Pointer,
    gradScale: Pointer,
    grad: Pointer,
  ): void;
  bf16_vcvt_f32(x: Pointer, out: Pointer, n: number): void;
  f16_vcvt_f32(x: Pointer, out: Pointer, n: number): void;
}

type TypedArray = Float32Array | Float64Array | Int32Array | Uint16Array;

/**
 * One buffer of a kernel call. `perRow` is its length per row (`classes` or 1). A buffer with
 * `perRow` 0 is shared by all rows (class weights) and copied once per chunk. An `in` buffer is
 * copied into memory before the call and an `out` buffer out of it after the call.
 * `bytes` is the size of one element in WebAssembly memory. A buffer with `widen` holds 16-bit
 * logits: its rows are copied in at 2 bytes per element and widened there to float32, so in
 * memory it takes 4 bytes per element like any float32 matrix.
 */
interface Buffer {
  data: TypedArray | null;
  perRow: number;
  mode: "in" | "out";
  bytes: number;
  widen: HalfLogits["dtype"] | null;
}

const abort = () => {
  throw new Error("logitkit kernel aborted");
};

/**
 * Returns the compiled kernels: the plain build, or with `shared` the build that imports a shared
 * memory. The library's entry compiles the modules embedded in the bundle. A worker started by
 * `loadLogitKitWorker` receives them compiled, so its own bundle carries no WebAssembly bytes.
 */
export type ModuleSource = (shared: boolean) => Promise<WebAssembly.Module>;

/** The wasm backend and, when fewer threads than requested run, the reason. */
export interface LoadedWasmKernels {
  kernels: RowKernels;
  threadsReason?: string;
}

/**
 * Instantiates the kernels and returns the `wasm` backend; rejects where SIMD does not compile.
 * With `threads` above 1 it starts a thread pool on the shared-memory build, and falls back to
 * one thread, with the reason, where shared memory or workers are not available.
 */
export async function loadWasmKernelsFrom(
  modules: ModuleSource,
  threads = 1,
  poolOptions: ThreadPoolOptions = {},
): Promise<LoadedWasmKernels> {
  let threadsReason: string | undefined;
  if (threads > 1) {
    try {
      return { kernels: await loadSharedKernels(modules, threads, poolOptions) };
    } catch (error) {
      threadsReason = `the thread pool could not start, so one thread runs: ${(error as Error).message}`;
    }
  }

  const module = await modules(false);
  const instance = await WebAssembly.instantiate(module, { env: { abort } });
  return { kernels: createWasmKernels(instance.exports as unknown as KernelExports, null), threadsReason };
}

async function loadSharedKernels(modules: ModuleSource, threads: number, poolOptions: ThreadPoolOptions): Promise<RowKernels> {
  if (typeof SharedArrayBuffer !== "function") {
    throw new Error(
      "SharedArrayBuffer is not available; browsers provide it only on cross-origin isolated pages " +
        "(headers Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)",
    );
  }
  const module = await modules(true);

  // Shared memory cannot move, so engines reserve its maximum up front (address space only).
  const memory = new WebAssembly.Memory({ initial: 1, maximum: MAX_MEMORY_BYTES / PAGE_BYTES, shared: true });
  const instance = await WebAssembly.instantiate(module, { env: { memory, abort } });
  const exports = instance.exports as unknown as KernelExports;
  const kernels = POOL_KERNELS.map((name) => exports[name] as (...args: number[]) => unknown);
  const pool = await createThreadPool(threads, module, memory, POOL_KERNELS, kernels, poolOptions);
  const restartPool = () =>
    createThreadPool(threads, module, memory, POOL_KERNELS, kernels, { ...poolOptions, loseFirstChunkForTesting: false });

  // Calls that stay on one thread run on a second instance with ordinary memory (see below).
  const plain = await WebAssembly.instantiate(await modules(false), { env: { abort } });
  const serial = createWasmKernels(plain.exports as unknown as KernelExports, null);
  return withSerialCallsOnPlainMemory(createWasmKernels(exports, pool, restartPool), serial, threads);
}

/**
 * Returns the kernels of a kit with threads. A call that touches no handle, and that the pool
 * would run on one thread anyway, goes to `serial`, whose memory is not shared. Copying 2 MiB
 * into a SharedArrayBuffer took 1.7x to 2.2x as long as into an ArrayBuffer, and out of one 1.3x
 * to 1.5x (Node.js 20), so such calls were up to 2.5x slower than on a kit without threads.
 * Handles live in the shared memory, so every call that reads or writes one stays there.
 */
function withSerialCallsOnPlainMemory(shared: RowKernels, serial: RowKernels, threads: number): RowKernels {
  return routeRowKernels(shared, (rows, classes, softmaxLike, first, second, third) => {
    // The pool takes calls large enough to stage their copies, and rows whose vocabulary it splits.
    const parallel =
      (rows >= STAGES && rows * classes * 4 >= STAGED_MIN_BYTES) || (softmaxLike && rows < threads && classes >= SPLIT_MIN_CLASSES);
    if (shared.threads() > 1 && parallel) return shared;

    const touchesHandle =
      (first !== null && shared.isStoredView(first)) ||
      (second !== null && shared.isStoredView(second)) ||
      (third !== null && shared.isStoredView(third));
    return touchesHandle ? shared : serial;
  });
}

/** Restarts of a pool that stopped by itself, per kit: a worker that keeps dying is left dead. */
const MAX_POOL_RESTARTS = 3;

function createWasmKernels(wasm: KernelExports, threadPool: ThreadPool | null, restartPool?: () => Promise<ThreadPool>): RowKernels {
  let pool = threadPool;
  let disposed = false;
  let restarts = 0;

  // Reason why a pool that started has stopped by itself (see ThreadPool.stoppedReason).
  let stoppedReason: string | undefined;
  const heapBase = align16(wasm.heap_base());

  // Views of the whole memory. Only `memory.grow` (in ensureMemory) replaces the buffer here,
  // since the module never grows its own memory, so the views are rebuilt right after each
  // growth and no detached view is ever used. Reading `memory.buffer` on every call would cost
  // more than a whole softmax of a short row.
  let heapF32 = new Float32Array(wasm.memory.buffer as ArrayBuffer);
  let heapF64 = new Float64Array(wasm.memory.buffer as ArrayBuffer);
  let heapI32 = new Int32Array(wasm.memory.buffer as ArrayBuffer);
  let heapU16 = new Uint16Array(wasm.memory.buffer as ArrayBuffer);
  let memoryBytes = heapF32.byteLength;

  // Counts the growths of the memory, so that stored blocks know when their cached view of it
  // was detached.
  let memoryGeneration = 0;

  /** Grows the memory so that `[0, end)` is addressable, and refreshes the views. */
  function ensureMemory(end: number, purpose: string): void {
    if (end <= memoryBytes) return;
    if (end > MAX_MEMORY_BYTES) {
      const stored = blocks.reduce((sum, block) => sum + (block.end - block.start), 0);
      throw new RangeError(
        `logitkit: ${purpose} needs WebAssembly memory up to byte ${end}, beyond the 4 GiB that wasm32 can ` +
          `address (uploads still keep ${stored} bytes); free() uploads no longer needed, use fewer ` +
          `classes per row, or use the js backend.`,
      );
    }
    const pages = Math.ceil((end - memoryBytes) / PAGE_BYTES);
    try {
      wasm.memory.grow(pages);
    } catch (error) {
      throw new RangeError(`logitkit: could not grow WebAssembly memory to ${end} bytes: ${(error as Error).message}`);
    }
    const buffer = wasm.memory.buffer as ArrayBuffer;
    heapF32 = new Float32Array(buffer);
    heapF64 = new Float64Array(buffer);
    heapI32 = new Int32Array(buffer);
    heapU16 = new Uint16Array(buffer);
    memoryBytes = buffer.byteLength;
    memoryGeneration++;
  }

  /** Returns the view of the whole memory with the element type of `data`. */
  function heapOf(data: TypedArray): TypedArray {
    if (data instanceof Float64Array) return heapF64;
    if (data instanceof Uint16Array) return heapU16;
    return data instanceof Int32Array ? heapI32 : heapF32;
  }

  /**
   * Copies `source[from .. from + length)` to memory at `pointer`. A part of an array is taken
   * as a new view of its buffer, not with `subarray`, which would call a subclass's constructor.
   */
  function copyIn(source: TypedArray, from: number, length: number, pointer: Pointer): void {
    const heap = heapOf(source);
    const at = pointer / source.BYTES_PER_ELEMENT;
    if (from === 0 && length === lengthOf(source)) {
      heap.set(source, at);
      return;
    }
    const Type = heap.constructor as new (buffer: ArrayBuffer, byteOffset: number, length: number) => TypedArray;
    heap.set(new Type(bufferOf(source), byteOffsetOf(source) + from * source.BYTES_PER_ELEMENT, length), at);
  }

  /** Copies `length` elements from memory at `pointer` to `target[to ..]`. */
  function copyOut(target: TypedArray, to: number, length: number, pointer: Pointer): void {
    const heap = heapOf(target);
    const at = pointer / target.BYTES_PER_ELEMENT;

    // A loop beats creating a subarray view for the few elements of small calls.
    if (length <= 64) {
      for (let i = 0; i < length; i++) target[to + i] = heap[at + i];
      return;
    }
    copyInto(target, heap.subarray(at, at + length), to);
  }

  /**
   * Copies `length` 16-bit values from `source[from ..]` into the upper half of the `length`
   * floats at `pointer`, and widens them there to float32 in place (see the conversion kernels).
   * A chunk's float32 slot thus serves as its own staging area, and no float32 copy of more
   * than one chunk exists.
   */
  function copyInWidened(source: TypedArray, dtype: HalfLogits["dtype"], from: number, length: number, pointer: Pointer): void {
    const staging = pointer + 2 * length;
    copyIn(source, from, length, staging);
    if (dtype === "bf16") wasm.bf16_vcvt_f32(staging, pointer, length);
    else wasm.f16_vcvt_f32(staging, pointer, length);
  }

  // Blocks kept by `store`, sorted by address, from heapBase up. Each call lays out its own
  // buffers in the first gap between blocks that holds them, so stored matrices stay in place.
  const blocks: Array<{ start: number; end: number }> = [];

  /** Returns the first gap of `bytes` between heapBase and the blocks, or the end of the last block. */
  function findGap(bytes: number): { start: number; index: number } {
    let start = heapBase;
    let index = 0;
    for (; index < blocks.length; index++) {
      if (blocks[index].start - start >= bytes) break;
      start = blocks[index].end;
    }
    return { start, index };
  }

  /** Reserves `bytes` in the first gap between blocks that fits, or above the last one. */
  function allocate(bytes: number, purpose: string): { start: number; end: number } {
    const gap = findGap(bytes);
    const block = { start: gap.start, end: align16(gap.start + bytes) };
    ensureMemory(block.end, purpose);
    blocks.splice(gap.index, 0, block);
    return block;
  }

  // Views handed out by `store`, with their addresses. A lookup here is cheap, while reading
  // `buffer` of a small typed array makes V8 allocate a separate ArrayBuffer for it.
  const storedViews = new WeakMap<TypedArray, number>();

  /** Returns the address of `data` when it is a view of a stored block, else -1. */
  function residentAddress(data: TypedArray): number {
    return storedViews.get(data) ?? -1;
  }

  /**
   * Calls the kernel `name` on `count` rows: on the thread pool when there is one and the rows
   * are worth splitting, else on this thread. `pointers` are the chunk's buffer pointers, which
   * `args` refers to through BUFFER and ROWS. With "start" a pool task is only started, and the
   * caller completes it with `pool.finish()`.
   */
  function callRows(
    name: KernelName,
    args: readonly KernelArg[],
    buffers: Buffer[],
    pointers: Pointer[],
    count: number,
    dispatch: Dispatch,
  ): void {
    const values: number[] = new Array<number>(args.length);
    for (let k = 0; k < args.length; k++) {
      const arg = args[k];
      if (typeof arg === "number") values[k] = arg;
      else if (arg === ROWS) values[k] = count;
      else values[k] = pointers[(arg as { buffer: number }).buffer];
    }
    if (pool === null || dispatch === "serial" || count < 2) {
      (wasm[name] as (...values: number[]) => void)(...values);
      return;
    }

    // A row pointer advances by its buffer's row size; shared buffers (class weights) and absent
    // ones (pointer 0) stay put.
    const strides: number[] = new Array<number>(args.length).fill(0);
    let rowsArg = -1;
    let rowBytes = 0;
    for (let k = 0; k < args.length; k++) {
      const arg = args[k];
      if (arg === ROWS) rowsArg = k;
      if (typeof arg === "number" || arg === ROWS) continue;
      const b = buffers[(arg as { buffer: number }).buffer];
      strides[k] = b.data === null ? 0 : b.perRow * b.bytes;
      rowBytes += strides[k];
    }
    if (count * rowBytes < PARALLEL_MIN_BYTES) {
      (wasm[name] as (...values: number[]) => void)(...values);
      return;
    }
    if (dispatch === "start") pool.start(POOL_KERNELS.indexOf(name), values, strides, rowsArg, count);
    else pool.run(POOL_KERNELS.indexOf(name), values, strides, rowsArg, count);
  }

  /**
   * Softmax, log-softmax or logsumexp of `count` rows whose vocabulary is split across the
   * threads, row by row: slice maxima, then slice sums with the row maximum, then the outputs.
   * `scratch` is free memory of sliceScratchBytes() for the slice results. Slices cover `length` floats each, a
   * multiple of 16, and the calling thread adds the remainder of the row as one more slice.
   */
  function splitRows(
    kind: "softmax" | "logSoftmax" | "logSumExp",
    zp: Pointer,
    outp: Pointer,
    count: number,
    classes: number,
    invT: number,
    scratch: Pointer,
  ): void {
    const threadPool = pool!;
    const slices = sliceCount(threadPool.threads, classes);
    const length = Math.floor(classes / slices / 16) * 16;
    const rest = classes - slices * length;
    const restAt = slices * length * 4;
    const maxp = scratch;
    const sump = align16(maxp + (slices + 1) * 4);
    const invT32 = Math.fround(invT);
    const max = POOL_KERNELS.indexOf("f32_rmax_slices");
    const sum = POOL_KERNELS.indexOf("f32_raddstoreexpminusmax_slices");

    for (let r = 0; r < count; r++) {
      const zr = zp + r * classes * 4;
      const outr = kind === "logSumExp" ? 0 : outp + r * classes * 4;

      // Pass 1: the row maximum; Math.max propagates a NaN slice maximum as the kernels do.
      threadPool.run(max, [zr, slices, length, maxp], [length * 4, 0, 0, 4], 1, slices);
      wasm.f32_rmax_slices(zr + restAt, rest > 0 ? 1 : 0, rest, maxp + slices * 4);
      let m = -Infinity;
      for (let s = 0; s <= slices; s++) if (s < slices || rest > 0) m = Math.max(m, heapF32[maxp / 4 + s]);

      // Pass 2: the sum of exponentials in float64; softmax also stores the exponentials.
      const store = kind === "softmax" ? outr : 0;
      threadPool.run(sum, [zr, store, slices, length, m, invT32, sump], [length * 4, store === 0 ? 0 : length * 4, 0, 0, 0, 0, 8], 2, slices);
      wasm.f32_raddstoreexpminusmax_slices(zr + restAt, store === 0 ? 0 : store + restAt, rest > 0 ? 1 : 0, rest, m, invT32, sump + slices * 8);
      let total = 0;
      for (let s = 0; s <= slices; s++) if (s < slices || rest > 0) total += heapF64[sump / 8 + s];

      // Pass 3: the outputs, rounded as the row kernels round them.
      if (kind === "logSumExp") {
        heapF32[outp / 4 + r] = m === -Infinity || m === Infinity ? m : m * invT32 + Math.log(total);
      } else if (kind === "softmax") {
        const scale = Math.fround(1 / total);
        threadPool.run(POOL_KERNELS.indexOf("f32_vscale_slices"), [outr, slices, length, scale], [length * 4, 0, 0, 0], 1, slices);
        wasm.f32_vscale_slices(outr + restAt, rest > 0 ? 1 : 0, rest, scale);
      } else {
        const lse = Math.fround(Math.log(total));
        const args = [zr, outr, slices, length, m, invT32, lse];
        threadPool.run(POOL_KERNELS.indexOf("f32_vshiftscale_slices"), args, [length * 4, length * 4, 0, 0, 0, 0, 0], 2, slices);
        wasm.f32_vshiftscale_slices(zr + restAt, outr + restAt, rest > 0 ? 1 : 0, rest, m, invT32, lse);
      }
    }
  }

  /** Slices of one split row: a few per thread, so that a slow thread holds up little. */
  const sliceCount = (threads: number, classes: number): number => Math.min(threads * 4, Math.floor(classes / 4096));

  /** Bytes of the slice maxima (float32) and sums (float64) of one split row, as splitRows lays them out. */
  const sliceScratchBytes = (threads: number, classes: number): number =>
    align16((sliceCount(threads, classes) + 1) * 4) + (sliceCount(threads, classes) + 1) * 8;

  /**
   * Forgets a pool that stopped itself after a stall, so that later calls plan for one thread.
   * The call during which it stopped still completes: its remaining tasks run on this thread.
   */
  const dropStoppedPool = (): void => {
    if (pool === null || pool.stoppedReason === undefined) return;
    stoppedReason = pool.stoppedReason;
    pool = null;
    if (restartPool === undefined || restarts >= MAX_POOL_RESTARTS) return;

    // New workers start in the background and take over between two calls, never inside one.
    restarts++;
    restartPool().then(
      (restarted) => {
        if (disposed) {
          restarted.dispose();
          return;
        }
        pool = restarted;
        stoppedReason = undefined;
      },
      (error: unknown) => {
        stoppedReason += `; restarting the pool failed: ${error instanceof Error ? error.message : String(error)}`;
      },
    );
  };

  /** Whether softmax-like calls of `rows` rows split each row's vocabulary across threads. */
  const splitsVocabulary = (rows: number, classes: number): boolean =>
    pool !== null && rows < pool.threads && classes >= SPLIT_MIN_CLASSES;

  /**
   * Copies rows `[from, to)` of the chunk that starts at row `first` into memory (`in` buffers)
   * or out of it (`out` buffers). Buffers shared by all rows and stored blocks are skipped.
   */
  function copyRows(
    mode: "in" | "out",
    buffers: Buffer[],
    resident: number[],
    pointers: Pointer[],
    first: number,
    from: number,
    to: number,
  ): void {
    for (let i = 0; i < buffers.length; i++) {
      const b = buffers[i];
      if (b.data === null || b.mode !== mode || resident[i] >= 0 || b.perRow === 0) continue;
      const pointer = pointers[i] + from * b.perRow * b.bytes;
      if (b.widen !== null) copyInWidened(b.data, b.widen, (first + from) * b.perRow, (to - from) * b.perRow, pointer);
      else if (mode === "in") copyIn(b.data, (first + from) * b.perRow, (to - from) * b.perRow, pointer);
      else copyOut(b.data, (first + from) * b.perRow, (to - from) * b.perRow, pointer);
    }
  }

  /**
   * Runs `execute` over chunks of rows. It receives the pointer of every buffer (0 for a `null`
   * one), the chunk's row count, the first free byte after the chunk's buffers, and how to
   * dispatch its kernel (see `callRows`). Buffers that are views of stored
   * blocks are read or written in place, with no copy; their addresses are taken before any
   * growth, which detaches those views.
   * With `staged`, a large chunk on the thread pool runs in stages that overlap the copies.
   * `scratchExtra` bytes after the chunk's buffers are reserved in the same gap for `execute`.
   */
  function run(
    rows: number,
    buffers: Buffer[],
    execute: (pointers: Pointer[], chunkRows: number, scratch: Pointer, dispatch: Dispatch) => void,
    staged = false,
    scratchExtra = 0,
  ): void {
    dropStoppedPool();
    let bytesPerRow = 0;
    let rowBytes = 0;
    let sharedBytes = 0;
    const resident: number[] = new Array<number>(buffers.length);
    for (let i = 0; i < buffers.length; i++) {
      const b = buffers[i];
      resident[i] = b.data === null ? -1 : residentAddress(b.data);
      if (b.data !== null && b.perRow > 0) rowBytes += b.perRow * b.bytes;
      if (b.data === null || resident[i] >= 0) continue;
      const bytes = b.bytes * (b.perRow === 0 ? b.data.length : b.perRow);
      if (b.perRow === 0) sharedBytes += bytes + 16;
      else bytesPerRow += bytes;
    }

    // Copies run on this thread at the memory's bandwidth. When they are a large part of the row
    // data, the pool gains only where stages overlap them with the kernels; otherwise one thread
    // with chunks that stay in the cache was as fast or faster (0.8x to 1.0x with the pool at
    // 8 x 50257 and 4 x 128256 on a 2-core virtual machine).
    const poolRows = Math.min(rows, Math.floor((POOL_CHUNK_BYTES - sharedBytes) / Math.max(bytesPerRow, 1)));
    const stageable = staged && poolRows >= STAGES && poolRows * bytesPerRow >= STAGED_MIN_BYTES;
    const usePool = pool !== null && (bytesPerRow * 4 <= rowBytes || stageable);

    // At least one row per chunk, so a single huge row still runs when memory allows.
    const chunkBytes = usePool ? POOL_CHUNK_BYTES : CHUNK_BYTES;
    const chunkRows = Math.max(1, Math.min(rows, Math.floor((chunkBytes - sharedBytes) / Math.max(bytesPerRow, 1))));
    const pointers: Pointer[] = new Array<Pointer>(buffers.length);

    // An empty batch still makes one call with 0 rows, so the kernel's contract holds for it too.
    for (let first = 0; first === 0 || first < rows; first += chunkRows) {
      const count = Math.min(chunkRows, rows - first);

      // The chunk's buffers go in the first gap between stored blocks that holds them all.
      let scratchBytes = align16(scratchExtra);
      for (let i = 0; i < buffers.length; i++) {
        const b = buffers[i];
        if (b.data === null || resident[i] >= 0) continue;
        const length = b.perRow === 0 ? b.data.length : b.perRow * count;
        scratchBytes += align16(length * b.bytes);
      }
      let end = findGap(scratchBytes).start;
      for (let i = 0; i < buffers.length; i++) {
        const b = buffers[i];
        if (b.data === null) {
          pointers[i] = 0;
          continue;
        }
        if (resident[i] >= 0) {
          pointers[i] = resident[i] + first * b.perRow * b.bytes;
          continue;
        }
        pointers[i] = end;
        const length = b.perRow === 0 ? b.data.length : b.perRow * count;
        end = align16(end + length * b.bytes);
      }
      ensureMemory(end + scratchExtra, "one chunk of this call");

      for (let i = 0; i < buffers.length; i++) {
        const b = buffers[i];
        if (b.data !== null && b.mode === "in" && resident[i] < 0 && b.perRow === 0) copyIn(b.data, 0, b.data.length, pointers[i]);
      }

      const stages = usePool && stageable && count >= STAGES && count * bytesPerRow >= STAGED_MIN_BYTES ? STAGES : 1;
      if (stages === 1) {
        copyRows("in", buffers, resident, pointers, first, 0, count);
        execute(pointers, count, end, usePool ? "pool" : "serial");
        copyRows("out", buffers, resident, pointers, first, 0, count);
      } else {
        runStages(buffers, resident, pointers, first, count, stages, end, execute);
      }
      if (rows === 0) break;
    }
  }

  /** Wraps a block from `allocate` of `length` floats as the StoredBlock of `store` and `reserve`. */
  function storedBlock(allocated: { start: number; end: number }, length: number) {
    let block: { start: number; end: number } | null = allocated;

    // One view per growth of the memory: creating a view costs about as much as a softmax of a
    // short row, and a call on handles asks for several.
    let view: Float32Array | null = null;
    let viewGeneration = -1;
    return {
      view: () => {
        if (view === null || viewGeneration !== memoryGeneration) {
          view = new Float32Array(heapF32.buffer, block!.start, length);
          storedViews.set(view, block!.start);
          viewGeneration = memoryGeneration;
        }
        return view;
      },
      release: () => {
        if (block === null) return;
        blocks.splice(blocks.indexOf(block), 1);
        block = null;
        view = null;
      },
    };
  }

  /**
   * Runs one chunk in `stages` stages of rows on the thread pool. While the workers compute
   * stage s, the calling thread copies stage s + 1 in and stage s - 1 out, and then computes
   * chunks of stage s too.
   */
  function runStages(
    buffers: Buffer[],
    resident: number[],
    pointers: Pointer[],
    first: number,
    count: number,
    stages: number,
    scratch: Pointer,
    execute: (pointers: Pointer[], chunkRows: number, scratch: Pointer, dispatch: Dispatch) => void,
  ): void {
    const bounds = Array.from({ length: stages + 1 }, (_, s) => Math.round((count * s) / stages));
    const stagePointers: Pointer[] = new Array<Pointer>(buffers.length);
    copyRows("in", buffers, resident, pointers, first, 0, bounds[1]);

    for (let s = 0; s < stages; s++) {
      for (let i = 0; i < buffers.length; i++) {
        const b = buffers[i];
        const stride = b.data === null || b.perRow === 0 ? 0 : b.perRow * b.bytes;
        stagePointers[i] = pointers[i] + bounds[s] * stride;
      }

      // The task must be finished even when a copy throws, or the pool would refuse the next one.
      execute(stagePointers, bounds[s + 1] - bounds[s], scratch, "start");
      try {
        if (s + 1 < stages) copyRows("in", buffers, resident, pointers, first, bounds[s + 1], bounds[s + 2]);
        if (s > 0) copyRows("out", buffers, resident, pointers, first, bounds[s - 1], bounds[s]);
      } finally {
        pool!.finish();
      }
    }
    copyRows("out", buffers, resident, pointers, first, bounds[stages - 1], bounds[stages]);
  }

  /** Runs the row kernel `name` with `args` over every chunk of rows. */
  function runRows(rows: number, buffers: Buffer[], name: KernelName, args: readonly KernelArg[]): void {
    run(rows, buffers, (pointers, count, _scratch, dispatch) => callRows(name, args, buffers, pointers, count, dispatch), true);
  }

  function input(data: TypedArray | HalfLogits | null, perRow: number): Buffer {
    if (data === null || ArrayBuffer.isView(data)) {
      return { data, perRow, mode: "in", bytes: data === null ? 4 : data.BYTES_PER_ELEMENT, widen: null };
    }
    return { data: data.bits, perRow, mode: "in", bytes: 4, widen: data.dtype };
  }

  const output = (data: TypedArray | null, perRow: number): Buffer => ({
    data,
    perRow,
    mode: "out",
    bytes: data === null ? 4 : data.BYTES_PER_ELEMENT,
    widen: null,
  });

  /** Buffers of the gradient: its scale per row (in) and the gradient itself (out), or neither. */
  const gradBuffers = (gradScale: Float32Array | null, grad: Float32Array | null, classes: number): Buffer[] =>
    gradScale === null || grad === null
      ? [input(null, 1), output(null, classes)]
      : [input(gradScale, 1), output(grad, classes)];

  const [B0, B1, B2, B3, B4, B5] = BUFFER;

  /** Softmax, log-softmax or logsumexp rows, with the vocabulary split when that pays. */
  function softmaxLike(
    kind: "softmax" | "logSoftmax" | "logSumExp",
    name: KernelName,
    z: Logits,
    rows: number,
    classes: number,
    invT: number,
    out: Float32Array,
  ): void {
    dropStoppedPool();
    const buffers = [input(z, classes), output(out, kind === "logSumExp" ? 1 : classes)];
    if (splitsVocabulary(rows, classes)) {
      const scratchBytes = sliceScratchBytes(pool!.threads, classes);
      run(rows, buffers, ([zp, op], count, scratch) => splitRows(kind, zp, op, count, classes, invT, scratch), false, scratchBytes);
      return;
    }
    runRows(rows, buffers, name, [B0, B1, ROWS, classes, invT]);
  }

  return {
    name: "wasm",

    threads: () => {
      dropStoppedPool();
      return pool?.threads ?? 1;
    },

    threadsStoppedReason: () => pool?.stoppedReason ?? stoppedReason,

    dispose() {
      disposed = true;
      pool?.dispose();
      pool = null;
    },

    memoryBytes: () => memoryBytes,

    isStoredView: (data) => storedViews.has(data as TypedArray),

    store(data) {
      const length = ArrayBuffer.isView(data) ? data.length : data.bits.length;
      const block = allocate(length * 4, "this upload");
      try {
        if (ArrayBuffer.isView(data)) heapF32.set(data, block.start / 4);
        else copyInWidened(data.bits, data.dtype, 0, length, block.start);
      } catch (error) {
        blocks.splice(blocks.indexOf(block), 1);
        throw error;
      }
      return storedBlock(block, length);
    },

    reserve(length) {
      const block = allocate(length * 4, `alloc(${length})`);

      // Freed blocks and call buffers leave old values behind, so the zeros are written here.
      heapF32.fill(0, block.start / 4, block.start / 4 + length);
      return storedBlock(block, length);
    },

    softmaxRows(z, rows, classes, invT, out) {
      softmaxLike("softmax", "f32_softmax_rows", z, rows, classes, invT, out);
    },

    logSoftmaxRows(z, rows, classes, invT, out) {
      softmaxLike("logSoftmax", "f32_log_softmax_rows", z, rows, classes, invT, out);
    },

    logSumExpRows(z, rows, classes, invT, out) {
      softmaxLike("logSumExp", "f32_logsumexp_rows", z, rows, classes, invT, out);
    },

    probsRows(kind: ProbsKind, p, q, rows, classes, rowLoss) {
      runRows(rows, [input(p, classes), input(q, classes), output(rowLoss, 1)], "f32_probs_rows", [
        kind,
        B0,
        B1,
        ROWS,
        classes,
        B2,
      ]);
    },

    entropyLogitsRows(z, rows, classes, invT, rowLoss, gradScale, grad) {
      runRows(
        rows,
        [input(z, classes), output(rowLoss, 1), ...gradBuffers(gradScale, grad, classes)],
        "f32_entropy_logits_rows",
        [B0, ROWS, classes, invT, B1, B2, B3],
      );
    },

    crossEntropyLabelsRows(z, labels, rows, classes, invT, weight, ignoreIndex, labelSmoothing, rowLoss, gradScale, grad) {
      runRows(
        rows,
        [input(z, classes), input(labels, 1), input(weight, 0), output(rowLoss, 1), ...gradBuffers(gradScale, grad, classes)],
        "f32_cross_entropy_labels_rows",
        [B0, B1, ROWS, classes, invT, B2, ignoreIndex, labelSmoothing, B3, B4, B5],
      );
    },

    crossEntropyTargetsRows(z, targets, rows, classes, invT, weight, labelSmoothing, rowLoss, gradScale, grad) {
      runRows(
        rows,
        [
          input(z, classes),
          input(targets, classes),
          input(weight, 0),
          output(rowLoss, 1),
          ...gradBuffers(gradScale, grad, classes),
        ],
        "f32_cross_entropy_targets_rows",
        [B0, B1, ROWS, classes, invT, B2, labelSmoothing, B3, B4, B5],
      );
    },

    klLogitsRows(pz, qz, rows, classes, invT, rowLoss, gradScale, grad) {
      runRows(
        rows,
        [input(pz, classes), input(qz, classes), output(rowLoss, 1), ...gradBuffers(gradScale, grad, classes)],
        "f32_kl_logits_rows",
        [B0, B1, ROWS, classes, invT, B2, B3, B4],
      );
    },

    vocabStatsRows(z, t, rows, classes, invT, stats) {
      runRows(
        rows,
        [input(z, classes), input(t, classes), output(stats, VOCAB_STATS)],
        "f32_vocab_stats_rows",
        [B0, B1, ROWS, classes, invT, B2],
      );
    },

    jsDivergenceRows(pz, qz, rows, classes, invT, beta, rowLoss, gradScale, grad) {
      runRows(
        rows,
        [input(pz, classes), input(qz, classes), output(rowLoss, 1), ...gradBuffers(gradScale, grad, classes)],
        "f32_js_divergence_rows",
        [B0, B1, ROWS, classes, invT, beta, B2, B3, B4],
      );
    },

    distillationRows(sz, tz, labels, ignoreIndex, rows, classes, invT, alpha, rowLoss, gradScale, grad) {
      runRows(
        rows,
        [
          input(sz, classes),
          input(tz, classes),
          input(labels, 1),
          output(rowLoss, 1),
          ...gradBuffers(gradScale, grad, classes),
        ],
        "f32_distillation_rows",
        [B0, B1, B2, ignoreIndex, ROWS, classes, invT, alpha, B3, B4, B5],
      );
    },

    topKDistillationRows(sz, teacher, k, labels, ignoreIndex, rows, classes, invT, alpha, rowLoss, gradScale, grad) {
      runRows(
        rows,
        [
          input(sz, classes),
          input(teacher, topKRowWords(k)),
          input(labels, 1),
          output(rowLoss, 1),
          ...gradBuffers(gradScale, grad, classes),
        ],
        "f32_topk_distillation_rows",
        [B0, B1, k, B2, ignoreIndex, ROWS, classes, invT, alpha, B3, B4, B5],
      );
    },
  };
}
