import type { LogitKit } from "./api.js";
import { jsKernels } from "./backends/js.js";
import { withSmallInputsOnJs } from "./backends/small-inputs.js";
import { loadWasmKernels } from "./backends/wasm.js";
import { createKit } from "./kit.js";
import type { LoadOptions } from "./types.js";
import { checkNumber, checkOptions, describe } from "./validate.js";

/** Largest `threads` accepted; the pool splits a call into at most 4095 chunks. */
const MAX_THREADS = 128;

const JS_ONE_THREAD = "the js backend runs on the calling thread only";

/**
 * Loads logitkit on the requested backend.
 *
 * `auto` (the default) uses the `wasm` backend where WebAssembly with 128-bit SIMD compiles and
 * instantiates, and otherwise the `js` backend, with the reason in `fallbackReason`. Compiling
 * can fail even where `WebAssembly` exists, for example under a Content-Security-Policy without
 * `'wasm-unsafe-eval'`. The module is compiled once per JavaScript realm and shared. The wasm
 * backend runs inputs of at most 64 logits on the js kernels, which are faster there (see
 * backends/small-inputs.ts).
 *
 * @param options `backend`: `"auto"` (default), `"wasm"` or `"js"`; `threads`: threads per
 * call, the calling thread included (default 1), see `LoadOptions.threads`.
 * @returns a promise of the API object; `kit.backend` names the backend in use and
 * `kit.threads` the threads that run.
 * The promise rejects with a `TypeError` or `RangeError` for invalid options, and with an
 * `Error` when `backend: "wasm"` is requested where WebAssembly SIMD cannot run.
 */
export async function loadLogitKit(options: LoadOptions = {}): Promise<LogitKit> {
  const o = checkOptions("loadLogitKit", options, ["backend", "threads"], '{ backend: "auto", threads: 2 }');
  const backend = o.backend ?? "auto";
  if (backend !== "auto" && backend !== "wasm" && backend !== "js") {
    const error = `loadLogitKit: options.backend must be "auto", "wasm" or "js", got ${describe(backend)}.`;
    throw typeof backend === "string" ? new RangeError(error) : new TypeError(error);
  }
  const threads = checkNumber("loadLogitKit", "threads", o.threads, 1, {
    min: 1,
    max: MAX_THREADS,
    expected: `an integer from 1 to ${MAX_THREADS}`,
  });
  if (!Number.isInteger(threads)) {
    throw new RangeError(`loadLogitKit: options.threads must be an integer from 1 to ${MAX_THREADS}, got ${describe(threads)}.`);
  }

  const jsThreadsReason = threads > 1 ? JS_ONE_THREAD : undefined;
  if (backend === "js") return createKit(jsKernels, undefined, jsThreadsReason);

  try {
    const loaded = await loadWasmKernels(threads);
    return createKit(withSmallInputsOnJs(loaded.kernels), undefined, loaded.threadsReason);
  } catch (error) {
    if (backend === "wasm") {
      throw new Error(`loadLogitKit: the wasm backend is not available here: ${(error as Error).message}`, {
        cause: error,
      });
    }
    return createKit(jsKernels, `the wasm backend could not be loaded: ${(error as Error).message}`, jsThreadsReason);
  }
}
