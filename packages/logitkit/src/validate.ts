/**
 * Argument checks shared by every operation. Each check throws before any work is done, with a
 * message that names the argument, the expected value and the actual one.
 */
import type { Labels, Reduction } from "./types.js";

/** Formats a value for an error message: the type and a short preview. */
export function describe(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  if (typeof value === "number") return String(value);
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (ArrayBuffer.isView(value)) {
    const length = (value as unknown as { length?: number }).length;
    return `${value.constructor.name}(${length ?? value.byteLength})`;
  }
  if (Array.isArray(value)) return `Array(${value.length})`;
  if (typeof value === "object") return value.constructor?.name === "Object" ? "a plain object" : `a ${value.constructor?.name ?? "object"}`;
  return typeof value;
}

/** Checks that `options` is a plain object whose keys are all in `allowed`. */
export function checkOptions(fn: string, options: unknown, allowed: readonly string[]): Record<string, unknown> {
  if (options === null || typeof options !== "object" || Array.isArray(options) || ArrayBuffer.isView(options)) {
    throw new TypeError(
      `${fn}: options must be an object such as { classes: 10 }, got ${describe(options)}. ` +
        `Pass the number of classes per row as options.classes.`,
    );
  }
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) {
      throw new TypeError(`${fn}: unknown option "${key}"; the options of ${fn} are ${allowed.join(", ")}.`);
    }
  }
  return options as Record<string, unknown>;
}

/** Checks `options.classes` and that `length` is a multiple of it; returns the row count. */
export function checkShape(fn: string, name: string, length: number, classes: unknown): number {
  if (classes === undefined) {
    throw new TypeError(`${fn}: options.classes is missing; pass the number of classes per row, an integer >= 1.`);
  }
  if (typeof classes !== "number") {
    throw new TypeError(`${fn}: options.classes must be an integer >= 1, got ${describe(classes)}.`);
  }
  if (!Number.isInteger(classes) || classes < 1) {
    throw new RangeError(`${fn}: options.classes must be an integer >= 1, got ${describe(classes)}.`);
  }
  if (length % classes !== 0) {
    throw new RangeError(
      `${fn}: ${name}.length must be a multiple of options.classes (${classes}), got ${length}; ` +
        `the data is row-major rows x classes.`,
    );
  }
  return length / classes;
}

/** Checks that `value` is a `Float32Array`, optionally of an exact length. */
export function checkFloat32(fn: string, name: string, value: unknown, length?: number, lengthMeaning?: string): Float32Array {
  if (!(value instanceof Float32Array)) {
    throw new TypeError(`${fn}: ${name} must be a Float32Array, got ${describe(value)}; convert it with Float32Array.from(...).`);
  }
  if (length !== undefined && value.length !== length) {
    throw new RangeError(`${fn}: ${name}.length must be ${length} (${lengthMeaning}), got ${value.length}.`);
  }
  return value;
}

/** Checks an optional numeric option against [min, max] (or (min, ...) when `openMin`); returns the default when absent. */
export function checkNumber(
  fn: string,
  name: string,
  value: unknown,
  fallback: number,
  range: { min: number; max: number; openMin?: boolean; expected: string },
): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number") {
    throw new TypeError(`${fn}: options.${name} must be ${range.expected}, got ${describe(value)}.`);
  }
  const belowMin = range.openMin ? !(value > range.min) : !(value >= range.min);
  if (belowMin || !(value <= range.max) || !Number.isFinite(value)) {
    throw new RangeError(`${fn}: options.${name} must be ${range.expected}, got ${describe(value)}.`);
  }
  return value;
}

/** Checks `options.temperature`: finite and > 0, default 1. */
export function checkTemperature(fn: string, value: unknown): number {
  return checkNumber(fn, "temperature", value, 1, {
    min: 0,
    max: Number.MAX_VALUE,
    openMin: true,
    expected: "a finite number > 0",
  });
}

/** Checks a probability-like option in [0, 1]. */
export function checkUnit(fn: string, name: string, value: unknown, fallback: number): number {
  return checkNumber(fn, name, value, fallback, { min: 0, max: 1, expected: "a number in [0, 1]" });
}

