/**
 * Runs the code examples of the documentation against the library's source, so they cannot go
 * stale: every `@example` of the public API's JSDoc, and the ```js blocks of docs/guides/. Checked
 * `console.log` lines compare their value with the comment that follows them (see doc-examples.ts).
 */
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as logitkit from "../src/index.js";
import type { LogitKit, LogitKitWorker } from "../src/index.js";
import {
  collectComments,
  compareLogged,
  type DocExample,
  guideExamples,
  interfaceMethods,
  jsdocExamples,
  runExamples,
} from "./doc-examples.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const SOURCES: Array<[file: string, owners: string[]]> = [
  ["packages/logitkit/src/api.ts", ["LogitKit", "VocabAccumulator"]],
  ["packages/logitkit/src/worker-api.ts", ["LogitKitWorker"]],
  ["packages/logitkit/src/load.ts", ["loadLogitKit"]],
  ["packages/logitkit/src/worker-kit.ts", ["loadLogitKitWorker"]],
];
const GUIDES = ["browser-postprocessing.md", "node-scoring-service.md", "training-and-distillation.md", "pytorch-semantics.md"];

const comments = SOURCES.flatMap(([file, owners]) => collectComments(ROOT + file, file, owners));
const examples = jsdocExamples(comments);

/** Loads a module that an example imports: "logitkit" is the library's source. */
async function importModule(specifier: string): Promise<unknown> {
  if (specifier === "logitkit") return logitkit;
  return import(specifier);
}

describe("checked console.log lines", () => {
  it("accept values within half a unit of the last digit", () => {
    expect(compareLogged(new Float32Array([0.66524, 0.24473]), "[0.665, 0.245]")).toBeUndefined();
    expect(compareLogged(0.41703, "0.4170")).toBeUndefined();
    expect(compareLogged(1.5e-7, "1.5e-7")).toBeUndefined();
    expect(compareLogged(NaN, "NaN")).toBeUndefined();
    expect(compareLogged(-Infinity, "-Infinity")).toBeUndefined();
    expect(compareLogged("wasm", '"wasm"')).toBeUndefined();
    expect(compareLogged(undefined, "undefined")).toBeUndefined();
  });

  it("reject wrong values, lengths and literals", () => {
    expect(compareLogged(0.4176, "0.4170")).toMatch(/number 0 is 0.4176/);
    expect(compareLogged(new Float32Array([1, 2, 3]), "[1, 2]")).toMatch(/expected 2 numbers/);
    expect(compareLogged(1, "NaN")).toMatch(/expected NaN/);
    expect(compareLogged("js", '"wasm"')).toMatch(/got js/);
    expect(compareLogged(1, "about one")).toMatch(/not a JavaScript literal/);
  });

  it("fail the example that logs a wrong value", async () => {
    const wrong: DocExample = { file: "x.md", line: 7, owner: "x.md", code: "console.log(1 + 1); // 3" };
    await expect(runExamples([wrong], {}, importModule)).rejects.toThrow("x.md:7 (x.md): number 0 is 2, expected 3");
    const throwing: DocExample = { file: "y.md", line: 3, owner: "y.md", code: "null.x;" };
    await expect(runExamples([throwing], {}, importModule)).rejects.toThrow(/^y\.md:3 \(y\.md\): TypeError/);
  });
});

describe("JSDoc examples", () => {
  let kit: LogitKit;
  let remote: LogitKitWorker;

  beforeAll(async () => {
    kit = await logitkit.loadLogitKit();
    remote = await logitkit.loadLogitKitWorker();
  });

  afterAll(async () => {
    kit?.dispose();
    await remote?.dispose();
  });

  it("cover every public function and method", () => {
    const documented = new Set(examples.map((example) => example.owner));
    const publicNames = [
      ...interfaceMethods(ROOT + SOURCES[0][0], "LogitKit"),
      ...interfaceMethods(ROOT + SOURCES[0][0], "VocabAccumulator"),
      ...interfaceMethods(ROOT + SOURCES[1][0], "LogitKitWorker"),
      "loadLogitKit",
      "loadLogitKitWorker",
    ];
    expect(publicNames.length).toBeGreaterThan(45);
    expect(publicNames.filter((name) => !documented.has(name))).toEqual([]);
  });

  it("state the errors of every LogitKit method", () => {
    const withThrows = new Set(comments.filter((comment) => /^@throws\b/m.test(comment.text)).map((c) => c.owner));
    const methods = interfaceMethods(ROOT + SOURCES[0][0], "LogitKit").filter((name) => name !== "LogitKit.dispose");
    expect(methods.filter((name) => !withThrows.has(name))).toEqual([]);
  });

  for (const example of examples) {
    it(`${example.owner} at ${example.file}:${example.line}`, async () => {
      const checks = await runExamples([example], { kit, remote, ...logitkit }, importModule);
      expect(checks).toBeGreaterThan(0);
    });
  }
});

describe("guides", () => {
  it("are the expected files", () => {
    const found = readdirSync(ROOT + "docs/guides").filter((name) => name.endsWith(".md"));
    expect(found.sort()).toEqual([...GUIDES].sort());
  });

  for (const guide of GUIDES) {
    it(`${guide} runs`, async () => {
      const { runnable, skipped } = guideExamples(ROOT + "docs/guides/" + guide, "docs/guides/" + guide);
      expect(runnable.length).toBeGreaterThan(0);
      expect(skipped).toBeLessThanOrEqual(3);
      const checks = await runExamples(runnable, {}, importModule);
      expect(checks).toBeGreaterThan(0);
    });
  }
});
