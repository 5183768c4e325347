import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";
import { demoHeaders } from "./src/demo-headers.js";

// The page lives in web/ and builds into dist/. A relative base lets dist/ work from any folder
// of any static server. The worker threads then need the server to send the headers of
// src/demo-headers.ts, as `pnpm demo` does.
//
// Vite's dev server injects the CSS as inline <style> elements, so only it allows inline styles.
// The built page links its CSS and keeps the strict policy.
const headers = demoHeaders();
const devHeaders = {
  ...headers,
  "Content-Security-Policy": headers["Content-Security-Policy"].replace("style-src 'self'", "style-src 'self' 'unsafe-inline'"),
};

export default defineConfig({
  root: fileURLToPath(new URL("./web", import.meta.url)),
  base: "./",
  build: {
    outDir: "../dist",
    emptyOutDir: true,
    target: "es2022",
    // Inlined assets would become data: URLs, which the page's connect-src does not allow.
    assetsInlineLimit: 0,
  },
  worker: {
    format: "es",
  },
  server: {
    host: "127.0.0.1",
    headers: devHeaders,
  },
  preview: {
    host: "127.0.0.1",
    headers,
  },
});
