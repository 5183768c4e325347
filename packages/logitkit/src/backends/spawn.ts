/**
 * Starts module workers from source text, in Node.js (`worker_threads`) and in browsers (Web
 * Workers), for the thread pool and for `loadLogitKitWorker`. Source text keeps the library one
 * file: applications and bundlers have no worker file to find or copy.
 */

/** A started worker, as far as the library needs it in Node.js and in browsers. */
export interface ModuleWorker {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  terminate(): unknown;
  /** Node.js only: whether the worker keeps the process alive. */
  ref?(): void;
  unref?(): void;
  /** Node.js: the `message`, `error` and `exit` events. */
  on?(event: "message", listener: (data: unknown) => void): unknown;
  once?(event: "exit", listener: (code: unknown) => void): unknown;
  /** Browsers: the `message` and `error` events. */
  addEventListener?(type: "message" | "error", listener: (event: { data?: unknown; message?: string }) => void): void;
}

type NodeWorkerModule = {
  Worker: new (url: URL) => ModuleWorker & {
    unref(): void;
    once(event: string, listener: (value: unknown) => void): void;
    off(event: string, listener: (value: unknown) => void): void;
  };
};

/** Returns Node.js's `worker_threads`, or null outside Node.js. */
async function nodeWorkerThreads(): Promise<NodeWorkerModule | null> {
  const process = (globalThis as { process?: { versions?: { node?: string }; getBuiltinModule?: (id: string) => unknown } })
    .process;
  if (typeof process?.versions?.node !== "string") return null;
  if (typeof process.getBuiltinModule === "function") {
    return process.getBuiltinModule("node:worker_threads") as NodeWorkerModule;
  }

  // Node.js before 20.16 has no getBuiltinModule. The specifier is a variable and the comments
  // make webpack and Vite skip the import, so browser bundles never resolve a Node.js module.
  const specifier = "node:worker_threads";
  return (await import(/* webpackIgnore: true */ /* @vite-ignore */ specifier)) as NodeWorkerModule;
}

/** Calls `listener` with the data of every message from `worker`. */
export function onMessage(worker: ModuleWorker, listener: (data: unknown) => void): void {
  if (worker.on !== undefined) worker.on("message", listener);
  else worker.addEventListener?.("message", (event) => listener(event.data));
}

/**
 * Calls `listener` once the worker can no longer reply: it exited (Node.js) or failed with an
 * uncaught error (both). A Node.js worker that fails also exits, so the listener may run twice.
 */
export function onStopped(worker: ModuleWorker, listener: (detail: string) => void): void {
  worker.once?.("exit", (code) => listener(`exited with code ${String(code)}`));
  worker.addEventListener?.("error", (event) => listener(`failed: ${event.message ?? "unknown error"}`));
}

/**
 * Starts a module worker running `source(platform)`, posts `init` to it and resolves with the
 * worker and its first message. The worker does not keep a Node.js process alive. Rejects when
 * the worker cannot start, fails or exits before its first reply.
 */
export async function startModuleWorker(
  source: (platform: "node" | "browser") => string,
  init: unknown,
): Promise<{ worker: ModuleWorker; reply: unknown }> {
  const node = await nodeWorkerThreads();
  if (node !== null) {
    // A data: URL makes the worker an ES module whatever flags the process runs with. Source run
    // with `eval: true` would follow an inherited `--input-type=module` and then lack `require`.
    const worker = new node.Worker(new URL(`data:text/javascript,${encodeURIComponent(source("node"))}`));
    worker.unref();
    return new Promise((resolve, reject) => {
      const onError = (error: unknown) => reject(error);
      const onExit = (code: unknown) => reject(new Error(`worker exited with code ${String(code)} while starting`));
      worker.once("error", onError);
      worker.once("exit", onExit);
      worker.once("message", (reply) => {
        worker.off("error", onError);
        worker.off("exit", onExit);
        resolve({ worker, reply });
      });
      worker.postMessage(init);
    });
  }

  if (typeof Worker !== "function" || typeof Blob !== "function" || typeof URL?.createObjectURL !== "function") {
    throw new Error("this environment has no Web Workers");
  }
  const url = URL.createObjectURL(new Blob([source("browser")], { type: "text/javascript" }));
  try {
    const worker = new Worker(url, { type: "module" });
    return await new Promise((resolve, reject) => {
      // A Content-Security-Policy without `worker-src blob:` fails here with no message of its own.
      const onError = (event: ErrorEvent) =>
        reject(new Error(event.message || "a worker failed to start (a Content-Security-Policy must allow worker-src blob:)"));
      worker.addEventListener("error", onError);
      worker.addEventListener(
        "message",
        (event: MessageEvent) => {
          worker.removeEventListener("error", onError);
          resolve({ worker: worker as ModuleWorker, reply: event.data });
        },
        { once: true },
      );
      worker.postMessage(init);
    });
  } finally {
    URL.revokeObjectURL(url);
  }
}
