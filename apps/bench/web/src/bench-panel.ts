/**
 * The benchmark form: builds the CLI's options from the form, runs them in a fresh worker, and
 * shows the progress, a results table, a bar chart and the JSON download.
 */
import { BACKEND_NAMES, DEFAULT_SHAPES, formatShape, parseArgs, type BenchBackend } from "../../src/args.js";
import { OP_NAMES } from "../../src/ops.js";
import { formatMs, formatRatio, jsonReportText, type BenchRecord, type JsonReport } from "../../src/report.js";
import { drawGroupedBars } from "./charts.js";
import type { RunRequest, WorkerMessage } from "./messages.js";
import { defaultThreads, type Support } from "./support.js";
import { byId } from "./dom.js";
import { errorMessage } from "../../src/error-message.js";

/** Selections of a fresh page, which ran in 13 s on a 2-core virtual machine without threads. */
const DEFAULT_PAGE_OPS = ["softmax", "logSoftmax", "crossEntropyWithGrad", "klDivergenceWithGrad"];
const DEFAULT_PAGE_SHAPES = ["8x50257", "64x32000", "1x8"];

function addCheckbox(container: HTMLElement, name: string, value: string, checked: boolean, text = value): HTMLInputElement {
  const label = document.createElement("label");
  const input = document.createElement("input");
  input.type = "checkbox";
  input.name = name;
  input.value = value;
  input.checked = checked;
  label.append(input, ` ${text}`);
  container.append(label);
  return input;
}

function checkedValues(container: HTMLElement): string[] {
  return Array.from(container.querySelectorAll<HTMLInputElement>("input[type=checkbox]:checked"), (input) => input.value);
}

/** Builds the CLI arguments of the form's selections, so that the CLI's parser checks them. */
function formArguments(): string[] {
  const ops = checkedValues(byId("ops"));
  // "8 x 50257", "8×50257" and "8X50257" all mean 8x50257; the CLI's parser checks the rest.
  const extra = byId<HTMLInputElement>("extra-shapes")
    .value.split(",")
    .map((item) => item.replace(/\s+/g, "").replace(/[×X]/g, "x"))
    .filter((item) => item !== "");
  const shapes = [...new Set([...checkedValues(byId("shapes")), ...extra])];
  const backends = checkedValues(byId("backends"));

  if (ops.length === 0) throw new Error("choose at least one operation");
  if (backends.length === 0) throw new Error("choose at least one backend");
  if (shapes.length === 0 && !byId<HTMLInputElement>("real").checked) {
    throw new Error("choose at least one shape, or include the real logits");
  }

  const argv = ["--ops", ops.join(","), "--backends", backends.join(","), "--reps", byId<HTMLInputElement>("reps").value];
  argv.push(...(shapes.length === 0 ? ["--no-random"] : ["--shapes", shapes.join(",")]));
  if (backends.includes("wasm-threads")) argv.push("--threads", byId<HTMLInputElement>("threads").value);
  if (byId<HTMLInputElement>("quick").checked) argv.push("--quick");
  if (!byId<HTMLInputElement>("real").checked) argv.push("--no-real");
  return argv;
}

function cell(row: HTMLTableRowElement, text: string, numeric = false): void {
  const td = row.insertCell();
  td.textContent = text;
  if (numeric) td.className = "num";
}

function showRecords(records: readonly BenchRecord[]): void {
  const table = byId<HTMLTableElement>("results");
  const body = table.tBodies[0];
  body.replaceChildren();

  for (const record of records) {
    const row = body.insertRow();
    row.dataset.backend = record.backend;
    row.dataset.op = record.op;
    row.dataset.melemPerSec = String(record.melemPerSec);
    cell(row, record.op);
    cell(row, record.data);
    cell(row, `${record.rows} × ${record.classes}`);
    cell(row, record.backend);
    cell(row, formatMs(record.medianMs), true);
    cell(row, record.melemPerSec.toFixed(1), true);
    cell(row, formatRatio(record.ratioVsJs), true);
    cell(row, formatRatio(record.ratioVsOneThread), true);
  }
  table.hidden = records.length === 0;

  const series = BACKEND_NAMES.filter((backend) => records.some((record) => record.backend === backend));
  const groups = new Map<string, { series: string; value: number }[]>();
  for (const record of records) {
    const label = `${record.op} ${record.data === "real" ? "real " : ""}${formatShape(record)}`;
    const bars = groups.get(label) ?? [];
    bars.push({ series: record.backend, value: record.melemPerSec });
    groups.set(label, bars);
  }
  drawGroupedBars(
    byId("bench-chart"),
    "Million logits per second per backend (longer is faster)",
    "million logits per second",
    [...groups].map(([label, bars]) => ({ label, bars })),
    series,
  );
}