/** Checks `options.reduction` against the reductions the operation accepts. */
export function checkReduction(fn: string, value: unknown, fallback: Reduction, allowed: readonly Reduction[]): Reduction {
  if (value === undefined) return fallback;
  if (typeof value !== "string" || !(allowed as readonly string[]).includes(value)) {
    const list = allowed.map((r) => `"${r}"`).join(", ");
    const error = `${fn}: options.reduction must be one of ${list}, got ${describe(value)}.`;
    throw typeof value === "string" ? new RangeError(error) : new TypeError(error);
  }
  return value as Reduction;
}

/** Checks `options.ignoreIndex`: an integer, default -100. */
export function checkIgnoreIndex(fn: string, value: unknown): number {
  if (value === undefined) return -100;
  if (typeof value !== "number") {
    throw new TypeError(`${fn}: options.ignoreIndex must be an integer, got ${describe(value)}.`);
  }
  if (!Number.isInteger(value) || value < -2147483648 || value > 2147483647) {
    throw new RangeError(`${fn}: options.ignoreIndex must be a 32-bit integer, got ${describe(value)}.`);
  }
  return value;
}

/** Checks an array of numbers (`Float32Array` or `number[]`) of a given length, all finite; returns a `Float32Array`. */
export function checkFloatList(fn: string, name: string, value: unknown, length: number, lengthMeaning: string): Float32Array {
  if (!(value instanceof Float32Array) && !Array.isArray(value)) {
    throw new TypeError(`${fn}: ${name} must be a Float32Array or an array of numbers, got ${describe(value)}.`);
  }
  if (value.length !== length) {
    throw new RangeError(`${fn}: ${name}.length must be ${length} (${lengthMeaning}), got ${value.length}.`);
  }
  for (let i = 0; i < length; i++) {
    const v: unknown = value[i];
    if (typeof v !== "number") {
      throw new TypeError(`${fn}: ${name}[${i}] must be a number, got ${describe(v)}.`);
    }
    if (!Number.isFinite(v)) {
      throw new RangeError(`${fn}: ${name}[${i}] must be finite, got ${describe(v)}.`);
    }
  }
  return value instanceof Float32Array ? value : Float32Array.from(value as number[]);
}

/**
 * Checks integer labels: one per row, each in [0, classes) or equal to `ignoreIndex`.
 * Returns them as an `Int32Array` (the input when it already is one).
 */
export function checkLabels(
  fn: string,
  name: string,
  value: unknown,
  rows: number,
  classes: number,
  ignoreIndex: number,
): Int32Array {
  if (!(value instanceof Int32Array) && !Array.isArray(value)) {
    throw new TypeError(`${fn}: ${name} must be an Int32Array or an array of integers, got ${describe(value)}.`);
  }
  const labels = value as Labels;
  if (labels.length !== rows) {
    throw new RangeError(`${fn}: ${name}.length must equal the number of rows (${rows}), got ${labels.length}.`);
  }
  for (let i = 0; i < rows; i++) {
    const y: unknown = labels[i];
    if (typeof y !== "number") {
      throw new TypeError(`${fn}: ${name}[${i}] must be an integer, got ${describe(y)}.`);
    }
    if (!Number.isInteger(y)) {
      throw new RangeError(`${fn}: ${name}[${i}] must be an integer, got ${describe(y)}.`);
    }
    if ((y < 0 || y >= classes) && y !== ignoreIndex) {
      throw new RangeError(
        `${fn}: ${name}[${i}] must be in [0, ${classes}) or equal to ignoreIndex (${ignoreIndex}), got ${y}.`,
      );
    }
  }
  return labels instanceof Int32Array ? labels : Int32Array.from(labels);
}

/** Checks that two inputs have the same length. */
export function checkSameLength(fn: string, name: string, value: Float32Array, otherName: string, length: number): void {
  if (value.length !== length) {
    throw new RangeError(`${fn}: ${name}.length must equal ${otherName}.length (${length}), got ${value.length}.`);
  }
}
