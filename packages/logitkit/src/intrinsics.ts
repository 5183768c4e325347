/**
 * Intrinsic accessors of %TypedArray%.prototype, read once at load. Calling them instead of
 * `value.length`, `value.buffer` or `value.set` ignores own properties, getters and subclass
 * overrides on a caller's array, and the Symbol.toStringTag getter is a brand check that also
 * accepts typed arrays of other realms.
 */
const typedArrayPrototype = Object.getPrototypeOf(Int8Array.prototype) as object;

function intrinsicGetter(key: PropertyKey): (this: unknown) => unknown {
  return Object.getOwnPropertyDescriptor(typedArrayPrototype, key)!.get as (this: unknown) => unknown;
}

const tagGetter = intrinsicGetter(Symbol.toStringTag);
const bufferGetter = intrinsicGetter("buffer");
const byteOffsetGetter = intrinsicGetter("byteOffset");
const lengthGetter = intrinsicGetter("length");
const intrinsicSet = (typedArrayPrototype as { set: (this: unknown, source: ArrayLike<number>, offset?: number) => void })
  .set;

const intrinsicAt = (typedArrayPrototype as { at: (this: unknown, index: number) => unknown }).at;

/**
 * Returns whether `array` can be read: false for a view of a detached buffer, and for a view of a
 * resizable buffer that shrank below it. Both report length 0, and `at` throws a TypeError for
 * both, unlike the length and offset getters.
 */
export function isReadable(array: ArrayBufferView): boolean {
  try {
    intrinsicAt.call(array, 0);
    return true;
  } catch {
    return false;
  }
}

/** Returns the element type of a typed array ("Float32Array", ...), or undefined for anything else. */
export function typedArrayKind(value: unknown): string | undefined {
  return tagGetter.call(value) as string | undefined;
}

export function bufferOf(array: ArrayBufferView): ArrayBuffer {
  return bufferGetter.call(array) as ArrayBuffer;
}

export function byteOffsetOf(array: ArrayBufferView): number {
  return byteOffsetGetter.call(array) as number;
}

export function lengthOf(array: ArrayBufferView): number {
  return lengthGetter.call(array) as number;
}

/** Copies `source` into `target` at `offset` without looking up `set` on `target`. */
export function copyInto(target: ArrayBufferView, source: ArrayLike<number>, offset: number): void {
  intrinsicSet.call(target, source, offset);
}
