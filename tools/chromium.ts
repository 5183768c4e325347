/**
 * Location of the Chromium that the browser tests drive through Playwright. The tests use the
 * system browser because Playwright's own browser downloads are not available on every machine.
 */
import { existsSync } from "node:fs";

/** Executable of the browser: LOGITKIT_CHROMIUM when set, else Debian's `chromium` package. */
export const CHROMIUM_PATH = process.env.LOGITKIT_CHROMIUM || "/usr/bin/chromium";

/** Advice printed when the browser is missing. */
export const CHROMIUM_FIX = "install it with `apt-get install -y chromium` or set LOGITKIT_CHROMIUM to a Chromium or Chrome executable";

function runsUnderCi(): boolean {
  return process.env.CI === "true" || process.env.CI === "1";
}

/**
 * Returns whether the browser exists. Under CI (CI=true or CI=1) a missing browser throws, so
 * that a CI run cannot pass without the browser tests.
 */
export function chromiumAvailable(): boolean {
  if (existsSync(CHROMIUM_PATH)) return true;

  if (runsUnderCi()) {
    throw new Error(`Chromium not found at ${CHROMIUM_PATH}. CI runs the browser tests, so ${CHROMIUM_FIX}.`);
  }
  return false;
}
