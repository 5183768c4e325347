/**
 * The `wasm` backend: copies the inputs into the module's linear memory, calls a SIMD kernel
 * and copies the outputs out. The kernels allocate nothing; this file lays out every buffer.
 *
 * Memory: the layout starts at the module's heap base, every buffer is 16-byte aligned, and
 * the memory grows when a call needs more (it never shrinks). Large inputs are processed in
 * chunks of whole rows, so one call's working set stays near `CHUNK_BYTES`. Every kernel maps
 * rows to rows independently, so chunking does not change any result. `memory.grow` detaches
 * the old buffer, so the cached views of the memory are replaced right after every growth.
 */
import type { ProbsKind, RowKernels } from "../backend.js";
import { kernelsWasmBase64 } from "../generated/kernels-wasm.js";
import { bufferOf, byteOffsetOf, copyInto, lengthOf } from "../intrinsics.js";

/**
 * Target working set of one kernel call, in bytes. A chunk this small stays in the L2 cache
 * between the copy in, the kernel's passes and the copy out, which made array calls 1.1x to 1.6x
 * faster than 64 MiB chunks (softmax, log-softmax, cross-entropy and KL with gradients at
 * 8 x 50257, 64 x 32000 and 4 x 128256; 1 x 50257 is one row, so unchanged). The per-chunk cost
 * of a few microseconds stays small next to 1 MiB of work.
 * NOTE: measured on one 2-core AMD EPYC virtual machine (1 MiB of L2 per core) only.
 */
const CHUNK_BYTES = 1024 * 1024;

/** Largest linear memory of wasm32 (65536 pages of 64 KiB). */
const MAX_MEMORY_BYTES = 65536 * 65536;

const PAGE_BYTES = 65536;

type Pointer = number;

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
}

type TypedArray = Float32Array | Float64Array | Int32Array;

/**
 * One buffer of a kernel call. `perRow` is its length per row (`classes` or 1). A buffer with
 * `perRow` 0 is shared by all rows (class weights) and copied once per chunk. An `in` buffer is
 * copied into memory before the call and an `out` buffer out of it after the call.
 */
interface Buffer {
  data: TypedArray | null;
  perRow: number;
  mode: "in" | "out";
}

function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(new ArrayBuffer(binary.length));
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

let modulePromise: Promise<WebAssembly.Module> | null = null;

/** Compiles the embedded module once; a failure is not cached, so a later call retries. */
function compileModule(): Promise<WebAssembly.Module> {
  if (modulePromise === null) {
    if (typeof WebAssembly !== "object" || typeof WebAssembly.compile !== "function") {
      return Promise.reject(new Error("WebAssembly is not defined in this environment"));
    }
    modulePromise = WebAssembly.compile(decodeBase64(kernelsWasmBase64)).catch((error: unknown) => {
      modulePromise = null;
      throw error;
    });
  }
  return modulePromise;
}

/** Instantiates the kernels and returns the `wasm` backend; rejects where SIMD does not compile. */
export async function loadWasmKernels(): Promise<RowKernels> {
  const module = await compileModule();
  const instance = await WebAssembly.instantiate(module, {
    env: {
      abort: () => {
        throw new Error("logitkit kernel aborted");
      },
    },
  });
  return createWasmKernels(instance.exports as unknown as KernelExports);
}

