/**
 * `loadLogitKitWorker`: a kit that runs on its own worker thread and returns promises. The
 * worker runs the same code as `loadLogitKit` (src/worker/serve.ts, bundled into a string at
 * build time), so results are those of a kit on the calling thread, bit for bit.
 */
import { embeddedModules } from "./backends/embedded.js";
import { type ModuleWorker, onMessage, onStopped, startModuleWorker } from "./backends/spawn.js";
import { checkLoadOptions } from "./create.js";
import { workerBundle } from "./generated/worker-bundle.js";
import { lengthOf, copyInto, typedArrayKind } from "./intrinsics.js";
import type { LoadOptions } from "./types.js";
import { checkNotDetached, handles } from "./validate.js";
import type { CallMessage, InitMessage, KitState, WorkerMethod, WorkerReply } from "./worker/protocol.js";
import { WORKER_METHODS } from "./worker/protocol.js";
import type { LogitKitWorker } from "./worker-api.js";

const FN = "loadLogitKitWorker";

/** Defines the port that serve.ts talks to, then runs the bundle. */
function workerSource(platform: "node" | "browser"): string {
  const prelude =
    platform === "node"
      ? 'import { parentPort } from "node:worker_threads";\n' +
        "const logitkitPort = { post: (m, t) => parentPort.postMessage(m, t), listen: (f) => parentPort.on(\"message\", f) };\n"
      : "const logitkitPort = { post: (m, t) => self.postMessage(m, t), " +
        'listen: (f) => self.addEventListener("message", (e) => f(e.data)) };\n';
  return prelude + workerBundle;
}

/** Typed arrays that are copied before they are sent. Other kinds travel as they are, and the worker rejects them. */
const COPIED_KINDS: Record<string, new (length: number) => ArrayBufferView> = {
  Float32Array,
  Float64Array,
  Int32Array,
  Uint32Array,
  Int16Array,
  Uint16Array,
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
};

// 16-bit logits may come as a Float16Array, which only some runtimes have (Node.js 20 does not).
const float16Array = (globalThis as { Float16Array?: new (length: number) => ArrayBufferView }).Float16Array;
if (float16Array !== undefined) COPIED_KINDS.Float16Array = float16Array;

/**
 * Prepares one argument for the worker. A typed array is copied into a new buffer that is then
 * moved: a structured clone would copy the whole buffer behind a small view, and the caller may
 * change its array once the call returns. Everything else is cloned by `postMessage`.
 */
function prepare(fn: string, name: string, value: unknown, transfer: Transferable[]): unknown {
  const kind = typedArrayKind(value);
  if (kind !== undefined) {
    const view = value as ArrayBufferView;
    const length = lengthOf(view);
    checkNotDetached(fn, name, view, length);
    const Copy = COPIED_KINDS[kind];
    if (Copy === undefined) return value;

    const copy = new Copy(length);
    copyInto(copy, view as unknown as ArrayLike<number>, 0);
    transfer.push(copy.buffer as ArrayBuffer);
    return copy;
  }

  if (value !== null && typeof value === "object" && handles.has(value)) {
    throw new TypeError(
      `${fn}: ${name} is a handle of a LogitKit, which a LogitKitWorker cannot read; pass handle.toArray().`,
    );
  }
  return value;
}

/**
 * Prepares the options: every enumerable option is read once, here, as `LogitKit` reads them, so
 * a getter runs on the calling thread. `out` and `gradOut` are rejected, because results come
 * back as new arrays. Anything but a plain object travels as it is for the worker to reject.
 */
function prepareOptions(fn: string, options: unknown, transfer: Transferable[]): unknown {
  if (options === null || typeof options !== "object" || Array.isArray(options) || ArrayBuffer.isView(options)) {
    return options;
  }

  const copy: Record<string, unknown> = {};
  for (const key in options) {
    if (key === "out" || key === "gradOut") {
      throw new TypeError(
        `${fn}: options.${key} is not available on a LogitKitWorker, whose results arrive as new arrays; remove it.`,
      );
    }
    copy[key] = prepare(fn, `options.${key}`, (options as Record<string, unknown>)[key], transfer);
  }
  return copy;
}

