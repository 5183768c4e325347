/**
 * A static file server on 127.0.0.1 for the built consumer pages. It sends the headers that make
 * a page cross-origin isolated, because browsers give `SharedArrayBuffer`, and so logitkit's
 * worker threads, only to such pages.
 */
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, normalize, sep } from "node:path";

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".wasm": "application/wasm",
};

const ISOLATION_HEADERS = {
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
};

/** A running server and the address of its root. */
export interface StaticServer {
  url: string;
  close(): Promise<void>;
}

/** Serves the files under `root` on a free port of 127.0.0.1. A path that ends in `/` serves its index.html. */
export async function serveFolder(root: string): Promise<StaticServer> {
  const server = createServer((request, response) => {
    let pathname: string;
    try {
      pathname = decodeURIComponent(new URL(request.url ?? "/", "http://127.0.0.1").pathname);
    } catch {
      response.writeHead(400, { "Content-Type": "text/plain" }).end("invalid path: malformed percent-encoding\n");
      return;
    }

    const file = normalize(join(root, pathname.endsWith("/") ? `${pathname}index.html` : pathname));
    if (!file.startsWith(root + sep)) {
      response.writeHead(400, { "Content-Type": "text/plain" }).end(`invalid path: ${pathname} leads out of the served folder\n`);
      return;
    }

    readFile(file).then(
      (body) => {
        const type = CONTENT_TYPES[extname(file)] ?? "application/octet-stream";
        response.writeHead(200, { ...ISOLATION_HEADERS, "Content-Type": type, "Content-Length": body.length }).end(body);
      },
      () => response.writeHead(404, { ...ISOLATION_HEADERS, "Content-Type": "text/plain" }).end(`not found: ${pathname}\n`),
    );
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))),
  };
}
