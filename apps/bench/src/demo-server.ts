/**
 * Static file server of the built demo page (`dist/`), on 127.0.0.1 only, by default with the
 * headers that make the page cross-origin isolated and the Content-Security-Policy of
 * `demo-headers.ts`.
 */
import { createReadStream, statSync } from "node:fs";
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
}

export interface DemoServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Maps a request path to a file under `root`, or returns null when it would leave `root`. */
export function resolveRequestPath(root: string, urlPath: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath.split("?")[0].split("#")[0]);
  } catch {
    return null;
  }
  if (decoded.includes("\0")) return null;

  const relative = decoded.endsWith("/") ? `${decoded}index.html` : decoded;
  const path = resolve(join(root, relative));
  return path === root || path.startsWith(root + sep) ? path : null;
}

function send(response: ServerResponse, status: number, headers: Record<string, string>, body: string): void {
  response.writeHead(status, { ...headers, "Content-Type": "text/plain; charset=utf-8" });
  response.end(body);
}

function handle(root: string, headers: Record<string, string>, request: IncomingMessage, response: ServerResponse): void {
  if (request.method !== "GET" && request.method !== "HEAD") {
    send(response, 405, { ...headers, Allow: "GET, HEAD" }, "method not allowed: only GET and HEAD are served\n");
    return;
  }

  const path = resolveRequestPath(root, request.url ?? "/");
  if (path === null) {
    send(response, 400, headers, "invalid path\n");
    return;
  }

  let size: number;
  try {
    const stats = statSync(path);
    if (!stats.isFile()) throw new Error("not a file");
    size = stats.size;
  } catch {
    send(response, 404, headers, `not found: ${request.url}\n`);
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
    .on("error", (error) => response.destroy(error))
    .pipe(response);
}

/** Starts the server and resolves once it listens. */
export function startDemoServer(options: DemoServerOptions): Promise<DemoServer> {
  const root = resolve(options.root);
  const headers = options.headers ?? demoHeaders();
  const server = createServer((request, response) => handle(root, headers, request, response));

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
