/** The error check shared by the tests of invalid input. */
import { expect } from "vitest";

/** The error classes that the library throws for invalid input. */
export type ErrorType = typeof TypeError | typeof RangeError | typeof Error;

/** Runs `call` and checks that it throws `type` with a message that contains every piece. */
export function expectError(call: () => unknown, type: ErrorType, pieces: string[]): void {
  let caught: unknown;
  try {
    call();
  } catch (error) {
    caught = error;
  }
  expect(caught, "the call must throw").toBeInstanceOf(type);
  for (const piece of pieces) expect((caught as Error).message).toContain(piece);
}
