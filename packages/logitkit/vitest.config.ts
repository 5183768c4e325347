import { existsSync } from "node:fs";
import { playwright } from "@vitest/browser-playwright";
import { defineConfig, type Plugin, type TestProjectInlineConfiguration } from "vitest/config";
import { runsUnderCi, vectorsPlugin } from "./test/vectors.js";

// Playwright drives a system Chromium, so nothing downloads a browser. LOGITKIT_CHROMIUM names
// another executable, such as Chrome on a machine without Debian's package.
const chromiumPath = process.env.LOGITKIT_CHROMIUM || "/usr/bin/chromium";

const TESTS = ["test/**/*.test.ts"];

// Files named *.node.test.ts need Node.js itself: they spawn processes or run them with --expose-gc.
const NODE_ONLY_TESTS = ["test/**/*.node.test.ts"];

const chromiumFound = existsSync(chromiumPath);
const chromiumFix = "install it with `apt-get install -y chromium` or set LOGITKIT_CHROMIUM to a Chromium or Chrome executable";

// Under CI a missing Chromium fails the run, so the browser tests cannot drop out unnoticed.
if (!chromiumFound && runsUnderCi()) {
  throw new Error(`Chromium not found at ${chromiumPath}; CI runs the browser tests, so ${chromiumFix}.`);
}

/**
 * Creates a plugin that warns once that the browser tests are skipped. Vitest 4.1 evaluates this
 * file more than once per run, but calls configureVitest once per project that has the plugin.
 */
function chromiumMissingWarning(): Plugin {
  return {
    name: "logitkit-chromium-missing",
    configureVitest({ vitest }) {
      vitest.logger.warn(`Chromium not found at ${chromiumPath}: skipping the browser tests; ${chromiumFix}.`);
    },
  };
}

const nodeProject: TestProjectInlineConfiguration = {
  extends: true,
  plugins: chromiumFound ? [] : [chromiumMissingWarning()],
  test: { name: "node", include: TESTS },
};

const chromiumProject: TestProjectInlineConfiguration = {
  extends: true,

  // Cross-origin isolation gives the page SharedArrayBuffer, so `threads` starts a pool of Web
  // Workers there as it does on a site that sends these headers. Vitest sends server.headers
  // with the runner's own pages too.
  server: {
    headers: {
      "Cross-Origin-Opener-Policy": "same-origin",
      "Cross-Origin-Embedder-Policy": "require-corp",
    },
  },
  test: {
    name: "chromium",
    include: TESTS,
    exclude: NODE_ONLY_TESTS,
    browser: {
      enabled: true,
      headless: true,
      screenshotFailures: false,
      provider: playwright({ launchOptions: { executablePath: chromiumPath } }),
      instances: [{ browser: "chromium" }],
    },
  },
};

export default defineConfig({
  plugins: [vectorsPlugin()],
  test: {
    testTimeout: 60_000,
    projects: chromiumFound ? [nodeProject, chromiumProject] : [nodeProject],
  },
});
