/**
 * Launching Debian's Chromium for the browser tests. Playwright's own browsers cannot be
 * downloaded on the machines that run these tests, so the system browser is used.
 */
import { existsSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";

/** Path of the browser: CHROMIUM_PATH when set, else Debian's package. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || "/usr/bin/chromium";

function inCI(): boolean {
  return process.env.CI === "true" || process.env.CI === "1";
}

/**
 * Returns why the browser tests cannot run here, or null when they can. Under CI a missing
 * browser throws instead, so that a CI run never passes without them.
 */
export function chromiumMissingReason(): string | null {
  if (existsSync(CHROMIUM_PATH)) return null;

  const reason = `Chromium not found at ${CHROMIUM_PATH}: install it with \`apt-get install -y chromium\` or set CHROMIUM_PATH`;
  if (inCI()) throw new Error(`${reason}. CI requires the browser tests.`);
  return reason;
}

/** Launches the browser headless. Chromium refuses its sandbox to the root user, so root runs without it. */
export function launchChromium(): Promise<Browser> {
  const root = typeof process.getuid === "function" && process.getuid() === 0;
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: root ? ["--no-sandbox"] : [] });
}
