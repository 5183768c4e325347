/**
 * Size budget of what users download: the WebAssembly modules of the kernels and the ESM bundle
 * that embeds them, minified with esbuild and gzipped at level 9, as a production build of an
 * application would ship it.
 *
 * Sizes in bytes on 2026-12-05 (esbuild 0.27.7, the zlib of Node.js 20.20.2) and the budgets,
 * about 15% above them. A change that grows a file past its budget must raise the budget here and
 * in the README's "Size" section. The budgets were raised once, when the worker code of
 * loadLogitKitWorker, the vocabulary accumulator, top-k distillation and 16-bit logits came in
 * (from 32, 200 and 76 KiB).
 *
 * | file                                 | 2026-12-05     | budget             |
 * | ------------------------------------ | -------------- | ------------------ |
 * | logitkit.wasm, logitkit-shared.wasm  | 34,227, 34,300 | 40 KiB (40,960)    |
 * | dist/index.js, minified              | 219,398        | 256 KiB (262,144)  |
 * | dist/index.js, minified and gzipped  | 83,196         | 96 KiB (98,304)    |
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { transform } from "esbuild";
import { describe, expect, it } from "vitest";
import { LOGITKIT_DIR, WORKSPACE_DIR } from "../src/tarball.js";

const KIB = 1024;

/** Maximum size of each .wasm file in bytes. */
const WASM_BUDGET = 40 * KIB;

/** Maximum size of the minified ESM bundle in bytes. */
const MINIFIED_BUDGET = 256 * KIB;

/** Maximum size of the minified and gzipped ESM bundle in bytes. */
const GZIPPED_BUDGET = 96 * KIB;

const KERNELS_BUILD_DIR = join(WORKSPACE_DIR, "packages", "kernels", "build");

/** Returns the size after gzip at level 9, zlib's maximum compression. */
function gzippedBytes(data: string | Uint8Array): number {
  return gzipSync(data, { level: 9 }).length;
}

describe("size budget", () => {
  it("keeps each .wasm module within budget", () => {
    const names = readdirSync(KERNELS_BUILD_DIR).filter((name) => name.endsWith(".wasm")).sort();
    expect(names, `.wasm files in ${KERNELS_BUILD_DIR}`).toEqual(expect.arrayContaining(["logitkit-shared.wasm", "logitkit.wasm"]));

    for (const name of names) {
      const bytes = readFileSync(join(KERNELS_BUILD_DIR, name));
      console.log(`${name}: ${bytes.length} bytes, ${gzippedBytes(bytes)} gzipped (budget ${WASM_BUDGET})`);
      expect(bytes.length, `${name} in bytes`).toBeLessThanOrEqual(WASM_BUDGET);
    }
  });

  it("keeps the minified, gzipped bundle within budget", async () => {
    const source = readFileSync(join(LOGITKIT_DIR, "dist", "index.js"), "utf8");
    const cjsBytes = readFileSync(join(LOGITKIT_DIR, "dist", "index.cjs")).length;
    const { code } = await transform(source, { loader: "js", format: "esm", target: "es2022", minify: true });
    const minified = Buffer.byteLength(code);
    const gzipped = gzippedBytes(code);

    console.log(
      `dist/index.js: ${Buffer.byteLength(source)} bytes, ${minified} minified (budget ${MINIFIED_BUDGET}), ` +
        `${gzipped} minified and gzipped (budget ${GZIPPED_BUDGET}); dist/index.cjs: ${cjsBytes} bytes`,
    );
    expect(minified, "minified dist/index.js in bytes").toBeLessThanOrEqual(MINIFIED_BUDGET);
    expect(gzipped, "minified and gzipped dist/index.js in bytes").toBeLessThanOrEqual(GZIPPED_BUDGET);

    // The minifier must keep both entry points, or the sizes above would measure too little.
    expect(code).toMatch(/export\s*\{[^}]*loadLogitKit[^}]*\}/);
    expect(code).toContain("loadLogitKitWorker");
  });
});
