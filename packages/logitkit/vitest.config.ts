import { playwright } from "@vitest/browser-playwright";
import { defineConfig, type Plugin, type TestProjectInlineConfiguration } from "vitest/config";
import { chromiumAvailable, CHROMIUM_FIX, CHROMIUM_PATH } from "../../tools/chromium.js";
import { vectorsPlugin } from "./test/vectors.js";

const TESTS = ["test/**/*.test.ts"];

// Files named *.node.test.ts need Node.js itself: they spawn processes or run them with --expose-gc.
const NODE_ONLY_TESTS = ["test/**/*.node.test.ts"];

// Playwright drives a system Chromium, so nothing downloads a browser. Under CI a missing
// Chromium throws here and fails the run.
const chromiumFound = chromiumAvailable();

/**
 * Creates a plugin that warns once that the browser tests are skipped. Vitest 4.1 evaluates this
 * file more than once per run, but calls configureVitest once per project that has the plugin.
 */
function chromiumMissingWarning(): Plugin {
  return {
    name: "logitkit-chromium-missing",
    configureVitest({ vitest }) {
      vitest.logger.warn(`Chromium not found at ${CHROMIUM_PATH}, so the browser tests are skipped: ${CHROMIUM_FIX}.`);
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
      provider: playwright({ launchOptions: { executablePath: CHROMIUM_PATH } }),
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
