/**
 * Static file server of the built demo page (`dist/`), on 127.0.0.1 only, by default with the
 * headers that make the page cross-origin isolated and the Content-Security-Policy of
 * `demo-headers.ts`.
 */
import { createReadStream, realpathSync, statSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, resolve, sep } from "node:path";
import { demoHeaders } from "./demo-headers.js";

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".wasm": "application/wasm",
  ".txt": "text/plain; charset=utf-8",
};

export interface DemoServerOptions {
  /** Folder to serve: the output of `vite build`. */
  root: string;
  /** TCP port; 0 picks a free one. */
  port: number;
  /** Headers of every response; `demoHeaders()` when not given. */
  headers?: Record<string, string>;
  /** Receives one line per failed request; the default writes it to stderr. */
  log?: (line: string) => void;
}

export interface DemoServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** URL length kept in log lines, so that long request URLs cannot flood the log. */
const LOGGED_URL_LENGTH = 200;

function isInside(root: string, path: string): boolean {
  return path === root || path.startsWith(root + sep);
}

/**
 * Maps a request path to a file path under `root`. Returns an error message instead for a
 * malformed percent-encoding, a NUL byte, or a path that leads out of `root`.
 */
export function resolveRequestPath(root: string, urlPath: string): { path: string } | { error: string } {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath.split("?")[0].split("#")[0]);
  } catch {
    return { error: "invalid path: malformed percent-encoding" };
  }
  if (decoded.includes("\0")) return { error: "invalid path: it contains a NUL byte" };

  const relative = decoded.endsWith("/") ? `${decoded}index.html` : decoded;
  const path = resolve(join(root, relative));
  return isInside(root, path) ? { path } : { error: "invalid path: it leads out of the served folder" };
}

interface ServerContext {
  root: string;
  headers: Record<string, string>;
  log: (line: string) => void;
}

/** Sends the text response of a failed request and logs the status, method and URL. */
function fail(context: ServerContext, request: IncomingMessage, response: ServerResponse, status: number, message: string, extraHeaders = {}): void {
  const url = request.url ?? "";
  const loggedUrl = url.length > LOGGED_URL_LENGTH ? `${url.slice(0, LOGGED_URL_LENGTH)}... (${url.length} characters)` : url;
  context.log(`demo server: ${status} ${request.method} ${loggedUrl}: ${message}`);
  response.writeHead(status, { ...context.headers, ...extraHeaders, "Content-Type": "text/plain; charset=utf-8" });
  response.end(`${message}\n`);
}

function handle(context: ServerContext, request: IncomingMessage, response: ServerResponse): void {
  const { root, headers } = context;
  if (request.method !== "GET" && request.method !== "HEAD") {
    fail(context, request, response, 405, "method not allowed: only GET and HEAD are served", { Allow: "GET, HEAD" });
    return;
  }

  const resolved = resolveRequestPath(root, request.url ?? "/");
  if ("error" in resolved) {
    fail(context, request, response, 400, resolved.error);
    return;
  }

  // A symbolic link inside the folder could point outside it, so the real path must stay inside.
  let path: string;
  let size: number;
  try {
    path = realpathSync(resolved.path);
    const stats = statSync(path);
    if (!stats.isFile() || !isInside(root, path)) throw new Error("not a file inside the served folder");
    size = stats.size;
  } catch {
    fail(context, request, response, 404, "not found");
    return;
  }

  response.writeHead(200, {
    ...headers,
    "Content-Type": CONTENT_TYPES[extname(path)] ?? "application/octet-stream",
    "Content-Length": String(size),
    "Cache-Control": "no-cache",
  });
  if (request.method === "HEAD") {
    response.end();
    return;
  }
  createReadStream(path)
    .on("error", (error) => {
      context.log(`demo server: reading ${path} for ${request.url} failed: ${error.message}`);
      response.destroy(error);
    })
    .pipe(response);
}

/** Starts the server and resolves once it listens. */
export function startDemoServer(options: DemoServerOptions): Promise<DemoServer> {
  const context: ServerContext = {
    root: realpathSync(resolve(options.root)),
    headers: options.headers ?? demoHeaders(),
    log: options.log ?? ((line) => process.stderr.write(`${line}\n`)),
  };
  const server = createServer((request, response) => handle(context, request, response));

  return new Promise((resolvePromise, reject) => {
    server.once("error", reject);
    server.listen(options.port, "127.0.0.1", () => {
      server.off("error", reject);
      const { port } = server.address() as AddressInfo;
      resolvePromise({
        url: `http://127.0.0.1:${port}/`,
        port,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}
