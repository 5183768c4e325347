/**
 * The kernels embedded in the bundle as base64, compiled once per JavaScript realm. Kept apart
 * from wasm.ts so that the bundle of the `loadLogitKitWorker` worker, which receives compiled
 * modules, leaves the bytes out.
 */
import { kernelsWasmBase64, sharedKernelsWasmBase64 } from "../generated/kernels-wasm.js";
import type { ThreadPoolOptions } from "./pool.js";
import { type LoadedWasmKernels, loadWasmKernelsFrom, type ModuleSource } from "./wasm.js";

function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(new ArrayBuffer(binary.length));
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

const modulePromises: Array<Promise<WebAssembly.Module> | null> = [null, null];

/** Compiles an embedded module once; a failure is not cached, so a later call retries. */
export const embeddedModules: ModuleSource = (shared) => {
  const index = shared ? 1 : 0;
  let promise = modulePromises[index];
  if (promise === null) {
    if (typeof WebAssembly !== "object" || typeof WebAssembly.compile !== "function") {
      return Promise.reject(new Error("WebAssembly is not defined in this environment"));
    }
    promise = WebAssembly.compile(decodeBase64(shared ? sharedKernelsWasmBase64 : kernelsWasmBase64)).catch(
      (error: unknown) => {
        modulePromises[index] = null;
        throw error;
      },
    );
    modulePromises[index] = promise;
  }
  return promise;
};

/** Instantiates the embedded kernels; see `loadWasmKernelsFrom`. */
export function loadWasmKernels(threads = 1, poolOptions: ThreadPoolOptions = {}): Promise<LoadedWasmKernels> {
  return loadWasmKernelsFrom(embeddedModules, threads, poolOptions);
}
