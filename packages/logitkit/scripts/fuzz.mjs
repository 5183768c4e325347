// Bundles test/fuzz.ts with esbuild (Node.js 20 cannot run TypeScript) into a temporary file
// and runs it, passing the command-line options through. See test/fuzz.ts for the options.
import { build } from "esbuild";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const outDir = mkdtempSync(join(tmpdir(), "logitkit-fuzz-"));
const outfile = join(outDir, "fuzz.mjs");
try {
  await build({
    entryPoints: [join(packageDir, "test/fuzz.ts")],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    outfile,
    logLevel: "warning",
  });
  await import(pathToFileURL(outfile).href);
} finally {
  rmSync(outDir, { recursive: true, force: true });
}
