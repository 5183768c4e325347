/**
 * Fetches the stories260K files that the build copies next to the page, for the page and for
 * the benchmark worker.
 */
import { decodeRealData, parseDataMeta, DATA_FILES, type RealData } from "../../src/real-data.js";

// Literal `new URL(..., import.meta.url)` calls let Vite copy each file into the build.
const FILE_URLS: Record<keyof typeof DATA_FILES, URL> = {
  meta: new URL("../../data/stories260k/meta.json", import.meta.url),
  teacher: new URL("../../data/stories260k/teacher.f32", import.meta.url),
  student: new URL("../../data/stories260k/student-q8.f32", import.meta.url),
  tokens: new URL("../../data/stories260k/tokens.i32", import.meta.url),
};

async function fetchBytes(url: URL): Promise<Uint8Array> {
  const response = await fetch(url);
  if (!response.ok) {
    throw new Error(`fetching ${url.href} failed: HTTP ${response.status} ${response.statusText}`);
  }
  return new Uint8Array(await response.arrayBuffer());
}

/** Fetches and decodes the teacher and student logits and the tokens, with the checks of the CLI. */
export async function fetchRealData(): Promise<RealData> {
  const [metaBytes, teacher, student, tokens] = await Promise.all([
    fetchBytes(FILE_URLS.meta),
    fetchBytes(FILE_URLS.teacher),
    fetchBytes(FILE_URLS.student),
    fetchBytes(FILE_URLS.tokens),
  ]);
  const meta = parseDataMeta(new TextDecoder().decode(metaBytes), FILE_URLS.meta.href);

  const keys = Object.keys(DATA_FILES) as (keyof typeof DATA_FILES)[];
  const urlOf = (name: string) => {
    const key = keys.find((candidate) => DATA_FILES[candidate] === name);
    return key === undefined ? name : FILE_URLS[key].href;
  };
  return decodeRealData(new URL(".", FILE_URLS.teacher).href, meta, { teacher, student, tokens }, urlOf);
}
