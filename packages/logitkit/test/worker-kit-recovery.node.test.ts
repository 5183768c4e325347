/**
 * A LogitKitWorker whose worker thread dies: its pending calls reject with an error that names
 * the cause, and the next call starts a new worker and gets the right values. Node.js only,
 * because a terminated Web Worker sends no event and in a browser only the library owns the worker.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { ModuleWorker } from "../src/backends/spawn.js";
import { loadLogitKit } from "../src/index.js";
import { loadLogitKitWorker } from "../src/worker-kit.js";
import { firstDifference, randomNormal } from "./reference.js";

describe("a LogitKitWorker whose worker thread dies", () => {
  it.each([1, 2])("rejects pending calls, then recovers (%i thread(s))", async (threads) => {
    const workers: ModuleWorker[] = [];
    const remote = await loadLogitKitWorker({ backend: "wasm", threads }, { onWorker: (worker) => workers.push(worker) });
    const local = await loadLogitKit({ backend: "wasm" });
    const z = randomNormal(512 * 2000, 4, 3);
    expect(workers.length).toBe(1);

    // The calls are posted in a microtask, before the worker's exit event can arrive.
    const pending = [remote.softmax(z, { classes: 2000 }), remote.crossEntropy(z, new Int32Array(512), { classes: 2000 })];
    const settled = Promise.allSettled(pending);
    await workers[0].terminate();
    const outcomes = await settled;
    expect(outcomes.map((outcome) => outcome.status)).toEqual(["rejected", "rejected"]);
    expect(((outcomes[0] as PromiseRejectedResult).reason as Error).message).toBe(
      "softmax: the worker thread of this LogitKitWorker exited with code 1 before the call finished; " +
        "the next call starts a new worker.",
    );
    expect(((outcomes[1] as PromiseRejectedResult).reason as Error).message).toMatch(/^crossEntropy: the worker thread/);

    const after = await remote.softmax(z, { classes: 2000 });
    expect(workers.length).toBe(2);
    expect(firstDifference(after, local.softmax(z, { classes: 2000 }))).toBe(-1);
    expect(remote.threads).toBe(threads);
    await remote.dispose();
  });

  it("ends its worker thread on dispose()", async () => {
    const workers: ModuleWorker[] = [];
    const remote = await loadLogitKitWorker({ backend: "wasm", threads: 2 }, { onWorker: (worker) => workers.push(worker) });
    const exited = new Promise((resolve) => workers[0].once?.("exit", resolve));

    await remote.dispose();
    expect(await exited).toBe(1);
  });

  it("lets an idle Node.js process exit", () => {
    // The built bundle, as a user's script imports it; turbo builds it before the tests.
    const bundle = fileURLToPath(new URL("../dist/index.js", import.meta.url));
    const script = `import { loadLogitKitWorker } from ${JSON.stringify(bundle)}; await loadLogitKitWorker({ threads: 2 }); console.log("loaded");`;
    const run = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", timeout: 30_000 });

    // A worker that kept the process alive would hit the timeout, which leaves status null.
    expect(run.stdout.trim()).toBe("loaded");
    expect(run.status).toBe(0);
  }, 60_000);
});