/** Rebuilds an error of the worker with its class, so callers can test `instanceof RangeError`. */
function rebuildError(name: string, message: string): Error {
  if (name === "TypeError") return new TypeError(message);
  if (name === "RangeError") return new RangeError(message);
  return new Error(message);
}

interface PendingCall {
  method: WorkerMethod;
  resolve(value: unknown): void;
  reject(error: Error): void;
}

/** One worker thread and its pending calls. */
interface Connection {
  worker: ModuleWorker;
  pending: Map<number, PendingCall>;
}

/** Options of `loadLogitKitWorker` for tests. */
export interface WorkerKitTestOptions {
  /** Receives each worker thread that starts, so that a test can terminate it. */
  onWorker?: (worker: ModuleWorker) => void;
}

/**
 * Loads logitkit on a worker thread (`worker_threads` in Node.js, a module Web Worker in
 * browsers) and returns an object whose methods are those of `LogitKit`, returning promises.
 * Use it to keep a page's main thread or a server's event loop free during large calls. Each
 * call costs one copy of its inputs and a message each way, so small calls are faster on
 * `loadLogitKit`. See {@link LogitKitWorker} for the rules on arguments, errors and worker failures.
 *
 * @param options the options of `loadLogitKit`: `backend` (default `auto`) and `threads` (default
 * 1), which apply inside the worker. With `threads` above 1 the worker starts its own thread pool.
 * @returns a promise of the object, once the worker has loaded the backend.
 * @throws The promise rejects with a `TypeError` or `RangeError` for invalid options, and with an `Error`
 * when no worker can start (for example, a Content-Security-Policy without `worker-src blob:`)
 * or when `backend: "wasm"` is requested where WebAssembly SIMD cannot run.
 *
 * @example
 * ```js
 * const remote = await loadLogitKitWorker({ backend: "auto", threads: 1 });
 * const logits = new Float32Array([2, 1, 0, 0, 3, 1]);
 * const { loss } = await remote.crossEntropyWithGrad(logits, [0, 1], { classes: 3 });
 * console.log(loss); // 0.2887
 * await remote.dispose(); // rejects pending calls and ends the worker
 * ```
 */
