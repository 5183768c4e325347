/**
 * Feature checks shown at the top of the page: what the browser supports, and what
 * `loadLogitKit` chose here.
 */
import { loadLogitKit } from "logitkit";
import { errorMessage } from "../../src/error-message.js";

/** Smallest module that uses a SIMD instruction: a function that returns i8x16.splat(0). */
const SIMD_MODULE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // type section: () -> v128
  0x03, 0x02, 0x01, 0x00, // function section: one function of type 0
  0x0a, 0x08, 0x01, 0x06, 0x00, 0x41, 0x00, 0xfd, 0x0f, 0x0b, // code: i32.const 0, i8x16.splat, end
]);

/** Empty module: compiling it shows whether the Content-Security-Policy allows WebAssembly. */
const EMPTY_MODULE = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);

export interface Support {
  simd: boolean;
  /** Null when compiling is allowed, else the browser's error message. */
  compileBlocked: string | null;
  crossOriginIsolated: boolean;
  sharedArrayBuffer: boolean;
  cores: number;
  backend: string;
  fallbackReason: string | undefined;
  threads: number;
  threadsReason: string | undefined;
}

/** Threads requested for the check and offered by default in the benchmark form. */
export function defaultThreads(): number {
  return Math.min(4, Math.max(2, navigator.hardwareConcurrency || 2));
}

/** Runs the checks. The thread pool that the check starts is stopped before the function returns. */
export async function checkSupport(): Promise<Support> {
  const simd = typeof WebAssembly === "object" && WebAssembly.validate(SIMD_MODULE);

  let compileBlocked: string | null = null;
  try {
    await WebAssembly.compile(EMPTY_MODULE);
  } catch (error) {
    compileBlocked = errorMessage(error);
  }

  const kit = await loadLogitKit();
  const threaded = kit.backend === "wasm" ? await loadLogitKit({ backend: "wasm", threads: defaultThreads() }) : null;
  const support: Support = {
    simd,
    compileBlocked,
    crossOriginIsolated: globalThis.crossOriginIsolated === true,
    sharedArrayBuffer: typeof SharedArrayBuffer === "function",
    cores: navigator.hardwareConcurrency || 1,
    backend: kit.backend,
    fallbackReason: kit.fallbackReason,
    threads: threaded?.threads ?? 1,
    threadsReason: threaded === null ? "the wasm backend is not available" : threaded.threadsReason,
  };
  threaded?.dispose();
  kit.dispose();
  return support;
}

function addEntry(list: HTMLElement, term: string, value: string, id: string): void {
  const dt = document.createElement("dt");
  dt.textContent = term;
  const dd = document.createElement("dd");
  dd.textContent = value;
  dd.id = id;
  list.append(dt, dd);
}

/** Fills the definition list `list` and the note under it. */
export function showSupport(list: HTMLElement, note: HTMLElement, support: Support): void {
  list.replaceChildren();
  addEntry(list, "WebAssembly SIMD", support.simd ? "yes" : "no", "support-simd");
  addEntry(list, "WebAssembly allowed by the page's policy", support.compileBlocked === null ? "yes" : `no (${support.compileBlocked})`, "support-compile");
  addEntry(list, "Cross-origin isolated", support.crossOriginIsolated ? "yes" : "no", "support-isolated");
  addEntry(list, "SharedArrayBuffer", support.sharedArrayBuffer ? "yes" : "no", "support-sab");
  addEntry(list, "Logical cores", String(support.cores), "support-cores");
  addEntry(list, "Backend chosen by loadLogitKit()", support.backend, "support-backend");
  addEntry(
    list,
    "Worker threads",
    support.threads > 1 ? `${support.threads} threads` : `1 thread (${support.threadsReason ?? "not requested"})`,
    "support-threads",
  );

  if (support.backend === "js") {
    // Browser messages may end with their own period.
    const reason = (support.fallbackReason ?? "no reason given").replace(/\.+$/, "");
    note.textContent = `loadLogitKit() fell back to the js backend: ${reason}. The page works, with JavaScript kernels only.`;
  } else if (support.threads < 2) {
    note.textContent = "The wasm backend runs on one thread here. Serve the page with the headers of `pnpm demo` (COOP same-origin, COEP require-corp) to time worker threads.";
  } else {
    note.textContent = "Every backend can run here: wasm, js and wasm with worker threads.";
  }
}