/** Sets up the form. The backends that `support` shows as unavailable cannot be chosen. */
export function setUpBenchPanel(support: Support): void {
  const form = byId<HTMLFormElement>("bench-form");
  const runButton = byId<HTMLButtonElement>("run");
  const stopButton = byId<HTMLButtonElement>("stop");
  const downloadButton = byId<HTMLButtonElement>("download");
  const formError = byId("form-error");
  const progress = byId<HTMLProgressElement>("progress");
  const progressText = byId("progress-text");
  const log = byId("bench-log");
  const threadsInput = byId<HTMLInputElement>("threads");

  for (const name of OP_NAMES) addCheckbox(byId("ops"), "op", name, DEFAULT_PAGE_OPS.includes(name));
  for (const shape of DEFAULT_SHAPES) {
    const text = formatShape(shape);
    addCheckbox(byId("shapes"), "shape", text, DEFAULT_PAGE_SHAPES.includes(text));
  }

  const available: Record<BenchBackend, boolean> = { wasm: support.backend === "wasm", js: true, "wasm-threads": support.threads > 1 };
  for (const backend of BACKEND_NAMES) {
    const input = addCheckbox(byId("backends"), "backend", backend, available[backend], backend === "wasm-threads" ? "wasm with worker threads" : backend);
    input.disabled = !available[backend];
  }
  threadsInput.value = String(defaultThreads());
  threadsInput.max = String(Math.max(2, Math.min(128, support.cores * 2)));
  threadsInput.disabled = !available["wasm-threads"];

  let report: JsonReport | null = null;
  let worker: Worker | null = null;

  // Terminating the worker also stops the worker threads that its kits started.
  const finish = () => {
    worker?.terminate();
    worker = null;
    runButton.disabled = false;
    stopButton.disabled = true;
  };

  // A message about an earlier submit would be stale once the form changes.
  form.addEventListener("input", () => {
    formError.textContent = "";
  });

  stopButton.addEventListener("click", () => {
    finish();
    progressText.textContent = "Stopped before the end; no results.";
  });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    formError.textContent = "";
    // One run at a time: a second submit, such as a scripted requestSubmit(), is ignored.
    if (worker !== null) return;

    let argv: string[];
    let request: RunRequest;
    try {
      argv = formArguments();
      const parsed = parseArgs(argv);
      if (parsed.help) throw new Error("unexpected help request");
      request = { type: "run", options: parsed.options, command: ["pnpm", "bench", ...argv].join(" ") };
    } catch (error) {
      formError.textContent = `Cannot run: ${errorMessage(error)}`;
      return;
    }

    runButton.disabled = true;
    stopButton.disabled = false;
    downloadButton.disabled = true;
    log.replaceChildren();
    progress.value = 0;
    progressText.textContent = "Starting the worker…";

    worker = new Worker(new URL("./bench-worker.ts", import.meta.url), { type: "module" });
    worker.onmessage = (message: MessageEvent<WorkerMessage>) => {
      const data = message.data;
      if (data.type === "progress") {
        if (data.total > 0) progress.value = data.finished / data.total;
        if (data.step !== "") progressText.textContent = data.detail === "" ? data.step : `${data.step} (${data.detail})`;
      } else if (data.type === "log") {
        const item = document.createElement("li");
        item.textContent = data.message;
        log.append(item);
      } else if (data.type === "done") {
        report = data.report;
        progress.value = 1;
        const failures = data.report.failures.length;
        const timings = data.report.records.length;
        progressText.textContent =
          `Done in ${data.report.totalSeconds.toFixed(1)} s: ${timings} ${timings === 1 ? "timing" : "timings"}` +
          (failures > 0 ? `, ${failures} ${failures === 1 ? "failure" : "failures"} (listed above)` : "") +
          ".";
        showRecords(data.report.records);
        downloadButton.disabled = false;
        finish();
      } else {
        progressText.textContent = `The benchmark failed: ${data.message}`;
        finish();
      }
    };
    worker.onerror = (event) => {
      progressText.textContent = `The benchmark worker failed: ${event.message || "unknown error (see the browser console)"}`;
      finish();
    };
    worker.postMessage(request);
  });

  downloadButton.addEventListener("click", () => {
    if (report === null) return;
    const blob = new Blob([jsonReportText(report)], { type: "application/json" });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = `bench-${report.date.replaceAll(":", "-")}.json`;
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  });
}
