/**
 * Builds a kit on a backend from checked load options. Shared by `loadLogitKit` and by the worker
 * of `loadLogitKitWorker`, which differ only in where the compiled kernels come from.
 */
import type { LogitKit } from "./api.js";
import { jsKernels } from "./backends/js.js";
import { withSmallInputsOnJs } from "./backends/small-inputs.js";
import { loadWasmKernelsFrom, type ModuleSource } from "./backends/wasm.js";
import { createKit } from "./kit.js";
import type { BackendRequest, LoadOptions } from "./types.js";
import { checkNumber, checkOptions, describe } from "./validate.js";

/** Largest `threads` accepted; the pool splits a call into at most 4095 chunks. */
const MAX_THREADS = 128;

const JS_ONE_THREAD = "the js backend runs on the calling thread only";

/** Load options with their defaults, checked. */
export interface CheckedLoadOptions {
  backend: BackendRequest;
  threads: number;
}

/** Checks the options of `fn` (`loadLogitKit` or `loadLogitKitWorker`) and applies the defaults. */
export function checkLoadOptions(fn: string, options: LoadOptions): CheckedLoadOptions {
  const o = checkOptions(fn, options, ["backend", "threads"], '{ backend: "auto", threads: 2 }');
  const backend = o.backend ?? "auto";
  if (backend !== "auto" && backend !== "wasm" && backend !== "js") {
    const error = `${fn}: options.backend must be "auto", "wasm" or "js", got ${describe(backend)}.`;
    throw typeof backend === "string" ? new RangeError(error) : new TypeError(error);
  }

  const threads = checkNumber(fn, "threads", o.threads, 1, {
    min: 1,
    max: MAX_THREADS,
    expected: `an integer from 1 to ${MAX_THREADS}`,
  });
  if (!Number.isInteger(threads)) {
    throw new RangeError(`${fn}: options.threads must be an integer from 1 to ${MAX_THREADS}, got ${describe(threads)}.`);
  }
  return { backend, threads };
}

/**
 * Creates the kit of `loadLogitKit` with the kernels of `modules`. `fn` names the caller in the
 * error of an explicit `wasm` request that cannot be met.
 */
export async function createLogitKit(fn: string, { backend, threads }: CheckedLoadOptions, modules: ModuleSource): Promise<LogitKit> {
  const jsThreadsReason = threads > 1 ? JS_ONE_THREAD : undefined;
  if (backend === "js") return createKit(jsKernels, undefined, jsThreadsReason);

  try {
    const loaded = await loadWasmKernelsFrom(modules, threads);
    return createKit(withSmallInputsOnJs(loaded.kernels), undefined, loaded.threadsReason);
  } catch (error) {
    if (backend === "wasm") {
      throw new Error(`${fn}: the wasm backend is not available here: ${(error as Error).message}`, { cause: error });
    }
    return createKit(jsKernels, `the wasm backend could not be loaded: ${(error as Error).message}`, jsThreadsReason);
  }
}
