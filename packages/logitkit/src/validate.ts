/**
 * Argument checks shared by every operation. Each check throws before any work is done, with a
 * message that names the argument, the expected value and the actual one.
 */
import { bufferOf, byteOffsetOf, isReadable, lengthOf, typedArrayKind } from "./intrinsics.js";
import type { HalfLogits, Logits } from "./backend.js";
import type { Labels, LogitsDtype, Reduction } from "./types.js";

/** Formats a value for an error message: the type and a short preview. */
export function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "object" && handles.has(value)) return "a logitkit handle (from upload or alloc)";
  if (value === undefined) return "undefined";
  if (typeof value === "number") return String(value);
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  const kind = typedArrayKind(value);
  if (kind !== undefined) return `${kind}(${lengthOf(value as ArrayBufferView)})`;
  if (typeof value === "object") return describeObject(value);
  return typeof value;
}

/**
 * Names an object that is no typed array by its constructor, or an array by its length. Both
 * reads can run the caller's code (a getter or a Proxy trap), and a revoked Proxy throws even
 * in Array.isArray, so an exception there gives "an object": the error being built must come
 * out, not the caller's.
 */
function describeObject(value: object): string {
  try {
    if (Array.isArray(value)) return `Array(${value.length})`;
    const name = (value.constructor as { name?: unknown } | undefined)?.name;
    if (name === "Object") return "a plain object";

    // Only values without a typed array's internal slots get here, such as a Proxy of one.
    if (typeof name === "string" && /^(Big)?(Int|Uint|Float)\d+(Clamped)?Array$/.test(name)) {
      return `an object with constructor ${name} that is not a typed array (for example a Proxy)`;
    }
    return typeof name === "string" ? `a ${name}` : "an object";
  } catch {
    return "an object";
  }
}

/** Every handle made by `upload` or `alloc`, of any kit, so that messages can name them. */
export const handles = new WeakSet<object>();

/** Every option of every function, after validation; each is read from the caller's object once. */
export interface OptionValues {
  classes: unknown;
  temperature: unknown;
  out: unknown;
  reduction: unknown;
  weight: unknown;
  ignoreIndex: unknown;
  labelSmoothing: unknown;
  gradOutput: unknown;
  gradOut: unknown;
  beta: unknown;
  alpha: unknown;
  labels: unknown;
  backend: unknown;
  threads: unknown;
  rows: unknown;
  offset: unknown;
  teacher: unknown;
  values: unknown;
  tail: unknown;
  dtype: unknown;
}

/**
 * Checks that `options` is an object whose enumerable keys are all in `allowed`, and returns
 * a copy of it: each option is read exactly once, so a getter cannot change a
 * value after its check. The copy has one fixed shape, which keeps calls fast.
 */
