/**
 * Node.js side of the reference vectors: finds their directory, reads the files and hands them
 * to the tests as the virtual module `virtual:logitkit-vectors`, in Node.js and in the browser
 * alike. The directory is `../shared/vectors` beside the repository, or the one named by the
 * LOGITKIT_VECTORS environment variable. vectors-format.ts decodes the files.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Plugin } from "vitest/config";
import type { VectorFile, VectorSource } from "./vectors-format.js";

const repositoryRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

const VIRTUAL_ID = "virtual:logitkit-vectors";

/** Returns true under CI, that is when the CI environment variable is "true" or "1". */
export function runsUnderCi(): boolean {
  return process.env.CI === "true" || process.env.CI === "1";
}

/** Directory of the vectors: LOGITKIT_VECTORS when set, else `shared/vectors` beside the repository. */
export function vectorsDirectory(): string {
  return process.env.LOGITKIT_VECTORS || resolve(repositoryRoot, "../shared/vectors");
}

/**
 * Whether a missing vectors directory must fail the run instead of skipping: under CI, and
 * whenever LOGITKIT_VECTORS names a directory explicitly.
 */
export function vectorsRequired(): boolean {
  return runsUnderCi() || Boolean(process.env.LOGITKIT_VECTORS);
}

/** Reads the `.json` files of the vectors directory in name order, or null when it is missing. */
export function readVectorFiles(directory: string): VectorFile[] | null {
  if (!existsSync(directory)) return null;

  return readdirSync(directory)
    .filter((name) => name.endsWith(".json"))
    .sort()
    .map((name) => ({ name, text: readFileSync(join(directory, name), "utf8") }));
}

/**
 * Creates the Vite plugin that serves `virtual:logitkit-vectors`, a VectorSource read when a test
 * first imports it. Browser tests cannot use node:fs, so the files travel as strings in the module.
 */
export function vectorsPlugin(): Plugin {
  const resolvedId = `\0${VIRTUAL_ID}`;
  return {
    name: "logitkit-vectors",
    resolveId(id) {
      return id === VIRTUAL_ID ? resolvedId : undefined;
    },
    load(id) {
      if (id !== resolvedId) return undefined;

      const directory = vectorsDirectory();
      const source: VectorSource = { directory, required: vectorsRequired(), files: readVectorFiles(directory) };
      return `export default ${JSON.stringify(source)};`;
    },
  };
}
