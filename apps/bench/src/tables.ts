/**
 * Turns the JSON report of one benchmark run into Markdown tables: median milliseconds per call
 * with one column per backend and peer variant, and the ratios of logitkit's wasm backend
 * against each of them. Usage, from the repository root:
 * `npx --yes pnpm@10.34.9 --filter @logitkit/bench run tables PATH.json`.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { formatMs } from "./report.js";

/** The fields of a record that the tables use. */
export interface TableRecord {
  op: string;
  rows: number;
  classes: number;
  backend: string;
  variant?: string;
  data: string;
  medianMs: number;
}

/** Column name of a record: its backend, and its variant for peers timed in two ways. */
export function columnOf(record: TableRecord): string {
  return record.variant === undefined ? record.backend : `${record.backend} (${record.variant})`;
}

/** Formats a ratio of two times with two decimals. */
function ratio(numerator: number | undefined, denominator: number | undefined): string {
  if (numerator === undefined || denominator === undefined) return "";
  return `${(numerator / denominator).toFixed(2)}x`;
}

/**
 * Returns two Markdown tables: median ms per call per column, and each column's time divided by
 * the wasm time (above 1 means that wasm is faster). Cases keep the order of the records.
 */
export function markdownTables(records: readonly TableRecord[]): string {
  const columns = [...new Set(records.map(columnOf))];
  const cases = new Map<string, Map<string, number>>();
  for (const record of records) {
    const key = `${record.op}|${record.rows} x ${record.classes}${record.data === "real" ? " (real)" : ""}`;
    if (!cases.has(key)) cases.set(key, new Map());
    cases.get(key)!.set(columnOf(record), record.medianMs);
  }

  const header = (titles: string[]) => [`| ${titles.join(" | ")} |`, `| --- | --- |${" ---: |".repeat(titles.length - 2)}`];
  const times = header(["op", "shape", ...columns]);
  const others = columns.filter((column) => column !== "wasm");
  const ratios = header(["op", "shape", ...others.map((column) => `${column} / wasm`)]);

  for (const [key, byColumn] of cases) {
    const [op, shape] = key.split("|");
    const cells = columns.map((column) => {
      const ms = byColumn.get(column);
      return ms === undefined ? "-" : formatMs(ms);
    });
    times.push(`| ${op} | ${shape} | ${cells.join(" | ")} |`);
    const wasm = byColumn.get("wasm");
    ratios.push(`| ${op} | ${shape} | ${others.map((column) => ratio(byColumn.get(column), wasm) || "-").join(" | ")} |`);
  }
  return `${times.join("\n")}\n\n${ratios.join("\n")}\n`;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const path = process.argv[2];
  if (path === undefined) {
    process.stderr.write("usage: tables PATH.json (a JSON report written by the benchmark)\n");
    process.exit(2);
  }
  const report = JSON.parse(readFileSync(resolve(process.env.INIT_CWD ?? process.cwd(), path), "utf8")) as {
    records: TableRecord[];
  };
  process.stdout.write(markdownTables(report.records));
}
