/**
 * Fresh Node.js projects that install the packed tarball with npm and run fixtures/checks.mjs as
 * an ES module and as CommonJS: on the Node.js that runs the tests (20 in CI) and on Node.js 22
 * from the npm registry's `node` package.
 */
import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { runCommand } from "../src/commands.js";
import { createProject, npmInstall, TOOL_VERSIONS, type TempProject } from "../src/projects.js";
import { checkReport, type ConsumerReport } from "./report.js";

/** The report that a Node.js consumer prints, with the Node.js version and the file that `logitkit` resolved to. */
interface NodeReport extends ConsumerReport {
  node: string;
  entry: string;
}

const PROGRAMS = { "checks.mjs": "checks.mjs", "esm.mjs": "node-esm.mjs", "cjs.cjs": "node-cjs.cjs" };

/** Runs a consumer program with the `node` executable and returns the JSON line it printed last. */
async function runProgram(node: string, project: TempProject, program: string): Promise<NodeReport> {
  const { stdout } = await runCommand(node, [program], { cwd: project.dir, timeout: 60_000 });
  const lines = stdout.trim().split("\n");
  return JSON.parse(lines[lines.length - 1]) as NodeReport;
}

describe("Node.js consumers", () => {
  const tarball = inject("tarball");
  let current: TempProject;
  let node22: TempProject;

  beforeAll(async () => {
    current = createProject("node", {}, PROGRAMS);
    node22 = createProject("node22", { allowScripts: { [`node@${TOOL_VERSIONS.node22}`]: true } }, PROGRAMS);
    await npmInstall(current, [tarball]);
    await npmInstall(node22, [tarball, `node@${TOOL_VERSIONS.node22}`]);
  });

  afterAll(() => {
    for (const project of [current, node22]) if (project !== undefined) rmSync(project.dir, { recursive: true, force: true });
  });

  const runtimes = [
    { name: `Node.js ${process.versions.node}`, project: () => current, node: () => process.execPath, version: process.version },
    { name: `Node.js ${TOOL_VERSIONS.node22}`, project: () => node22, node: () => node22.path("node_modules", ".bin", "node"), version: `v${TOOL_VERSIONS.node22}` },
  ];

  for (const runtime of runtimes) {
    it(`imports the ESM build on ${runtime.name}`, async () => {
      const project = runtime.project();
      const report = await runProgram(runtime.node(), project, "esm.mjs");
      console.log(`${runtime.name} ESM: backend ${report.backend}, pool threads ${report.pool.threads}, worker ${report.worker.backend}, loss ${report.crossEntropy.loss}`);

      expect(report.node).toBe(runtime.version);
      expect(report.entry).toBe(`file://${project.path("node_modules", "logitkit", "dist", "index.js")}`);
      checkReport(report);
    });

    it(`requires the CommonJS build on ${runtime.name}`, async () => {
      const project = runtime.project();
      const report = await runProgram(runtime.node(), project, "cjs.cjs");
      console.log(`${runtime.name} CommonJS: backend ${report.backend}, pool threads ${report.pool.threads}, worker ${report.worker.backend}, loss ${report.crossEntropy.loss}`);

      expect(report.node).toBe(runtime.version);
      expect(report.entry).toBe(project.path("node_modules", "logitkit", "dist", "index.cjs"));
      checkReport(report);
    });
  }
});