function createWasmKernels(wasm: KernelExports): RowKernels {
  const heapBase = align16(wasm.heap_base());

  // Views of the whole memory. Only `memory.grow` (in ensureMemory) replaces the buffer here,
  // since the module never grows its own memory, so the views are rebuilt right after each
  // growth and no detached view is ever used. Reading `memory.buffer` on every call would cost
  // more than a whole softmax of a short row.
  let heapF32 = new Float32Array(wasm.memory.buffer as ArrayBuffer);
  let heapF64 = new Float64Array(wasm.memory.buffer as ArrayBuffer);
  let heapI32 = new Int32Array(wasm.memory.buffer as ArrayBuffer);
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
    memoryBytes = buffer.byteLength;
    memoryGeneration++;
  }

  /** Returns the view of the whole memory with the element type of `data`. */
  function heapOf(data: TypedArray): TypedArray {
    if (data instanceof Float64Array) return heapF64;
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
  function allocate(bytes: number): { start: number; end: number } {
    const gap = findGap(bytes);
    const block = { start: gap.start, end: align16(gap.start + bytes) };
    ensureMemory(block.end, "this upload");
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
   * Runs `call` over chunks of rows. `call` receives the pointer of every buffer (0 for a
   * `null` one) and the chunk's row count. Buffers that are views of stored blocks are read
   * or written in place, with no copy; their addresses are taken before any growth, which
   * detaches those views.
   */
  function run(rows: number, buffers: Buffer[], call: (pointers: Pointer[], chunkRows: number) => void): void {
    let bytesPerRow = 0;
    let sharedBytes = 0;
    const resident: number[] = new Array<number>(buffers.length);
    for (let i = 0; i < buffers.length; i++) {
      const b = buffers[i];
      resident[i] = b.data === null ? -1 : residentAddress(b.data);
      if (b.data === null || resident[i] >= 0) continue;
      const bytes = b.data.BYTES_PER_ELEMENT * (b.perRow === 0 ? b.data.length : b.perRow);
      if (b.perRow === 0) sharedBytes += bytes + 16;
      else bytesPerRow += bytes;
    }

    // At least one row per chunk, so a single huge row still runs when memory allows.
    const chunkRows = Math.max(1, Math.min(rows, Math.floor((CHUNK_BYTES - sharedBytes) / Math.max(bytesPerRow, 1))));
    const pointers: Pointer[] = new Array<Pointer>(buffers.length);

    // An empty batch still makes one call with 0 rows, so the kernel's contract holds for it too.
    for (let first = 0; first === 0 || first < rows; first += chunkRows) {
      const count = Math.min(chunkRows, rows - first);

      // The chunk's buffers go in the first gap between stored blocks that holds them all.
      let scratchBytes = 0;
      for (let i = 0; i < buffers.length; i++) {
        const b = buffers[i];
        if (b.data === null || resident[i] >= 0) continue;
        const length = b.perRow === 0 ? b.data.length : b.perRow * count;
        scratchBytes += align16(length * b.data.BYTES_PER_ELEMENT);
      }
      let end = findGap(scratchBytes).start;
      for (let i = 0; i < buffers.length; i++) {
        const b = buffers[i];
        if (b.data === null) {
          pointers[i] = 0;
          continue;
        }
        if (resident[i] >= 0) {
          pointers[i] = resident[i] + first * b.perRow * b.data.BYTES_PER_ELEMENT;
          continue;
        }
        pointers[i] = end;
        const length = b.perRow === 0 ? b.data.length : b.perRow * count;
        end = align16(end + length * b.data.BYTES_PER_ELEMENT);
      }
      ensureMemory(end, "one chunk of this call");

      for (let i = 0; i < buffers.length; i++) {
        const b = buffers[i];
        if (b.data === null || b.mode !== "in" || resident[i] >= 0) continue;
        if (b.perRow === 0) copyIn(b.data, 0, b.data.length, pointers[i]);
        else copyIn(b.data, first * b.perRow, count * b.perRow, pointers[i]);
      }

      call(pointers, count);

      for (let i = 0; i < buffers.length; i++) {
        const b = buffers[i];
        if (b.data !== null && b.mode === "out" && resident[i] < 0) copyOut(b.data, first * b.perRow, count * b.perRow, pointers[i]);
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

  const input = (data: TypedArray | null, perRow: number): Buffer => ({ data, perRow, mode: "in" });
  const output = (data: TypedArray | null, perRow: number): Buffer => ({ data, perRow, mode: "out" });

  /** Buffers of the gradient: its scale per row (in) and the gradient itself (out), or neither. */
  const gradBuffers = (gradScale: Float32Array | null, grad: Float32Array | null, classes: number): Buffer[] =>
    gradScale === null || grad === null
      ? [input(null, 1), output(null, classes)]
      : [input(gradScale, 1), output(grad, classes)];

  return {
    name: "wasm",

    memoryBytes: () => memoryBytes,

    store(data) {
      const length = data.length;
      const block = allocate(length * 4);
      try {
        heapF32.set(data, block.start / 4);
      } catch (error) {
        blocks.splice(blocks.indexOf(block), 1);
        throw error;
      }
      return storedBlock(block, length);
    },

    reserve(length) {
      const block = allocate(length * 4);

      // Freed blocks and call buffers leave old values behind, so the zeros are written here.
      heapF32.fill(0, block.start / 4, block.start / 4 + length);
      return storedBlock(block, length);
    },

    softmaxRows(z, rows, classes, invT, out) {
      run(rows, [input(z, classes), output(out, classes)], ([zp, op], n) =>
        wasm.f32_softmax_rows(zp, op, n, classes, invT),
      );
    },

    logSoftmaxRows(z, rows, classes, invT, out) {
      run(rows, [input(z, classes), output(out, classes)], ([zp, op], n) =>
        wasm.f32_log_softmax_rows(zp, op, n, classes, invT),
      );
    },

    logSumExpRows(z, rows, classes, invT, out) {
      run(rows, [input(z, classes), output(out, 1)], ([zp, op], n) => wasm.f32_logsumexp_rows(zp, op, n, classes, invT));
    },

    probsRows(kind: ProbsKind, p, q, rows, classes, rowLoss) {
      run(rows, [input(p, classes), input(q, classes), output(rowLoss, 1)], ([pp, qp, lp], n) =>
        wasm.f32_probs_rows(kind, pp, qp, n, classes, lp),
      );
    },

    entropyLogitsRows(z, rows, classes, invT, rowLoss, gradScale, grad) {
      run(
        rows,
        [input(z, classes), output(rowLoss, 1), ...gradBuffers(gradScale, grad, classes)],
        ([zp, lp, sp, gp], n) => wasm.f32_entropy_logits_rows(zp, n, classes, invT, lp, sp, gp),
      );
    },

    crossEntropyLabelsRows(z, labels, rows, classes, invT, weight, ignoreIndex, labelSmoothing, rowLoss, gradScale, grad) {
      run(
        rows,
        [input(z, classes), input(labels, 1), input(weight, 0), output(rowLoss, 1), ...gradBuffers(gradScale, grad, classes)],
        ([zp, yp, wp, lp, sp, gp], n) =>
          wasm.f32_cross_entropy_labels_rows(zp, yp, n, classes, invT, wp, ignoreIndex, labelSmoothing, lp, sp, gp),
      );
    },

    crossEntropyTargetsRows(z, targets, rows, classes, invT, weight, labelSmoothing, rowLoss, gradScale, grad) {
      run(
        rows,
        [
          input(z, classes),
          input(targets, classes),
          input(weight, 0),
          output(rowLoss, 1),
          ...gradBuffers(gradScale, grad, classes),
        ],
        ([zp, tp, wp, lp, sp, gp], n) =>
          wasm.f32_cross_entropy_targets_rows(zp, tp, n, classes, invT, wp, labelSmoothing, lp, sp, gp),
      );
    },

    klLogitsRows(pz, qz, rows, classes, invT, rowLoss, gradScale, grad) {
      run(
        rows,
        [input(pz, classes), input(qz, classes), output(rowLoss, 1), ...gradBuffers(gradScale, grad, classes)],
        ([pp, qp, lp, sp, gp], n) => wasm.f32_kl_logits_rows(pp, qp, n, classes, invT, lp, sp, gp),
      );
    },

    jsDivergenceRows(pz, qz, rows, classes, invT, beta, rowLoss, gradScale, grad) {
      run(
        rows,
        [input(pz, classes), input(qz, classes), output(rowLoss, 1), ...gradBuffers(gradScale, grad, classes)],
        ([pp, qp, lp, sp, gp], n) => wasm.f32_js_divergence_rows(pp, qp, n, classes, invT, beta, lp, sp, gp),
      );
    },

    distillationRows(sz, tz, labels, ignoreIndex, rows, classes, invT, alpha, rowLoss, gradScale, grad) {
      run(
        rows,
        [
          input(sz, classes),
          input(tz, classes),
          input(labels, 1),
          output(rowLoss, 1),
          ...gradBuffers(gradScale, grad, classes),
        ],
        ([spz, tpz, yp, lp, sp, gp], n) =>
          wasm.f32_distillation_rows(spz, tpz, yp, ignoreIndex, n, classes, invT, alpha, lp, sp, gp),
      );
    },
  };
}
