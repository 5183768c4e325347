/**
 * Builds the API reference with TypeDoc, as `pnpm docs` does, into a temporary folder, and checks
 * that it has one page per public function and method. typedoc.json makes every TypeDoc warning
 * (a broken link, an undocumented export) an error, so the build fails on them.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { interfaceMethods } from "./doc-examples.js";

const PACKAGE = fileURLToPath(new URL("../", import.meta.url));
const TYPEDOC_CLI = join(createRequire(import.meta.url).resolve("typedoc/package.json"), "../bin/typedoc");

const methods = [
  ...interfaceMethods(join(PACKAGE, "src/api.ts"), "LogitKit"),
  ...interfaceMethods(join(PACKAGE, "src/api.ts"), "VocabAccumulator"),
  ...interfaceMethods(join(PACKAGE, "src/worker-api.ts"), "LogitKitWorker"),
];

describe("API reference", () => {
  let out: string;
  let output: string;

  beforeAll(async () => {
    out = mkdtempSync(join(tmpdir(), "logitkit-api-docs-"));
    const result = await promisify(execFile)(process.execPath, [TYPEDOC_CLI, "--out", out], { cwd: PACKAGE });
    output = result.stdout + result.stderr;
  }, 120_000);

  afterAll(() => {
    if (out !== undefined) rmSync(out, { recursive: true, force: true });
  });

  it("builds without warnings", () => {
    expect(output).not.toMatch(/\[warning\]|\[error\]/);
    expect(existsSync(join(out, "index.html"))).toBe(true);
  });

  it("has a page per function", () => {
    for (const name of ["loadLogitKit", "loadLogitKitWorker"]) {
      expect(existsSync(join(out, "functions", `${name}.html`)), name).toBe(true);
    }
  });

  it("has a page per method with its example", () => {
    expect(methods.length).toBeGreaterThan(45);
    const missing = methods.filter((name) => !existsSync(join(out, "methods", `${name}.html`)));
    expect(missing).toEqual([]);

    const withoutExample = methods.filter((name) => {
      const page = readFileSync(join(out, "methods", `${name}.html`), "utf8");
      return !/<h4[^>]*>.*Example/s.test(page) || !page.includes("console");
    });
    expect(withoutExample).toEqual([]);
  });

  it("renders the formula and errors of softmax", () => {
    const page = readFileSync(join(out, "methods", "LogitKit.softmax.html"), "utf8");
    expect(page).toContain("softmax(z / T)");
    expect(page).toContain("TypeError");
  });
});
