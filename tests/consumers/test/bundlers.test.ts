/**
 * Fresh Vite and webpack 5 projects that install the packed tarball with npm and build a page
 * that runs fixtures/checks.mjs in production mode. Headless Chromium opens each page from a
 * cross-origin isolated origin, as a site that wants worker threads must serve it.
 */
import { copyFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { chromiumAvailable, CHROMIUM_FIX, CHROMIUM_PATH } from "../../../tools/chromium.js";
import { runCommand } from "../src/commands.js";
import { createProject, npmInstall, TOOL_VERSIONS, type TempProject } from "../src/projects.js";
import { serveFolder, type StaticServer } from "../src/static-server.js";
import { checkReport, type ConsumerReport } from "./report.js";

// Under CI a missing Chromium throws here and fails the run.
const chromiumFound = chromiumAvailable();
if (!chromiumFound) console.warn(`Chromium not found at ${CHROMIUM_PATH}, so the Vite and webpack consumer tests are skipped: ${CHROMIUM_FIX}.`);

const PAGE = { "index.html": "page/index.html", "main.js": "page/main.js", "checks.mjs": "checks.mjs" };

/** What the page stores in window.logitkitReport. */
type PageReport = (ConsumerReport & { crossOriginIsolated: boolean }) | { error: string };

/** Lists the JavaScript files of a build with their sizes, for the test log. */
function describeBuild(dist: string): string {
  const scripts: string[] = [];
  const visit = (folder: string) => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) visit(path);
      else if (entry.name.endsWith(".js")) scripts.push(`${path.slice(dist.length + 1)} ${statSync(path).size} bytes`);
    }
  };
  visit(dist);
  return scripts.join(", ");
}

/** A production build: its folder and the bundler's warnings, empty when there were none. */
interface Build {
  dist: string;
  warnings: string;
}

/** Builds the page with Vite into dist/. Vite prints its warnings on stderr. */
async function buildWithVite(project: TempProject): Promise<Build> {
  const { stderr } = await runCommand(project.path("node_modules", ".bin", "vite"), ["build"], { cwd: project.dir, timeout: 180_000 });
  return { dist: project.path("dist"), warnings: stderr.trim() };
}

/** Builds the page with webpack into dist/ and adds the HTML, which webpack does not emit without a plugin. */
async function buildWithWebpack(project: TempProject): Promise<Build> {
  const { stdout } = await runCommand(project.path("node_modules", ".bin", "webpack"), ["--config", "webpack.config.cjs"], {
    cwd: project.dir,
    timeout: 180_000,
  });
  copyFileSync(project.path("index.html"), project.path("dist", "index.html"));

  // webpack ends with "compiled successfully" or "compiled with N warnings" and lists them above.
  return { dist: project.path("dist"), warnings: /compiled successfully/.test(stdout) ? "" : stdout.trim() };
}

describe.skipIf(!chromiumFound)("bundled pages in Chromium", () => {
  const tarball = inject("tarball");
  const projects: TempProject[] = [];
  const servers: StaticServer[] = [];
  let browser: Browser;

  const bundlers = [
    {
      name: `Vite ${TOOL_VERSIONS.vite}`,
      create: () => createProject("vite", { type: "module" }, PAGE),
      packages: [`vite@${TOOL_VERSIONS.vite}`],
      build: buildWithVite,
    },
    {
      name: `webpack ${TOOL_VERSIONS.webpack}`,
      create: () => createProject("webpack", {}, { ...PAGE, "webpack.config.cjs": "page/webpack.config.cjs" }),
      packages: [`webpack@${TOOL_VERSIONS.webpack}`, `webpack-cli@${TOOL_VERSIONS.webpackCli}`],
      build: buildWithWebpack,
    },
  ];
  const builds = new Map<string, Build & { url: string }>();

  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true });

    for (const bundler of bundlers) {
      const project = bundler.create();
      projects.push(project);
      await npmInstall(project, [tarball, ...bundler.packages]);
      const build = await bundler.build(project);
      console.log(`${bundler.name} production build: ${describeBuild(build.dist)}`);

      const server = await serveFolder(build.dist);
      servers.push(server);
      builds.set(bundler.name, { ...build, url: server.url });
    }
  });

  afterAll(async () => {
    await browser?.close();
    for (const server of servers) await server.close();
    for (const project of projects) rmSync(project.dir, { recursive: true, force: true });
  });

  for (const bundler of bundlers) {
    it(`runs the ${bundler.name} build`, async () => {
      const build = builds.get(bundler.name)!;
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on("pageerror", (error) => errors.push(error.message));
      page.on("console", (message) => {
        if (message.type() === "error") errors.push(message.text());
      });

      try {
        await page.goto(build.url);
        await page.waitForSelector("body[data-done=true]", { timeout: 60_000 });
        const report = await page.evaluate(() => (window as unknown as { logitkitReport: PageReport }).logitkitReport);

        expect("error" in report ? report.error : undefined, "error thrown by the page").toBeUndefined();
        const checked = report as ConsumerReport & { crossOriginIsolated: boolean };
        console.log(`${bundler.name} in Chromium: backend ${checked.backend}, pool threads ${checked.pool.threads}, worker ${checked.worker.backend}, loss ${checked.crossEntropy.loss}`);
        expect(checked.crossOriginIsolated, "crossOriginIsolated").toBe(true);
        checkReport(checked);
        expect(errors, "errors in the page's console").toEqual([]);
        expect(build.warnings, `warnings of the ${bundler.name} build`).toBe("");
      } finally {
        await page.close();
      }
    });
  }
});
