/**
 * Entry of the worker thread of `loadLogitKitWorker`. It is bundled on its own by
 * scripts/bundle-worker.mjs into a string that the client starts as a module worker, behind a
 * prelude that defines `logitkitPort` for Node.js (`parentPort`) or browsers (`self`).
 */
import type { LogitKit } from "../api.js";
import { createLogitKit } from "../create.js";
import type { CallMessage, InitMessage, KitState, WorkerReply } from "./protocol.js";
import { WORKER_METHODS } from "./protocol.js";

/** The two operations the worker needs from its port, defined by the prelude. */
interface Port {
  post(message: WorkerReply, transfer: Transferable[]): void;
  listen(handler: (message: InitMessage | CallMessage) => void): void;
}

declare const logitkitPort: Port;

function stateOf(kit: LogitKit): KitState {
  return {
    backend: kit.backend,
    fallbackReason: kit.fallbackReason,
    threads: kit.threads,
    threadsReason: kit.threadsReason,
  };
}

/** Lists the buffers of a result once each, so they are moved back rather than copied. */
function transferablesOf(value: unknown): Transferable[] {
  const buffers = new Set<ArrayBuffer>();
  const add = (part: unknown) => {
    if (part instanceof Float32Array && part.buffer instanceof ArrayBuffer) buffers.add(part.buffer);
  };
  add(value);
  if (value !== null && typeof value === "object" && "grad" in value) {
    const { loss, grad } = value as { loss: unknown; grad: unknown };
    add(loss);
    add(grad);
  }
  return [...buffers];
}

let kit: LogitKit | null = null;

// Messages are handled one at a time and in order: every call is synchronous inside the worker,
// and the init message is the only one that awaits, before any call can arrive.
logitkitPort.listen((message) => {
  if (message.type === "init") {
    const modules = (shared: boolean) => {
      const module = message.modules[shared ? 1 : 0];
      return typeof module === "string" ? Promise.reject(new Error(module)) : Promise.resolve(module);
    };
    createLogitKit("loadLogitKitWorker", message.options, modules).then(
      (created) => {
        kit = created;
        logitkitPort.post({ type: "ready", ...stateOf(created) }, []);
      },
      (error: Error) => logitkitPort.post({ type: "failed", name: error.name, message: error.message }, []),
    );
    return;
  }

  const current = kit!;
  try {
    if (!Object.hasOwn(WORKER_METHODS, message.method)) throw new TypeError(`unknown method ${String(message.method)}`);
    const method = current[message.method] as (...args: unknown[]) => unknown;
    const value = method(...message.args);
    logitkitPort.post({ type: "result", id: message.id, value, ...stateOf(current) }, transferablesOf(value));
  } catch (error) {
    const { name, message: text } = error as Error;
    logitkitPort.post({ type: "error", id: message.id, name, message: text, ...stateOf(current) }, []);
  }
});
