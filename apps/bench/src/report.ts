/**
 * Result records, the text tables printed to stdout and the JSON report. Runs in Node and in
 * browsers; `report-file.ts` writes the report to disk.
 */
import type { AccuracyReport } from "./accuracy.js";
import type { BenchBackend } from "./args.js";
import type { PeerName, PeerVariant } from "./peers/peers.js";
import type { BackendDiff, RealStats } from "./stats.js";

/** A logitkit backend, or a peer library timed with `--peers`. */
export type RecordBackend = BenchBackend | PeerName;

/** Timing of one (operation, shape, backend). */
export interface BenchRecord {
  op: string;
  rows: number;
  classes: number;
  backend: RecordBackend;
  /** On tfjs and onnxruntime-web records: what a call includes (see `PeerVariant`). */
  variant?: PeerVariant;
  /** On onnxruntime-web records: each call awaits the promise of `session.run`. */
  awaited?: boolean;
  /** Median time of one call, in ms. */
  medianMs: number;
  /** Million logits per second: rows * classes / medianMs / 1e3. */
  melemPerSec: number;
  /** `real` for the stories260K logits, `random` for the normal logits. */
  data: "real" | "random";
  /** Timed samples. */
  runs: number;
  /** Calls per sample. */
  callsPerSample: number;
  /** Fastest and slowest sample, per call, in ms. */
  minMs: number;
  maxMs: number;
  /** Whether the output buffer was allocated once outside the timing (`out` option). */
  preallocatedOut: boolean;
  /** On wasm records: js median / wasm median, so above 1 means wasm is faster. */
  ratioVsJs?: number;
  /** On wasm-threads records: wasm median / this median, the speedup of the thread pool over one thread. */
  ratioVsOneThread?: number;
  /** With `--peers`: plainjs median / this median for the same case, so above 1 means faster than plainjs. */
  ratioVsPlainJs?: number;
}

/** Failure of one (operation, shape, backend), reported instead of a record. */
export interface BenchFailure {
  op: string;
  rows: number;
  classes: number;
  backend: RecordBackend | "all";
  error: string;
}

/** Real-data part of the JSON report. */
export interface RealDataReport {
  rows: number;
  classes: number;
  /** Statistics computed with `statsBackend`. */
  stats: RealStats;
  statsBackend: BenchBackend;
  statsByBackend: Partial<Record<BenchBackend, RealStats>>;
  /** Largest |wasm - js| per operation over every output value; null when only one backend ran. */
  maxBackendDiff: Record<string, number> | null;
  /** The same differences, split into the loss and the array (probabilities or gradient). */
  backendDiffs: BackendDiff[] | null;
}

/** Machine that ran the benchmark. */
export interface MachineInfo {
  /** CPU model; browsers do not report it. */
  cpu: string;
  /** Logical cores available (`navigator.hardwareConcurrency` in a browser). */
  cores: number;
  /** Node.js version; null in a browser. */
  node: string | null;
  platform: string;
  /** The browser's user agent, on runs of the web page. */
  userAgent?: string;
}

/** Whole JSON report. */
export interface JsonReport {
  machine: MachineInfo;
  date: string;
  command: string;
  options: unknown;
  backends: Partial<Record<BenchBackend, string>>;
  /** Each peer: `loaded (...)`, or why it failed to load; null without `--peers`. */
  peers: Partial<Record<PeerName, string>> | null;
  totalSeconds: number;
  records: BenchRecord[];
  failures: BenchFailure[];
  realData: RealDataReport | null;
  /** Errors of softmax, log-softmax and cross-entropy against float64; null when not measured. */
  accuracy: AccuracyReport | null;
}

/** Million logits per second for a call of `medianMs` on a `rows x classes` matrix. */
export function melemPerSec(rows: number, classes: number, medianMs: number): number {
  return (rows * classes) / medianMs / 1e3;
}

function sameCase(a: BenchRecord, b: BenchRecord): boolean {
  return a.op === b.op && a.rows === b.rows && a.classes === b.classes && a.data === b.data;
}

/**
 * Sets `ratioVsJs` on every wasm record that has a js record of the same operation and shape,
 * `ratioVsOneThread` on every wasm-threads record that has a wasm record, and `ratioVsPlainJs` on every record whose case has a plainjs record (1 on that record).
 */
export function addRatios(records: BenchRecord[]): void {
  for (const record of records) {
    if (record.backend === "wasm") {
      const js = records.find((other) => other.backend === "js" && sameCase(other, record));
      if (js !== undefined) {
        record.ratioVsJs = js.medianMs / record.medianMs;
      }
    }
    if (record.backend === "wasm-threads") {
      const wasm = records.find((other) => other.backend === "wasm" && sameCase(other, record));
      if (wasm !== undefined) {
        record.ratioVsOneThread = wasm.medianMs / record.medianMs;
      }
    }

    const plainJs = records.find((other) => other.backend === "plainjs" && sameCase(other, record));
    if (plainJs !== undefined) {
      record.ratioVsPlainJs = plainJs.medianMs / record.medianMs;
    }
  }
}

/** Formats rows of cells as a text table: the first row is the header, columns of numbers align right. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[], rightAligned: readonly boolean[]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column].length)));
  const formatRow = (row: readonly string[]) =>
    row
      .map((cell, column) => (rightAligned[column] ? cell.padStart(widths[column]) : cell.padEnd(widths[column])))
      .join("  ")
      .trimEnd();

  const rule = widths.map((width) => "-".repeat(width)).join("  ");
  return [formatRow(header), rule, ...rows.map(formatRow)].join("\n");
}

/** Formats a duration in ms with about four significant digits. */
export function formatMs(ms: number): string {
  if (ms >= 100) {
    return ms.toFixed(1);
  }
  if (ms >= 1) {
    return ms.toFixed(3);
  }
  return ms.toPrecision(4);
}

