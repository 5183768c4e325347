/**
 * Reading of the stories260K logits from `data/stories260k` on disk, for the CLI and the tests.
 * The decoding and the checks are in `real-data.ts`, which the web page shares.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { DATA_FILES, decodeRealData, parseDataMeta, type RealData } from "./real-data.js";

export { IGNORE_INDEX, nextTokenLabels, type RealData } from "./real-data.js";

/** Folder of the stories260K files inside this app. */
export const DEFAULT_DATA_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "data", "stories260k");

function readBytes(path: string): Uint8Array {
  return readFileSync(path);
}

/**
 * Loads `meta.json`, `teacher.f32`, `student-q8.f32` and `tokens.i32` from `dir`, checks their
 * sizes against the shape in `meta.json` and every token against the vocabulary, and builds the
 * next-token labels.
 */
export function loadRealData(dir = DEFAULT_DATA_DIR): RealData {
  const metaPath = join(dir, DATA_FILES.meta);
  const meta = parseDataMeta(readFileSync(metaPath, "utf8"), metaPath);

  const pathOf = (name: string) => join(dir, name);
  const bytes = {
    teacher: readBytes(pathOf(DATA_FILES.teacher)),
    student: readBytes(pathOf(DATA_FILES.student)),
    tokens: readBytes(pathOf(DATA_FILES.tokens)),
  };
  return decodeRealData(dir, meta, bytes, pathOf);
}
