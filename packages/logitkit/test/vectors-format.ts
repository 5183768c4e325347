/**
 * Decoder of the reference vectors: JSON files of cases whose expected values were computed in
 * float64 from float32-rounded inputs. It has no Node.js imports, so the Node.js and the
 * browser runs decode and validate the same text with the same code.
 */

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

/** One vectors file as read from disk: its name and its undecoded JSON text. */
export interface VectorFile {
  name: string;
  text: string;
}

/**
 * Vectors as the test files receive them. `files` is null when `directory` does not exist, and
 * `required` is true when that must fail the run instead of skipping the vector tests.
 */
export interface VectorSource {
  directory: string;
  required: boolean;
  files: VectorFile[] | null;
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

/** Decodes every case of every file, in the order given. An unknown format or case field throws. */
export function parseVectors(files: readonly VectorFile[]): VectorCase[] {
  const cases: VectorCase[] = [];

  for (const { name: file, text } of files) {
    const data = JSON.parse(text) as { format?: string; cases?: unknown[] };
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