/** Formats a ratio with two decimals, or two significant digits below 0.1 so that small ratios do not print as 0.00x. */
export function formatRatio(ratio: number | undefined): string {
  if (ratio === undefined) {
    return "";
  }
  return `${ratio >= 0.1 ? ratio.toFixed(2) : ratio.toPrecision(2)}x`;
}

/**
 * Formats the timings. The variant, wasm speedup and plainjs ratio columns appear only when
 * some record has a value for them, so a run without `--peers` prints the same table as before.
 */
export function formatRecordsTable(records: readonly BenchRecord[]): string {
  const withVariant = records.some((record) => record.variant !== undefined);
  const withRatio = records.some((record) => record.ratioVsJs !== undefined);
  const withPlainJsRatio = records.some((record) => record.ratioVsPlainJs !== undefined);
  const withThreadRatio = records.some((record) => record.ratioVsOneThread !== undefined);

  const header = ["op", "shape", "data", "backend"];
  const rightAligned = [false, false, false, false];
  if (withVariant) {
    header.push("variant");
    rightAligned.push(false);
  }
  header.push("median ms", "Melem/s");
  rightAligned.push(true, true);
  if (withRatio) {
    header.push("wasm speedup vs js");
    rightAligned.push(true);
  }
  if (withThreadRatio) {
    header.push("threads speedup vs wasm");
    rightAligned.push(true);
  }
  if (withPlainJsRatio) {
    header.push("speed vs plainjs");
    rightAligned.push(true);
  }

  const rows = records.map((record) => {
    const cells = [record.op, `${record.rows}x${record.classes}`, record.data, record.backend];
    if (withVariant) {
      const variant = record.variant ?? "";
      cells.push(record.awaited === true ? `${variant}, await` : variant);
    }
    cells.push(formatMs(record.medianMs), record.melemPerSec.toFixed(1));
    if (withRatio) {
      cells.push(formatRatio(record.ratioVsJs));
    }
    if (withThreadRatio) {
      cells.push(formatRatio(record.ratioVsOneThread));
    }
    if (withPlainJsRatio) {
      cells.push(formatRatio(record.ratioVsPlainJs));
    }
    return cells;
  });
  return formatTable(header, rows, rightAligned);
}

/** Label and number format of each real-data statistic, in table order. */
export const STAT_LABELS: readonly [keyof RealStats, string, (value: number) => string][] = [
  ["klTeacherStudentT1", "mean KL(teacher ‖ student), T=1 (nats)", (v) => v.toExponential(4)],
  ["klTeacherStudentT2", "mean KL(teacher ‖ student), T=2 (nats)", (v) => v.toExponential(4)],
  ["entropyTeacher", "mean entropy of teacher (nats)", (v) => v.toFixed(5)],
  ["entropyStudent", "mean entropy of student (nats)", (v) => v.toFixed(5)],
  ["crossEntropyTeacher", "mean cross-entropy of next tokens, teacher (nats)", (v) => v.toFixed(5)],
  ["crossEntropyStudent", "mean cross-entropy of next tokens, student (nats)", (v) => v.toFixed(5)],
  ["perplexityTeacher", "perplexity of teacher", (v) => v.toFixed(4)],
  ["perplexityStudent", "perplexity of student", (v) => v.toFixed(4)],
  ["top1Agreement", "top-1 agreement teacher/student", (v) => v.toFixed(4)],
  ["jsDivergence", "mean JSD(teacher, student), beta=0.5 (nats)", (v) => v.toExponential(4)],
  ["distillationLoss", "distillation loss, T=2, alpha=0.5 (nats)", (v) => v.toFixed(5)],
  ["labelledRows", "rows with a next-token label", (v) => String(v)],
];

/** Formats the real-data statistics with one column per backend. */
export function formatStatsTable(statsByBackend: Partial<Record<BenchBackend, RealStats>>): string {
  const backends = (Object.keys(statsByBackend) as BenchBackend[]).filter((name) => statsByBackend[name] !== undefined);
  const rows = STAT_LABELS.map(([key, label, format]) => [
    label,
    ...backends.map((backend) => format((statsByBackend[backend] as RealStats)[key])),
  ]);
  return formatTable(["statistic", ...backends], rows, [false, ...backends.map(() => true)]);
}

export function formatDiffTable(diffs: readonly BackendDiff[]): string {
  const format = (value: number | null) => (value === null ? "-" : value.toExponential(2));
  return formatTable(
    ["op (real logits)", "max |wasm - js|", "loss", "probs / grad"],
    diffs.map((diff) => [diff.op, format(diff.maxAbsDiff), format(diff.lossAbsDiff), format(diff.arrayMaxAbsDiff)]),
    [false, true, true, true],
  );
}

/** Returns the report as indented JSON; NaN and infinities become strings. */
export function jsonReportText(report: object): string {
  // JSON has no NaN or Infinity, and JSON.stringify would turn them into null without notice.
  const text = JSON.stringify(
    report,
    (_key, value: unknown) => (typeof value === "number" && !Number.isFinite(value) ? String(value) : value),
    2,
  );
  return `${text}\n`;
}
