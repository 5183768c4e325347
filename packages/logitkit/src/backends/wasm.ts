/**
 * The `wasm` backend: copies the inputs into the module's linear memory, calls a SIMD kernel
 * and copies the outputs out. The kernels allocate nothing; this file lays out every buffer.
 *
 * Memory: the layout starts at the module's heap base, every buffer is 16-byte aligned, and
 * the memory grows when a call needs more (it never shrinks). Large inputs are processed in
 * chunks of whole rows, so one call's working set stays near `CHUNK_BYTES`. Every kernel maps
 * rows to rows independently, so chunking does not change any result. Views of the memory are
 * created after the growth of each chunk and never kept, because `memory.grow` detaches the
 * old buffer.
 */
import type { ProbsKind, RowKernels } from "../backend.js";
import { kernelsWasmBase64 } from "../generated/kernels-wasm.js";

/** Target working set of one kernel call, in bytes: large enough to hide the per-call cost. */
const CHUNK_BYTES = 64 * 1024 * 1024;

/** Largest linear memory of wasm32 (65536 pages of 64 KiB). */
const MAX_MEMORY_BYTES = 65536 * 65536;

const PAGE_BYTES = 65536;

type Pointer = number;

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
  const heapBase = (wasm.heap_base() + 15) & ~15;

  /** Grows the memory so that `[0, end)` is addressable. */
  function ensureMemory(end: number): void {
    const have = wasm.memory.buffer.byteLength;
    if (end <= have) return;
    if (end > MAX_MEMORY_BYTES) {
      throw new RangeError(
        `logitkit: one chunk of this call needs ${end} bytes of WebAssembly memory, more than the 4 GiB ` +
          `that wasm32 can address; use fewer classes per row or the js backend.`,
      );
    }
    const pages = Math.ceil((end - have) / PAGE_BYTES);
    try {
      wasm.memory.grow(pages);
    } catch (error) {
      throw new RangeError(`logitkit: could not grow WebAssembly memory to ${end} bytes: ${(error as Error).message}`);
    }
  }

  function viewOf(data: TypedArray, pointer: Pointer, length: number): TypedArray {
    const Type = data.constructor as { new (buffer: ArrayBuffer, offset: number, length: number): TypedArray };
    return new Type(wasm.memory.buffer as ArrayBuffer, pointer, length);
  }

  /**
   * Runs `call` over chunks of rows. `call` receives the pointer of every buffer (0 for a
   * `null` one) and the chunk's row count.
   */
  function run(rows: number, buffers: Buffer[], call: (pointers: Pointer[], chunkRows: number) => void): void {
    let bytesPerRow = 0;
    let sharedBytes = 0;
    for (const b of buffers) {
      if (b.data === null) continue;
      const bytes = b.data.BYTES_PER_ELEMENT * (b.perRow === 0 ? b.data.length : b.perRow);
      if (b.perRow === 0) sharedBytes += bytes + 16;
      else bytesPerRow += bytes;
    }

    // At least one row per chunk, so a single huge row still runs when memory allows.
    const chunkRows = Math.max(1, Math.min(rows, Math.floor((CHUNK_BYTES - sharedBytes) / Math.max(bytesPerRow, 1))));

    for (let first = 0; first < rows || (first === 0 && rows === 0); first += chunkRows) {
      const count = Math.min(chunkRows, rows - first);
      const pointers: Pointer[] = [];
      let end = heapBase;
      for (const b of buffers) {
        if (b.data === null) {
          pointers.push(0);
          continue;
        }
        pointers.push(end);
        const length = b.perRow === 0 ? b.data.length : b.perRow * count;
        end = (end + length * b.data.BYTES_PER_ELEMENT + 15) & ~15;
      }
      ensureMemory(end);

      buffers.forEach((b, i) => {
        if (b.data === null || b.mode !== "in") return;
        if (b.perRow === 0) viewOf(b.data, pointers[i], b.data.length).set(b.data);
        else viewOf(b.data, pointers[i], b.perRow * count).set(b.data.subarray(first * b.perRow, (first + count) * b.perRow));
      });

      call(pointers, count);

      buffers.forEach((b, i) => {
        if (b.data === null || b.mode !== "out") return;
        b.data.set(viewOf(b.data, pointers[i], b.perRow * count), first * b.perRow);
      });
      if (rows === 0) break;
    }
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

    memoryBytes: () => wasm.memory.buffer.byteLength,

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
