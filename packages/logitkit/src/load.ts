import type { LogitKit } from "./api.js";
import { embeddedModules } from "./backends/embedded.js";
import { checkLoadOptions, createLogitKit } from "./create.js";
import type { LoadOptions } from "./types.js";

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
 * call, the calling thread included (default 1), see {@link LoadOptions.threads}.
 * @returns a promise of the API object; `kit.backend` names the backend in use and
 * `kit.threads` the threads that run.
 * @throws The promise rejects with a `TypeError` or `RangeError` for invalid options, and with an
 * `Error` when `backend: "wasm"` is requested where WebAssembly SIMD cannot run.
 *
 * @example
 * ```js
 * const kit = await loadLogitKit(); // "auto": wasm where WebAssembly SIMD works, else js
 * console.log(kit.backend); // "wasm"
 * const fallback = await loadLogitKit({ backend: "js" });
 * console.log(fallback.softmax(new Float32Array([2, 1, 0]), { classes: 3 })); // [0.665, 0.245, 0.090]
 * ```
 */
export async function loadLogitKit(options: LoadOptions = {}): Promise<LogitKit> {
  return createLogitKit("loadLogitKit", checkLoadOptions("loadLogitKit", options), embeddedModules);
}
