import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The hook copies the manifests and runs `pnpm changeset version` through npx, which may
    // fetch pnpm from the npm registry on a cold cache.
    hookTimeout: 180_000,
  },
});
