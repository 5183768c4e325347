import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The browser test builds the page with Vite and starts Chromium, which takes longer while
    // turbo runs other packages' tests on the same cores.
    testTimeout: 60_000,
    hookTimeout: 180_000,
  },
});
