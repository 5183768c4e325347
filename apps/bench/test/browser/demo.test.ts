/**
 * End-to-end test of the demo page in real Chromium: the built page, served with the headers of
 * `pnpm demo`, under the strict policy and under a policy that blocks WebAssembly.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import { build } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { demoHeaders } from "../../src/demo-headers.js";
import { startDemoServer, type DemoServer } from "../../src/demo-server.js";
import { chromiumAvailable, CHROMIUM_FIX, CHROMIUM_PATH } from "../../../../tools/chromium.js";

const APP_DIR = fileURLToPath(new URL("../..", import.meta.url));
const OUTPUT_DIR = join(APP_DIR, "test-output");
const AXE_SOURCE = createRequire(import.meta.url).resolve("axe-core/axe.min.js");
// Under CI a missing Chromium throws here and fails the run.
const chromiumFound = chromiumAvailable();
if (!chromiumFound) console.warn(`Chromium not found at ${CHROMIUM_PATH}, so the demo page tests are skipped: ${CHROMIUM_FIX}.`);

/** Float64 softmax(z / T) of one row, the oracle of the distribution plot. */
function softmax64(row: Float32Array, temperature: number): Float64Array {
  let max = -Infinity;
  for (const value of row) max = Math.max(max, value / temperature);
  const out = Float64Array.from(row, (value) => Math.exp(value / temperature - max));
  const sum = out.reduce((total, value) => total + value, 0);
  return out.map((value) => value / sum);
}

/** Reads row `row` of a `rows x 512` float32 file of the real data. */
function realRow(file: string, row: number): Float32Array {
  const classes = 512;
  const bytes = readFileSync(join(APP_DIR, "data/stories260k", file));
  return new Float32Array(bytes.buffer, bytes.byteOffset + row * classes * 4, classes).slice();
}

/** Relative difference |actual - expected| / |expected|. */
function relativeError(actual: number, expected: number): number {
  return Math.abs(actual - expected) / Math.abs(expected);
}

/** Reads the bars of the distribution plot as (token, probability) per series. */
async function readDistribution(page: Page): Promise<{ teacher: [number, number][]; student: [number, number][] }> {
  const bars = await page.$$eval("#dist-chart rect[data-series]", (rects) =>
    rects.map((rect) => [rect.getAttribute("data-series"), Number(rect.getAttribute("data-category")), Number(rect.getAttribute("data-value"))] as const),
  );
  return {
    teacher: bars.filter(([series]) => series === "teacher").map(([, token, value]) => [token, value]),
    student: bars.filter(([series]) => series === "student (int8)").map(([, token, value]) => [token, value]),
  };
}

/** Leaves only the given checkboxes of a group checked. */
async function checkOnly(page: Page, group: string, values: readonly string[]): Promise<void> {
  for (const box of await page.$$(`#${group} input[type=checkbox]`)) {
    const value = await box.getAttribute("value");
    if (await box.isDisabled()) continue;
    if (values.includes(value ?? "")) await box.check();
    else await box.uncheck();
  }
}

/** Runs the benchmark form and returns the table's rows once the run is done. */
async function runBenchmark(page: Page): Promise<{ backend: string; op: string; melemPerSec: number }[]> {
  await page.click("#run");
  await page.waitForFunction(() => (document.querySelector("#download") as HTMLButtonElement).disabled === false, null, { timeout: 180_000 });
  return page.$$eval("#results tbody tr", (rows) =>
    rows.map((row) => ({
      backend: (row as HTMLElement).dataset.backend ?? "",
      op: (row as HTMLElement).dataset.op ?? "",
      melemPerSec: Number((row as HTMLElement).dataset.melemPerSec),
    })),
  );
}

