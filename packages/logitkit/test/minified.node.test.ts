import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { afterAll, describe, expect, it } from "vitest";
import { loadLogitKit as loadFromSource } from "../src/index.js";

// Applications ship the library through minifying bundlers, which rename functions. The worker
// threads are started from the source text of functions, so a renamed function must still start.
// The test runs esbuild, so it runs in Node.js only; the demo page's test covers a Vite build.
describe("minified bundle", () => {
  const directory = mkdtempSync(join(tmpdir(), "logitkit-minified-"));

  afterAll(() => {
    rmSync(directory, { recursive: true, force: true });
  });

  it("starts worker threads and matches one thread", async () => {
    const outfile = join(directory, "logitkit.min.mjs");
    await build({
      entryPoints: [join(import.meta.dirname, "../src/index.ts")],
      bundle: true,
      minify: true,
      format: "esm",
      platform: "neutral",
      target: "es2022",
      outfile,
      logLevel: "silent",
    });
    const minified = (await import(pathToFileURL(outfile).href)) as { loadLogitKit: typeof loadFromSource };

    const classes = 32000;
    const rows = 64;
    const logits = Float32Array.from({ length: rows * classes }, (_, i) => Math.sin(i * 0.37) * 6);
    const labels = Int32Array.from({ length: rows }, (_, r) => (r * 7919) % classes);

    const threaded = await minified.loadLogitKit({ backend: "wasm", threads: 2 });
    const single = await loadFromSource({ backend: "wasm" });
    try {
      expect(threaded.threadsReason).toBeUndefined();
      expect(threaded.threads).toBe(2);

      // A handle input makes the pool run the rows on both threads.
      const handle = threaded.upload(logits, { classes });
      const probs = threaded.softmax(handle, { classes });
      const expected = single.softmax(logits, { classes });
      expect(probs.length).toBe(expected.length);
      let firstMismatch = -1;
      for (let i = 0; i < probs.length && firstMismatch < 0; i++) if (!Object.is(probs[i], expected[i])) firstMismatch = i;
      expect(firstMismatch).toBe(-1);

      const loss = threaded.crossEntropy(handle, labels, { classes });
      expect(loss).toBe(single.crossEntropy(logits, labels, { classes }));
      handle.free();
    } finally {
      threaded.dispose();
    }
  });
});
