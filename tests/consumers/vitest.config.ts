import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/pack-tarball.ts"],
    // The hooks install packages from the npm registry and run production builds, which take
    // longer on a cold npm cache and while turbo runs other packages' tests on the same cores.
    testTimeout: 120_000,
    hookTimeout: 600_000,
  },
});
