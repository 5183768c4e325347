import { defineConfig } from "tsup";

export default defineConfig({
  entry: ["src/index.ts"],
  format: ["esm", "cjs"],
  dts: true,
  // The published files are not minified, so stack traces are readable without maps, and maps
  // would make the package 2.7 times as large. A map left out of the published files would leave
  // a sourceMappingURL comment that points at a missing file.
  sourcemap: false,
  clean: true,
  target: "es2022",
  platform: "neutral",
  minify: false,
  treeshake: true,
});
