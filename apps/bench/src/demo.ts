/**
 * `pnpm demo`: builds the page with Vite into `dist/` and serves it on 127.0.0.1 with the
 * headers of `demo-headers.ts`. `--help` lists the options.
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "vite";
import { demoHeaders } from "./demo-headers.js";
import { startDemoServer, type DemoServer } from "./demo-server.js";
import { errorMessage } from "./error-message.js";

const DEFAULT_PORT = 4173;
const APP_DIR = join(dirname(fileURLToPath(import.meta.url)), "..");
const DIST_DIR = join(APP_DIR, "dist");

const HELP = `Usage: pnpm demo [options]

Builds the benchmark page into apps/bench/dist and serves it on 127.0.0.1 with the headers
that make it cross-origin isolated (COOP same-origin, COEP require-corp) and a
Content-Security-Policy that allows WebAssembly. Stop it with Ctrl+C.

Options:
  --port N        TCP port, 0 to 65535; 0 picks a free port. Default ${DEFAULT_PORT}, or a
                  free port when ${DEFAULT_PORT} is in use.
  --no-wasm-csp   serve a Content-Security-Policy without 'wasm-unsafe-eval', under which
                  the page falls back to the js backend and says why.
  --no-build      serve the existing dist/ without building it again.
  -h, --help      print this help and exit.
`;

interface DemoOptions {
  port: number;
  portGiven: boolean;
  allowWasm: boolean;
  build: boolean;
}

/** Returns the port number, or null when `text` is not an integer from 0 to 65535. */
function parsePort(text: string | undefined): number | null {
  if (text === undefined || !/^\d{1,5}$/.test(text) || Number(text) > 65535) return null;
  return Number(text);
}

/** Parses the options. Returns "help" for a help request, and a usage error message for invalid options. */
function parseDemoArgs(argv: readonly string[]): DemoOptions | "help" | { error: string } {
  const options: DemoOptions = { port: DEFAULT_PORT, portGiven: false, allowWasm: true, build: true };

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    // pnpm may pass a bare `--` through to the script.
    if (arg === "--") continue;

    if (arg === "--port" || arg.startsWith("--port=")) {
      const text = arg === "--port" ? argv[++i] : arg.slice("--port=".length);
      const port = parsePort(text);
      if (port === null) return { error: `invalid --port ${JSON.stringify(text ?? "")}: expected an integer from 0 to 65535` };
      options.port = port;
      options.portGiven = true;
    } else if (arg === "--no-wasm-csp") {
      options.allowWasm = false;
    } else if (arg === "--no-build") {
      options.build = false;
    } else if (arg === "--help" || arg === "-h") {
      return "help";
    } else {
      return { error: `unknown option ${JSON.stringify(arg)}: run pnpm demo --help for the options` };
    }
  }
  return options;
}

/**
 * Starts the server. A default port that is in use falls back to a free one, but a chosen port
 * does not: the function then prints the error and returns null.
 */
async function listen(options: DemoOptions): Promise<DemoServer | null> {
  const headers = demoHeaders(options.allowWasm);
  try {
    return await startDemoServer({ root: DIST_DIR, port: options.port, headers });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EADDRINUSE") throw error;
    if (options.portGiven) {
      process.stderr.write(`error: port ${options.port} on 127.0.0.1 is in use. Choose another with --port N, or --port 0 for a free one.\n`);
      return null;
    }
    return startDemoServer({ root: DIST_DIR, port: 0, headers });
  }
}

/** Runs the command. Returns the exit code when it ends, or null when the server keeps running. */
async function main(argv: readonly string[]): Promise<number | null> {
  const options = parseDemoArgs(argv);
  if (options === "help") {
    process.stdout.write(HELP);
    return 0;
  }
  if ("error" in options) {
    process.stderr.write(`error: ${options.error}\n`);
    return 2;
  }

  // Options are checked before the build, which takes seconds and replaces dist/.
  if (options.build) {
    process.stdout.write("Building the page with Vite...\n");
    await build({ configFile: join(APP_DIR, "vite.config.ts"), logLevel: "warn" });
  }

  const server = await listen(options);
  if (server === null) return 1;

  const policy = options.allowWasm ? "" : " (policy without 'wasm-unsafe-eval': the page falls back to js)";
  process.stdout.write(`Demo page: ${server.url}${policy}\nServing ${DIST_DIR}; press Ctrl+C to stop.\n`);

  const stop = () => {
    void server.close().then(() => process.exit(0));
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  return null;
}

try {
  const exitCode = await main(process.argv.slice(2));
  if (exitCode !== null) process.exitCode = exitCode;
} catch (error) {
  process.stderr.write(`error: ${errorMessage(error)}\n`);
  process.exitCode = 1;
}
