/**
 * Node side of the report: the machine description and writing the JSON file.
 */
import { closeSync, mkdirSync, openSync, statSync, writeFileSync } from "node:fs";
import { cpus, availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { jsonReportText, type JsonReport, type MachineInfo } from "./report.js";

/** Directory of the default JSON reports: `results/` in this app. */
export const DEFAULT_RESULTS_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "results");

/** Returns the default JSON path for a run started at `date`; colons become dashes for file systems that reject them. */
export function defaultJsonPath(date: Date): string {
  return join(DEFAULT_RESULTS_DIR, `bench-${date.toISOString().replaceAll(":", "-")}.json`);
}

export function machineInfo(): MachineInfo {
  const cpuList = cpus();
  return {
    cpu: cpuList[0]?.model.trim() ?? "unknown",
    cores: availableParallelism(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
}

/**
 * Checks before the benchmark runs that the JSON results can be written to `path`, and returns
 * an error message when they cannot. The default results directory is created; a directory
 * named by the user must exist, because Node 20's recursive mkdir loops forever under /proc.
 */
export function prepareJsonPath(path: string, isDefault: boolean): string | null {
  const directory = dirname(path);
  try {
    if (isDefault) mkdirSync(directory, { recursive: true });
    else if (!statSync(directory).isDirectory()) return `${directory} is not a directory`;

    // Opening for append creates the file if needed and fails early on a directory or a
    // read-only location, without truncating an existing file.
    closeSync(openSync(path, "a"));
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** Writes the report as indented JSON; NaN and infinities become strings. */
export function writeJsonReport(path: string, report: JsonReport): void {
  writeFileSync(path, jsonReportText(report));
}
