/**
 * Web Worker that runs the benchmark with `runBench`, as the CLI does, and posts its progress
 * and the JSON report to the page. Timing here keeps the page's rendering out of the measured
 * calls, and `Atomics.wait` is allowed in a worker, unlike on the page's main thread.
 */
import { loadLogitKit } from "logitkit";
import { backendLoader, runBench } from "../../src/bench.js";
import type { ProgressReporter } from "../../src/progress.js";
import type { JsonReport, MachineInfo } from "../../src/report.js";
import { fetchRealData } from "./fetch-data.js";
import type { RunRequest, WorkerMessage } from "./messages.js";
import { errorMessage } from "../../src/error-message.js";

function post(message: WorkerMessage): void {
  self.postMessage(message);
}

function machineInfo(): MachineInfo {
  return {
    cpu: "unknown (browsers do not report the CPU model)",
    cores: navigator.hardwareConcurrency,
    node: null,
    platform: navigator.platform,
    userAgent: navigator.userAgent,
  };
}

/** Forwards the progress to the page, with the case counts of the last `caseStarting` call. */
class PostedProgress implements ProgressReporter {
  private finished = 0;
  private total = 0;

  update(step: string, detail = ""): void {
    post({ type: "progress", step, detail, finished: this.finished, total: this.total });
  }

  log(message: string): void {
    post({ type: "log", message });
  }

  clear(): void {}

  caseStarting(finished: number, total: number): Promise<void> {
    this.finished = finished;
    this.total = total;
    post({ type: "progress", step: "", detail: "", finished, total });
    // A macrotask turn lets the page's messages out before the synchronous timing loop starts.
    return new Promise((resolve) => setTimeout(resolve, 0));
  }
}

async function run(request: RunRequest): Promise<void> {
  const startMs = performance.now();
  const startDate = new Date();
  const environment = { loadRealData: fetchRealData };
  const result = await runBench(request.options, backendLoader(loadLogitKit, request.options.threads), new PostedProgress(), environment);

  const report: JsonReport = {
    machine: machineInfo(),
    date: startDate.toISOString(),
    command: request.command,
    options: request.options,
    backends: result.backends,
    peers: result.peers,
    totalSeconds: (performance.now() - startMs) / 1e3,
    records: result.records,
    failures: result.failures,
    realData: result.realData,
    accuracy: result.accuracy,
  };
  post({ type: "done", report, complete: result.complete });
}

self.onmessage = (event: MessageEvent<RunRequest>) => {
  if (event.data?.type !== "run") return;
  run(event.data).catch((error: unknown) => {
    post({ type: "error", message: errorMessage(error) });
  });
};