describe.skipIf(!chromiumFound)("demo page in Chromium", () => {
  let browser: Browser;
  let strict: DemoServer;
  let noWasm: DemoServer;
  let plain: DemoServer;
  // The page is built into a subfolder, so that the plain server also checks the relative base.
  const siteDir = mkdtempSync(join(tmpdir(), "logitkit-demo-"));
  const distDir = join(siteDir, "demo");

  beforeAll(async () => {
    await build({ configFile: join(APP_DIR, "vite.config.ts"), logLevel: "warn", build: { outDir: distDir, emptyOutDir: true } });
    strict = await startDemoServer({ root: distDir, port: 0 });
    noWasm = await startDemoServer({ root: distDir, port: 0, headers: demoHeaders(false) });
    plain = await startDemoServer({ root: siteDir, port: 0, headers: {} });
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true });
    mkdirSync(OUTPUT_DIR, { recursive: true });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await strict?.close();
    await noWasm?.close();
    await plain?.close();
    rmSync(siteDir, { recursive: true, force: true });
  });

  it("runs the benchmark and the temperature plot", async () => {
    const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    page.on("console", (message) => {
      if (message.type() === "error") errors.push(message.text());
    });

    await page.goto(strict.url);
    await page.waitForSelector("body[data-ready=true]", { timeout: 60_000 });

    expect(await page.evaluate(() => globalThis.crossOriginIsolated)).toBe(true);
    expect(await page.textContent("#support-backend")).toBe("wasm");
    expect(await page.textContent("#support-simd")).toBe("yes");
    expect(await page.textContent("#support-threads")).toBe("2 threads");

    // A short run: two operations on one random shape and on the real logits, every backend.
    await checkOnly(page, "ops", ["softmax", "crossEntropyWithGrad"]);
    await checkOnly(page, "shapes", []);
    await checkOnly(page, "backends", ["wasm", "js", "wasm-threads"]);
    await page.fill("#extra-shapes", "16x4096");
    await page.fill("#reps", "3");
    const rows = await runBenchmark(page);

    expect(await page.$eval("#progress", (bar) => (bar as HTMLProgressElement).value)).toBe(1);
    expect(await page.textContent("#progress-text")).toMatch(/^Done in [\d.]+ s: 12 timings\.$/);
    expect(rows.length).toBe(2 * 2 * 3);
    for (const backend of ["wasm", "js", "wasm-threads"]) {
      expect(rows.filter((row) => row.backend === backend).length).toBe(4);
    }
    for (const row of rows) {
      expect(Number.isFinite(row.melemPerSec), `${row.op} ${row.backend}`).toBe(true);
      expect(row.melemPerSec, `${row.op} ${row.backend}`).toBeGreaterThan(0);
    }
    expect(await page.$$eval("#bench-chart rect[data-series]", (rects) => rects.length)).toBe(rows.length);
    expect(await page.textContent("#bench-log")).toBe("");

    // The download is the CLI's JSON report.
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#download")]);
    const report = JSON.parse(readFileSync(await download.path(), "utf8"));
    expect(report.records.length).toBe(rows.length);
    expect(report.failures).toEqual([]);
    expect(report.backends).toEqual({ wasm: "loaded", js: "loaded", "wasm-threads": "loaded" });
    expect(report.machine.userAgent).toContain("Chrome");
    expect(report.realData.stats.top1Agreement).toBeGreaterThan(0.5);
    expect(report.command).toContain("--shapes 16x4096");

    // The plot of the chosen position follows the temperature slider.
    const sequence = Number(await page.inputValue("#sequence"));
    const position = Number(await page.inputValue("#position"));
    const before = await readDistribution(page);
    await page.fill("#temperature", "3");
    expect(await page.getAttribute("#dist-chart", "data-temperature")).toBe("3.00");
    const after = await readDistribution(page);

    expect(after.teacher.length).toBe(20);
    expect(after.teacher.map(([, p]) => p)).not.toEqual(before.teacher.map(([, p]) => p));
    // A higher temperature flattens the distribution, so its largest probability drops.
    expect(after.teacher[0][1]).toBeLessThan(before.teacher[0][1]);

    // Every plotted probability, of both models, matches a float64 softmax of the real logits at T = 3.
    const row = sequence * 128 + position;
    const expected = softmax64(realRow("teacher.f32", row), 3);
    const expectedStudent = softmax64(realRow("student-q8.f32", row), 3);
    for (const [token, probability] of after.teacher) {
      expect(Math.abs(probability - expected[token]), `teacher token ${token}`).toBeLessThan(1e-6 * expected[token] + 1e-9);
    }
    for (const [token, probability] of after.student) {
      expect(Math.abs(probability - expectedStudent[token]), `student token ${token}`).toBeLessThan(1e-6 * expectedStudent[token] + 1e-9);
    }
    const expectedOrder = Array.from(expected.keys()).sort((a, b) => expected[b] - expected[a]).slice(0, 20);
    expect(after.teacher.map(([token]) => token)).toEqual(expectedOrder);
    expect(after.student.map(([token]) => token)).toEqual(expectedOrder);

    // The entropy and KL of the position, and the per-position charts, follow the temperature too.
    let entropy = 0;
    let divergence = 0;
    for (let c = 0; c < 512; c++) {
      if (expected[c] > 0) entropy -= expected[c] * Math.log(expected[c]);
      if (expected[c] > 0) divergence += expected[c] * (Math.log(expected[c]) - Math.log(expectedStudent[c]));
    }
    expect(relativeError(Number(await page.getAttribute("#position-stats", "data-entropy")), entropy)).toBeLessThan(1e-5);
    expect(relativeError(Number(await page.getAttribute("#position-stats", "data-divergence")), divergence)).toBeLessThan(1e-2);
    expect(await page.textContent("#position-stats")).toContain(`teacher entropy ${entropy.toFixed(4)} nats`);
    expect(await page.getAttribute("#entropy-chart svg", "aria-label")).toBe("Teacher entropy per position at T = 3.00 (nats)");
    expect(await page.getAttribute("#kl-chart svg", "aria-label")).toBe("KL(teacher ‖ student) per position at T = 3.00 (nats)");

    // axe-core checks the finished page, tables and charts included, against WCAG 2 A and AA.
    // page.evaluate runs outside the page's Content-Security-Policy, which blocks inline scripts.
    await page.evaluate(readFileSync(AXE_SOURCE, "utf8"));
    const violations = await page.evaluate(async () => {
      const axe = (globalThis as unknown as { axe: { run(context: Document, options: object): Promise<{ violations: { id: string; nodes: unknown[] }[] }> } }).axe;
      const result = await axe.run(document, { runOnly: ["wcag2a", "wcag2aa", "best-practice"] });
      return result.violations.map((violation) => `${violation.id} (${violation.nodes.length} elements)`);
    });
    expect(violations).toEqual([]);

    await page.screenshot({ path: join(OUTPUT_DIR, "demo-page.png"), fullPage: true });
    await page.locator("section[aria-labelledby=bench-title]").screenshot({ path: join(OUTPUT_DIR, "demo-benchmark.png") });
    await page.locator("section[aria-labelledby=real-title]").screenshot({ path: join(OUTPUT_DIR, "demo-real-logits.png") });
    expect(errors).toEqual([]);
    await page.close();
  }, 240_000);

  it("falls back to js when the policy blocks WebAssembly", async () => {
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (error) => pageErrors.push(error.message));

    await page.goto(noWasm.url);
    await page.waitForSelector("body[data-ready=true]", { timeout: 60_000 });

    expect(await page.textContent("#support-backend")).toBe("js");
    expect(await page.textContent("#support-compile")).toMatch(/^no \(.+\)$/);
    expect(await page.textContent("#support-note")).toContain("fell back to the js backend");
    expect(await page.isDisabled("#backends input[value=wasm]")).toBe(true);
    expect(await page.textContent("#real-status")).toContain("js backend");
    expect(await page.$$eval("#dist-chart rect[data-series=teacher]", (rects) => rects.length)).toBe(20);

    // No shape ticked: only the real logits are timed.
    await checkOnly(page, "ops", ["softmax"]);
    await checkOnly(page, "shapes", []);
    await page.fill("#reps", "2");
    const rows = await runBenchmark(page);
    expect(rows.map((row) => row.backend)).toEqual(["js"]);
    expect(await page.$$eval("#results tbody tr td:nth-child(2)", (cells) => cells.map((cell) => cell.textContent))).toEqual(["real"]);
    expect(rows[0].melemPerSec).toBeGreaterThan(0);

    await page.screenshot({ path: join(OUTPUT_DIR, "demo-page-no-wasm.png"), fullPage: true });
    expect(pageErrors).toEqual([]);
    await page.close();
  }, 120_000);

  it("works from a static server without headers", async () => {
    // A phone-sized viewport: the page must not scroll sideways.
    const page = await browser.newPage({ viewport: { width: 375, height: 800 } });
    const pageErrors: string[] = [];
    page.on("pageerror", (error) => pageErrors.push(error.message));

    await page.goto(`${plain.url}demo/`);
    await page.waitForSelector("body[data-ready=true]", { timeout: 60_000 });

    // Without COOP and COEP the page is not isolated, so the wasm backend runs on one thread.
    expect(await page.evaluate(() => globalThis.crossOriginIsolated)).toBe(false);
    expect(await page.textContent("#support-backend")).toBe("wasm");
    expect(await page.textContent("#support-threads")).toMatch(/^1 thread \(.*cross-origin isolated.*\)$/);
    expect(await page.isDisabled("#backends input[value=wasm-threads]")).toBe(true);
    expect(await page.textContent("#real-status")).toContain("wasm backend");
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);

    // Stop ends a long run at once and leaves the form ready for the next one.
    await checkOnly(page, "ops", ["klDivergenceWithGrad"]);
    await checkOnly(page, "backends", ["js"]);
    await page.fill("#extra-shapes", "64x1000000");
    await page.click("#run");
    await page.waitForFunction(() => /creating|\[1\/\d+\]/.test(document.querySelector("#progress-text")?.textContent ?? ""));
    await page.click("#stop");
    expect(await page.textContent("#progress-text")).toBe("Stopped before the end; no results.");
    expect(await page.isDisabled("#run")).toBe(false);
    expect(await page.isDisabled("#stop")).toBe(true);
    expect(pageErrors).toEqual([]);
    await page.close();
  }, 120_000);
});
