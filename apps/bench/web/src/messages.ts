/**
 * Messages between the page and the benchmark worker.
 */
import type { BenchOptions } from "../../src/args.js";
import type { JsonReport } from "../../src/report.js";

/** Page to worker: run the benchmark once with these options. */
export interface RunRequest {
  type: "run";
  options: BenchOptions;
  /** Text of the `command` field of the JSON report. */
  command: string;
}

/** Worker to page. */
export type WorkerMessage =
  | { type: "progress"; step: string; detail: string; finished: number; total: number }
  | { type: "log"; message: string }
  | { type: "done"; report: JsonReport; complete: boolean }
  | { type: "error"; message: string };