export async function loadLogitKitWorker(
  options: LoadOptions = {},
  /** @internal Hooks for the library's own tests. */
  testing: WorkerKitTestOptions = {},
): Promise<LogitKitWorker> {
  const checked = checkLoadOptions(FN, options);

  // The calling thread compiles the kernels once per realm and sends the modules to each worker.
  const modules: Array<WebAssembly.Module | string> = ["", ""];
  if (checked.backend !== "js") {
    const compile = (shared: boolean) => embeddedModules(shared).catch((error: Error) => error.message);
    modules[0] = await compile(false);
    modules[1] = checked.threads > 1 ? await compile(true) : "a kit of one thread uses no shared memory";
  }
  const init: InitMessage = { type: "init", options: checked, modules };

  let state: KitState;
  let disposed = false;
  let nextId = 1;

  // The worker that runs the calls once it has started, and the promise of it while it starts.
  let live: Connection | null = null;
  let connection: Promise<Connection> | null = null;

  /** Starts a worker and waits until its kit is loaded; rejects with the reason otherwise. */
  const connect = async (): Promise<Connection> => {
    let started: Awaited<ReturnType<typeof startModuleWorker>>;
    try {
      started = await startModuleWorker(workerSource, init);
    } catch (error) {
      throw new Error(`${FN}: the worker thread could not start: ${(error as Error).message}`, { cause: error });
    }
    const { worker, reply } = started as { worker: ModuleWorker; reply: WorkerReply };
    if (reply.type === "failed" || disposed) {
      worker.terminate();
      throw reply.type === "failed" ? rebuildError(reply.name, reply.message) : new Error(`${FN}: dispose() was called.`);
    }
    state = reply as KitState;

    const current: Connection = { worker, pending: new Map() };
    onMessage(worker, (data) => {
      const message = data as WorkerReply;
      if (message.type !== "result" && message.type !== "error") return;
      const call = current.pending.get(message.id);
      if (call === undefined) return;

      current.pending.delete(message.id);
      if (current.pending.size === 0) worker.unref?.();
      state = message;
      if (message.type === "result") call.resolve(message.value);
      else call.reject(rebuildError(message.name, message.message));
    });

    // A message listener refs a Node.js worker again, so an idle worker would keep the process alive.
    worker.unref?.();

    // A stopped worker is replaced on the next call. Its pending calls can no longer get a reply.
    onStopped(worker, (detail) => {
      if (live === current) {
        live = null;
        connection = null;
      }
      const calls = [...current.pending.values()];
      current.pending.clear();
      for (const call of calls) {
        call.reject(
          new Error(
            `${call.method}: the worker thread of this LogitKitWorker ${detail} before the call finished; ` +
              "the next call starts a new worker.",
          ),
        );
      }
    });
    testing.onWorker?.(worker);
    return current;
  };

  const connected = (): Promise<Connection> => {
    if (connection === null) {
      const attempt = connect().then((value) => (live = value));

      // A worker that could not start is tried again by the next call.
      attempt.catch(() => {
        if (connection === attempt) connection = null;
      });
      connection = attempt;
    }
    return connection;
  };

  /** Sends one call. Arguments are prepared before any await, so later changes by the caller do not count. */
  const call = (method: WorkerMethod, args: unknown[]): Promise<unknown> => {
    const transfer: Transferable[] = [];
    let message: CallMessage;
    try {
      if (disposed) throw new Error(`${method}: this LogitKitWorker was disposed; load a new one with loadLogitKitWorker().`);
      const names = WORKER_METHODS[method];
      const prepared = names.map((name, index) => prepare(method, name, args[index], transfer));
      prepared.push(prepareOptions(method, args[names.length], transfer));
      message = { type: "call", id: nextId++, method, args: prepared };
    } catch (error) {
      return Promise.reject(error);
    }

    return connected().then(
      (current) =>
        new Promise((resolve, reject) => {
          if (disposed) {
            reject(new Error(`${method}: dispose() was called before the call finished.`));
            return;
          }
          try {
            current.worker.postMessage(message, transfer);
          } catch (error) {
            // Functions, symbols and other values that structured clone refuses.
            reject(
              new TypeError(
                `${method}: an argument could not be copied to the worker thread (${(error as Error).message}); ` +
                  "pass typed arrays, arrays of numbers and plain objects.",
              ),
            );
            return;
          }
          current.pending.set(message.id, { method, resolve, reject });
          current.worker.ref?.();
        }),
      (error: Error) => {
        throw disposed ? new Error(`${method}: dispose() was called before the call finished.`) : error;
      },
    );
  };

  const methods = Object.fromEntries(
    (Object.keys(WORKER_METHODS) as WorkerMethod[]).map((method) => [method, (...args: unknown[]) => call(method, args)]),
  );

  // The first worker starts now, so that load errors reject this promise.
  await connected();

  const kit = {
    get backend() {
      return state.backend;
    },
    get fallbackReason() {
      return state.fallbackReason;
    },
    get threads() {
      return state.threads;
    },
    get threadsReason() {
      return state.threadsReason;
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      const current = live;
      live = null;
      connection = null;
      if (current === null) return;

      const calls = [...current.pending.values()];
      current.pending.clear();
      for (const pending of calls) pending.reject(new Error(`${pending.method}: dispose() was called before the call finished.`));
      await current.worker.terminate();
    },
    ...methods,
  };
  return Object.freeze(kit) as unknown as LogitKitWorker;
}
