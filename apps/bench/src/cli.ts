/**
 * Command-line entry of the logitkit benchmark; `--help` lists the options.
 */
import { resolve } from "node:path";
import type { LoadOptions, LogitKit } from "logitkit";
import { helpText, parseArgs, UsageError, type ParsedArgs } from "./args.js";
import { formatAccuracyTable } from "./accuracy.js";
import { backendLoader, runBench } from "./bench.js";
import { nodeEnvironment } from "./node-environment.js";
import { Progress } from "./progress.js";
import { formatDiffTable, formatRecordsTable, formatStatsTable, type JsonReport } from "./report.js";
import { defaultJsonPath, machineInfo, prepareJsonPath, writeJsonReport } from "./report-file.js";
import { errorMessage } from "./error-message.js";

type LoadLogitKit = (options?: LoadOptions) => Promise<LogitKit>;

function quoteArg(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`;
}

/** Imports the library from its build, which exists only after `pnpm build`. */
async function importLibrary(): Promise<LoadLogitKit> {
  const library = (await import("logitkit")) as { loadLogitKit: LoadLogitKit };
  return library.loadLogitKit;
}

/** Runs the CLI and returns its exit code: 0 success, 1 failure, 2 invalid command line. */
async function main(argv: readonly string[]): Promise<number> {
  const startMs = performance.now();
  const startDate = new Date();

  let parsed: ParsedArgs;
  try {
    parsed = parseArgs(argv);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`error: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  if (parsed.help) {
    process.stdout.write(helpText());
    return 0;
  }
  const { options } = parsed;

  // pnpm runs the script in apps/bench and sets INIT_CWD to the directory that pnpm started in
  // (the repository root under the root's `pnpm bench`), which is where a user expects a
  // relative --json path to land.
  const jsonPath =
    options.jsonPath === undefined ? defaultJsonPath(startDate) : resolve(process.env.INIT_CWD ?? process.cwd(), options.jsonPath);
  const jsonProblem = prepareJsonPath(jsonPath, options.jsonPath === undefined);
  if (jsonProblem !== null) {
    process.stderr.write(`error: --json: cannot write the JSON results to ${jsonPath}: ${jsonProblem}
`);
    return 2;
  }

  let loadLogitKit: LoadLogitKit;
  try {
    loadLogitKit = await importLibrary();
  } catch (error) {
    process.stderr.write(
      `error: the logitkit package failed to import (${errorMessage(error)}).\n` +
        "Build it first: run `pnpm bench` from the repository root, which builds it, or `pnpm build` there.\n",
    );
    return 1;
  }

  const progress = new Progress(process.stderr);
  const run = await runBench(options, backendLoader(loadLogitKit, options.threads), progress, nodeEnvironment);
  const totalSeconds = (performance.now() - startMs) / 1e3;

  const machine = machineInfo();
  const out: string[] = [];
  const backendText = Object.entries(run.backends)
    .map(([name, status]) => `${name} ${status}`)
    .join("; ");
  out.push(`logitkit benchmark on ${machine.cpu} (${machine.cores} cores), Node ${machine.node}, ${machine.platform}`);
  out.push(`backends: ${backendText}`);
  if (run.peers !== null) {
    const peerText = Object.entries(run.peers)
      .map(([name, status]) => `  ${name}: ${status}`)
      .join("\n");
    out.push(`peers:\n${peerText}`);
  }

  if (run.realData !== null) {
    const { realData } = run;
    out.push("");
    out.push(`Real logits: stories260K teacher (float32) and student (int8 weights), ${realData.rows}x${realData.classes}`);
    out.push(formatStatsTable(realData.statsByBackend));

    out.push("");
    if (realData.backendDiffs === null) {
      out.push("Largest backend difference: not computed, because only one backend loaded.");
    } else {
      out.push("Largest absolute difference between the backends over every output value (loss, probabilities, gradient):");
      out.push(formatDiffTable(realData.backendDiffs));
    }
  }

  if (run.accuracy !== null) {
    const { accuracy } = run;
    out.push("");
    out.push(
      `Accuracy against float64 on the seeded random logits, ${accuracy.rows}x${accuracy.classes} ` +
        "(cross-entropy: the loss of each row). The baseline rounds every exp, quotient, log and " +
        "difference to float32, with z - max exact and a float64 sum; x / float32 = error / the baseline's.",
    );
    out.push(formatAccuracyTable(accuracy));
  }

  if (run.records.length > 0) {
    const reps = run.records[0].runs;
    out.push("");
    out.push(
      `Timings: median time per call over ${reps} timed runs per backend, alternating backends; ` +
        "Melem/s = million logits (rows x classes) per second.",
    );
    if (run.peers !== null) {
      out.push(
        "Peers: variant kernel = input tensor created before the timing, op + dataSync() + dispose; " +
          "end-to-end = Float32Array in, Float32Array out, tensors created and disposed in the call; " +
          "await = each call awaits the promise of session.run. " +
          "speed vs plainjs = plainjs median / this median.",
      );
    }
    out.push(formatRecordsTable(run.records));
  }

  if (run.failures.length > 0) {
    out.push("");
    out.push("Failures:");
    for (const failure of run.failures) {
      out.push(`  ${failure.op} ${failure.rows}x${failure.classes} ${failure.backend}: ${failure.error}`);
    }
  }

  const report: JsonReport = {
    machine,
    date: startDate.toISOString(),
    command: ["pnpm", "bench", ...argv].map(quoteArg).join(" "),
    options,
    backends: run.backends,
    peers: run.peers,
    totalSeconds,
    records: run.records,
    failures: run.failures,
    realData: run.realData,
    accuracy: run.accuracy,
  };

  let exitCode = run.complete ? 0 : 1;
  out.push("");
  try {
    writeJsonReport(jsonPath, report);
    out.push(`JSON results: ${jsonPath}`);
  } catch (error) {
    process.stderr.write(`error: writing the JSON results to ${jsonPath} failed: ${errorMessage(error)}\n`);
    exitCode = 1;
  }
  out.push(`Total time: ${totalSeconds.toFixed(1)} s`);
  process.stdout.write(`${out.join("\n")}\n`);

  if (run.records.length === 0) {
    process.stderr.write("error: nothing was timed; see the messages above.\n");
    exitCode = 1;
  }
  return exitCode;
}

process.exitCode = await main(process.argv.slice(2));
