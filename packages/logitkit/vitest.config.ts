import { defineConfig } from "vitest/config";
import { vectorsPlugin } from "./test/vectors.js";

export default defineConfig({
  plugins: [vectorsPlugin()],
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
  },
});
