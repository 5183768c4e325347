import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Some tests run the library on the 1024 x 512 real logits or spawn the CLI, which can take
    // several seconds while turbo runs other packages' tasks on the same cores.
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