export function checkOptions(
  fn: string,
  options: unknown,
  allowed: readonly string[],
  example = "{ classes: 10 }",
): OptionValues {
  if (options === null || typeof options !== "object" || Array.isArray(options) || ArrayBuffer.isView(options)) {
    throw new TypeError(`${fn}: options must be an object such as ${example}, got ${describe(options)}.`);
  }
  // for-in lists enumerable keys, own and inherited. It costs a fraction of listing own
  // property names, which matters for calls on tiny inputs.
  for (const name in options) {
    if (!allowed.includes(name)) {
      throw new TypeError(`${fn}: unknown option "${name}"; the options of ${fn} are ${allowed.join(", ")}.`);
    }
  }

  // Only allowed names can be present, so this reads no getter of a rejected option.
  const o = options as Partial<OptionValues>;
  return {
    classes: o.classes,
    temperature: o.temperature,
    out: o.out,
    reduction: o.reduction,
    weight: o.weight,
    ignoreIndex: o.ignoreIndex,
    labelSmoothing: o.labelSmoothing,
    gradOutput: o.gradOutput,
    gradOut: o.gradOut,
    beta: o.beta,
    alpha: o.alpha,
    labels: o.labels,
    backend: o.backend,
    threads: o.threads,
    rows: o.rows,
    offset: o.offset,
    teacher: o.teacher,
    values: o.values,
    tail: o.tail,
    dtype: o.dtype,
  };
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

/**
 * Throws when `array`, whose intrinsic length is `length`, cannot be read: a view of a detached
 * buffer, or of a resizable buffer that shrank below the view. Both report length 0, which would
 * otherwise pass as an empty batch.
 */
export function checkNotDetached(fn: string, name: string, array: ArrayBufferView, length: number): void {
  if (length !== 0 || isReadable(array)) return;

  // Constructing a view on a detached buffer throws; on a shrunk resizable buffer it does not.
  try {
    new Uint8Array(bufferOf(array), 0, 0);
  } catch {
    throw new TypeError(`${fn}: ${name} is backed by a detached ArrayBuffer (it was transferred); pass a live array.`);
  }
  throw new TypeError(
    `${fn}: ${name} is out of bounds: its resizable buffer shrank below the view's offset and length; pass a live array.`,
  );
}

/**
 * Returns `value` (a Float32Array by brand) in a form whose `length` is the real one. That is
 * the array itself when it is an ordinary Float32Array of this realm. A subclass, another
 * realm's array or one with an own `length` property gets a plain view of its memory instead.
 * Beyond that, the library reads only elements and intrinsic slots of the arrays it receives.
 */
function usableFloat32(fn: string, name: string, value: unknown): Float32Array {
  const array = value as Float32Array;
  const length = lengthOf(array);
  checkNotDetached(fn, name, array, length);
  if (Object.getPrototypeOf(array) === Float32Array.prototype && !Object.hasOwn(array, "length")) return array;
  return new Float32Array(bufferOf(array), byteOffsetOf(array), length);
}

/** Checks that `value` is a `Float32Array`, optionally of an exact length; see usableFloat32 for the result. */
export function checkFloat32(fn: string, name: string, value: unknown, length?: number, lengthMeaning?: string): Float32Array {
  const kind = typedArrayKind(value);
  if (kind !== "Float32Array") {
    const actual = kind === undefined ? describe(value) : `${kind}(${lengthOf(value as ArrayBufferView)})`;
    let fix = "convert it with Float32Array.from(...)";
    if (typeof value === "object" && value !== null && handles.has(value)) {
      fix = "this argument takes no handle, so pass handle.toArray()";
    }

    // Float32Array.from would read bfloat16 or binary16 bits as integers.
    if (kind === "Uint16Array") fix = "this argument takes float32 only, and 16-bit floats only as logits with options.dtype";
    throw new TypeError(`${fn}: ${name} must be a Float32Array, got ${actual}; ${fix}.`);
  }
  const view = usableFloat32(fn, name, value);
  if (length !== undefined && view.length !== length) {
    throw new RangeError(`${fn}: ${name}.length must be ${length} (${lengthMeaning}), got ${view.length}.`);
  }
  return view;
}

/**
 * Checks that the output `out` (called `outName`) does not overlap the input `input` (called
 * `inputName`), unless it is exactly the same memory and `inPlace` allows that. The 16-bit
 * logits are never computed in place, because their rows are narrower than the output's.
 */
export function checkNoOverlap(
  fn: string,
  outName: string,
  out: Float32Array,
  inputName: string,
  logits: Logits,
  inPlace: boolean,
): void {
  const input = ArrayBuffer.isView(logits) ? logits : logits.bits;
  if (bufferOf(out) !== bufferOf(input)) return;
  const outStart = byteOffsetOf(out);
  const outEnd = outStart + 4 * lengthOf(out);
  const inStart = byteOffsetOf(input);
  const inEnd = inStart + (ArrayBuffer.isView(logits) ? 4 : 2) * lengthOf(input);
  inPlace &&= ArrayBuffer.isView(logits);
  if (outEnd <= inStart || inEnd <= outStart) return;
  if (inPlace && outStart === inStart && outEnd === inEnd) return;
  throw new RangeError(
    `${fn}: ${outName} overlaps ${inputName} (bytes ${outStart}-${outEnd} and ${inStart}-${inEnd} of one buffer); ` +
      (inPlace ? `pass ${inputName} itself to compute in place, or a separate buffer.` : "pass a separate buffer."),
  );
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

/**
 * Smallest accepted temperature. Below about 2.9e-39, 1 / T overflows float32, which the wasm
 * kernels use, so 1e-30 leaves a margin and is far below any useful temperature.
 */
export const MIN_TEMPERATURE = 1e-30;

/**
 * Largest accepted temperature. The wasm kernels take 1 / T as a float32, which is 0 above
 * about 7e44 and turns a masked (-Infinity) logit into NaN, and the distillation kernel scales
 * its gradient by T^2 in float32, which overflows above about 1.8e19. 1e18 leaves a margin and
 * is far above any useful temperature.
 */
export const MAX_TEMPERATURE = 1e18;

/** Checks `options.temperature`: in [MIN_TEMPERATURE, MAX_TEMPERATURE], default 1. */
export function checkTemperature(fn: string, value: unknown): number {
  // The early return skips building the range object on the common path.
  if (value === undefined) return 1;
  return checkNumber(fn, "temperature", value, 1, {
    min: MIN_TEMPERATURE,
    max: MAX_TEMPERATURE,
    expected: "a number in [1e-30, 1e18]",
  });
}

/** Checks a probability-like option in [0, 1]. */
export function checkUnit(fn: string, name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  return checkNumber(fn, name, value, fallback, { min: 0, max: 1, expected: "a number in [0, 1]" });
}

/** Smallest nonzero label smoothing; see checkLabelSmoothing. */
export const MIN_LABEL_SMOOTHING = 1e-30;

/**
 * Checks `options.labelSmoothing`: 0, or a number in [1e-30, 1]. A smaller positive value would
 * make eps / C underflow in the float32 kernels, so the smoothing mass on masked classes (which
 * makes the loss +Infinity) would vanish on one path and not on another.
 */
export function checkLabelSmoothing(fn: string, value: unknown): number {
  const smoothing = checkUnit(fn, "labelSmoothing", value, 0);
  if (smoothing > 0 && smoothing < MIN_LABEL_SMOOTHING) {
    throw new RangeError(`${fn}: options.labelSmoothing must be 0 or a number in [1e-30, 1], got ${smoothing}.`);
  }
  return smoothing;
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

/** Largest finite float32, 3.4028234663852886e38. */
const FLOAT32_MAX = (2 - 2 ** -23) * 2 ** 127;

/**
 * Checks an array of numbers (`Float32Array` or `number[]`) of a given length, all finite and
 * at least `min`. Returns a new `Float32Array` copy: each element is read exactly once.
 */
export function checkFloatList(
  fn: string,
  name: string,
  value: unknown,
  length: number,
  lengthMeaning: string,
  min = -Infinity,
): Float32Array {
  const source = (typedArrayKind(value) === "Float32Array" ? usableFloat32(fn, name, value) : value) as ArrayLike<unknown>;
  // The brand check, unlike instanceof, runs no Proxy trap and rejects a Proxy of a Float32Array.
  if (typedArrayKind(source) !== "Float32Array" && !Array.isArray(source)) {
    throw new TypeError(`${fn}: ${name} must be a Float32Array or an array of numbers, got ${describe(value)}.`);
  }
  if (source.length !== length) {
    throw new RangeError(`${fn}: ${name}.length must be ${length} (${lengthMeaning}), got ${source.length}.`);
  }
  const copy = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    const v: unknown = source[i];
    if (typeof v !== "number") {
      throw new TypeError(`${fn}: ${name}[${i}] must be a number, got ${describe(v)}.`);
    }
    // The kernels read float32, where a finite number above about 3.4e38 rounds to Infinity.
    if (!Number.isFinite(Math.fround(v)) || v < min) {
      const expected = min === -Infinity ? "finite" : `finite and >= ${min}`;
      throw new RangeError(`${fn}: ${name}[${i}] must be ${expected} as a float32 (magnitude at most ${FLOAT32_MAX}), got ${describe(v)}.`);
    }
    copy[i] = v;
  }
  return copy;
}

/**
 * Checks integer labels: one per row, each in [0, classes) or equal to `ignoreIndex`. Returns
 * a new `Int32Array` copy, filled as the labels are checked, so each label is read exactly once.
 */
export function checkLabels(
  fn: string,
  name: string,
  value: unknown,
  rows: number,
  classes: number,
  ignoreIndex: number,
): Int32Array {
  const kind = typedArrayKind(value);
  if (kind !== "Int32Array" && !Array.isArray(value)) {
    let hint = kind === undefined ? "" : " Probability targets must be a Float32Array of the logits' length.";
    if (kind === "Uint16Array" || kind === "Float16Array") hint += " options.dtype applies to the logits only.";
    throw new TypeError(`${fn}: ${name} must be an Int32Array or an array of integers, got ${describe(value)}.${hint}`);
  }
  // Indexed reads of a typed array never reach getters or its prototype, so only its length
  // needs the intrinsic accessor.
  const labels = value as Labels;
  const length = kind === "Int32Array" ? lengthOf(value as ArrayBufferView) : labels.length;
  if (kind === "Int32Array") checkNotDetached(fn, name, value as ArrayBufferView, length);
  if (length !== rows) {
    const hint = Array.isArray(value) && length === rows * classes && rows > 0
      ? " Probability targets must be a Float32Array, not an array."
      : "";
    throw new RangeError(`${fn}: ${name}.length must equal the number of rows (${rows}), got ${length}.${hint}`);
  }
  const copy = new Int32Array(rows);
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
    copy[i] = y;
  }
  return copy;
}

/** Checks that an input's length (`actual`) equals another's (`length`). */
export function checkSameLength(fn: string, name: string, actual: number, otherName: string, length: number): void {
  if (actual !== length) {
    throw new RangeError(`${fn}: ${name}.length must equal ${otherName}.length (${length}), got ${actual}.`);
  }
}

/**
 * 16-bit logits as checked before the options are read: the bits, and the format that the array
 * type fixes ("f16" for a Float16Array) or null for a Uint16Array, whose format only
 * `options.dtype` gives. `settleDtype` then fills in `dtype`.
 */
export interface UnsettledHalf {
  readonly bits: Uint16Array;
  readonly kind: "Uint16Array" | "Float16Array";
  dtype: HalfLogits["dtype"] | null;
}

/** Logits checked before the options are read. */
export type CheckedLogits = Float32Array | UnsettledHalf;

/**
 * Returns 16-bit logits (a `Uint16Array` or a `Float16Array`) as a plain `Uint16Array` of their
 * bits, or undefined for any other value, which the caller checks as float32.
 */
export function checkHalf(fn: string, name: string, value: unknown): UnsettledHalf | undefined {
  const kind = typedArrayKind(value);
  if (kind !== "Uint16Array" && kind !== "Float16Array") return undefined;

  const array = value as ArrayBufferView;
  const length = lengthOf(array);
  checkNotDetached(fn, name, array, length);
  const bits = new Uint16Array(bufferOf(array), byteOffsetOf(array), length);
  return { bits, kind, dtype: kind === "Float16Array" ? "f16" : null };
}

/** Returns the number of values of checked logits. */
export function logitsLength(logits: CheckedLogits | Logits): number {
  return ArrayBuffer.isView(logits) ? logits.length : logits.bits.length;
}

const DTYPES: readonly string[] = ["f32", "bf16", "f16"];

/**
 * Checks `options.dtype` against the logits arguments `args` ([name, logits] pairs, an absent
 * argument as null), and sets the format of each 16-bit one. The option names the format of
 * the `Uint16Array` arguments. `Float32Array`s and handles are always float32 and a
 * `Float16Array` is always binary16, so a call may mix a float32 student with bf16 teacher
 * logits. A dtype of "bf16" or "f16" must describe at least one argument, because it would
 * otherwise have no effect and hide a mistake.
 */
export function settleDtype(fn: string, value: unknown, args: ReadonlyArray<readonly [string, CheckedLogits | null]>): void {
  if (value !== undefined && typeof value !== "string") {
    throw new TypeError(`${fn}: options.dtype must be one of "f32", "bf16", "f16", got ${describe(value)}.`);
  }
  if (value !== undefined && !DTYPES.includes(value)) {
    throw new RangeError(`${fn}: options.dtype must be one of "f32", "bf16", "f16", got ${describe(value)}.`);
  }
  const dtype = value as LogitsDtype | undefined;

  let described = false;
  for (const [name, logits] of args) {
    if (logits === null || ArrayBuffer.isView(logits)) continue;

    if (logits.kind === "Float16Array") {
      if (dtype !== undefined && dtype !== "f16") {
        throw new TypeError(
          `${fn}: ${name} is a Float16Array, whose format is "f16", but options.dtype is "${dtype}"; ` +
            `remove dtype or pass dtype: "f16".`,
        );
      }
      described ||= dtype === "f16";
      continue;
    }

    if (dtype === undefined || dtype === "f32") {
      const got = dtype === undefined ? "no options.dtype" : 'options.dtype "f32"';
      throw new TypeError(
        `${fn}: ${name} is a Uint16Array of 16-bit floats, which needs options.dtype "bf16" or "f16", got ${got}; ` +
          `pass dtype: "bf16" for bfloat16 bits or dtype: "f16" for IEEE binary16 bits.`,
      );
    }
    logits.dtype = dtype;
    described = true;
  }

  if (dtype !== undefined && dtype !== "f32" && !described) {
    const names = args.filter(([, logits]) => logits !== null).map(([name]) => name).join(" and ");
    throw new TypeError(
      `${fn}: options.dtype "${dtype}" applies to 16-bit logits, but ${names} ${names.includes(" and ") ? "are" : "is"} float32; ` +
        `pass the ${dtype === "bf16" ? "bfloat16" : "binary16"} bits as a Uint16Array, or remove dtype.`,
    );
  }
}
