/**
 * `pnpm demo`: serves the built page (`dist/`, made by `vite build` just before) on 127.0.0.1.
 * Options: `--port N` (default 4173, or a free port when it is taken) and `--no-wasm-csp`, which
 * serves a Content-Security-Policy without 'wasm-unsafe-eval' to show the js fallback.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { demoHeaders } from "./demo-headers.js";
import { startDemoServer, type DemoServer } from "./demo-server.js";

const DEFAULT_PORT = 4173;
const DIST_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "dist");

/** Returns the port number, or null when `text` is not an integer from 0 to 65535. */
function parsePort(text: string | undefined): number | null {
  if (text === undefined || !/^\d{1,5}$/.test(text) || Number(text) > 65535) return null;
  return Number(text);
}

async function main(argv: readonly string[]): Promise<number> {
  let port = DEFAULT_PORT;
  let portGiven = false;
  let allowWasm = true;

  // Invalid options are usage errors (exit code 2), as in the benchmark CLI.
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    // pnpm may pass a bare `--` through to the script.
    if (arg === "--") continue;
    if (arg === "--port" || arg.startsWith("--port=")) {
      const text = arg === "--port" ? argv[++i] : arg.slice("--port=".length);
      const parsed = parsePort(text);
      if (parsed === null) {
        process.stderr.write(`error: invalid --port ${JSON.stringify(text ?? "")}: expected an integer from 0 to 65535\n`);
        return 2;
      }
      port = parsed;
      portGiven = true;
    } else if (arg === "--no-wasm-csp") {
      allowWasm = false;
    } else if (arg === "--help" || arg === "-h") {
      process.stdout.write("usage: pnpm demo [--port N] [--no-wasm-csp]\n");
      return 0;
    } else {
      process.stderr.write(`error: unknown option ${arg}: expected --port N or --no-wasm-csp\n`);
      return 2;
    }
  }

  if (!existsSync(join(DIST_DIR, "index.html"))) {
    process.stderr.write(`error: ${DIST_DIR}/index.html not found. Build the page first: pnpm demo does it, or vite build in apps/bench.\n`);
    return 1;
  }

  let server: DemoServer;
  try {
    server = await startDemoServer({ root: DIST_DIR, port, headers: demoHeaders(allowWasm) });
  } catch (error) {
    // A default port that is taken falls back to a free one; a port the user chose does not.
    if ((error as NodeJS.ErrnoException).code !== "EADDRINUSE") throw error;
    if (portGiven) {
      process.stderr.write(`error: port ${port} on 127.0.0.1 is in use. Choose another with --port N, or --port 0 for a free one.\n`);
      return 1;
    }
    server = await startDemoServer({ root: DIST_DIR, port: 0, headers: demoHeaders(allowWasm) });
  }

  const policy = allowWasm ? "" : " (policy without 'wasm-unsafe-eval': the page falls back to js)";
  process.stdout.write(`Demo page: ${server.url}${policy}\nServing ${DIST_DIR}; press Ctrl+C to stop.\n`);

  const stop = () => {
    void server.close().then(() => process.exit(0));
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  return 0;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}
