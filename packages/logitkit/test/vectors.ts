/**
 * Loader of the reference vectors: JSON files of cases whose expected values were computed in
 * float64 from float32-rounded inputs. The directory is `../shared/vectors` beside the
 * repository, or the one named by the LOGITKIT_VECTORS environment variable.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export type Value = number | number[] | string;

export interface VectorCase {
  file: string;
  id: string;
  op: string;
  rows: number;
  classes: number;
  inputs: Record<string, Value>;
  options: Record<string, Value>;
  expected: Record<string, Value>;
  tolerance: { rtol: number; atol: number };
}

const repositoryRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

/** Directory of the vectors: LOGITKIT_VECTORS when set, else `shared/vectors` beside the repository. */
export function vectorsDirectory(): string {
  return process.env.LOGITKIT_VECTORS || resolve(repositoryRoot, "../shared/vectors");
}

export function vectorsAvailable(): boolean {
  return existsSync(vectorsDirectory());
}

/**
 * Whether a missing vectors directory must fail the run instead of skipping: under CI
 * (CI=true or CI=1), and whenever LOGITKIT_VECTORS names a directory explicitly.
 */
export function vectorsRequired(): boolean {
  const ci = process.env.CI === "true" || process.env.CI === "1";
  return ci || Boolean(process.env.LOGITKIT_VECTORS);
}

const CASE_KEYS = new Set(["id", "op", "rows", "classes", "inputs", "options", "expected", "tolerance", "reference"]);

/** Converts the JSON encoding of non-finite numbers ("NaN", "Infinity", "-Infinity"). */
function decodeNumber(value: unknown, where: string): number {
  if (typeof value === "number") return value;
  if (value === "NaN") return NaN;
  if (value === "Infinity") return Infinity;
  if (value === "-Infinity") return -Infinity;
  throw new Error(`${where}: expected a number or "NaN"/"Infinity"/"-Infinity", got ${JSON.stringify(value)}`);
}

function decodeValue(value: unknown, where: string): Value {
  return Array.isArray(value) ? value.map((v, i) => decodeNumber(v, `${where}[${i}]`)) : decodeNumber(value, where);
}

/** Decodes a record of numbers; `reduction` is the one field that contains a plain string. */
function decodeRecord(record: unknown, where: string): Record<string, Value> {
  const result: Record<string, Value> = {};
  for (const [key, value] of Object.entries((record ?? {}) as Record<string, unknown>)) {
    result[key] = key === "reduction" && typeof value === "string" ? value : decodeValue(value, `${where}.${key}`);
  }
  return result;
}

/** Reads every case of every file; an unknown format or case field throws. */
export function loadVectors(): VectorCase[] {
  const directory = vectorsDirectory();
  const files = readdirSync(directory)
    .filter((name) => name.endsWith(".json"))
    .sort();
  const cases: VectorCase[] = [];

  for (const file of files) {
    const data = JSON.parse(readFileSync(join(directory, file), "utf8")) as { format?: string; cases?: unknown[] };
    if (data.format !== "logitkit-vectors/1") {
      throw new Error(`${file}: unknown format ${JSON.stringify(data.format)}; this runner reads logitkit-vectors/1`);
    }
    for (const raw of data.cases ?? []) {
      const c = raw as Record<string, unknown>;
      const id = String(c.id);
      for (const key of Object.keys(c)) {
        if (!CASE_KEYS.has(key)) throw new Error(`${file} ${id}: unknown case field "${key}"`);
      }
      cases.push({
        file,
        id,
        op: String(c.op),
        rows: c.rows as number,
        classes: c.classes as number,
        inputs: decodeRecord(c.inputs, `${id}.inputs`),
        options: decodeRecord(c.options, `${id}.options`),
        expected: decodeRecord(c.expected, `${id}.expected`),
        tolerance: c.tolerance as { rtol: number; atol: number },
      });
    }
  }
  return cases;
}
