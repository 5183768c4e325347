import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { contentSecurityPolicy } from "../src/demo-headers.js";
import { resolveRequestPath, startDemoServer, type DemoServer } from "../src/demo-server.js";

/** Sends a request with the path as given, which fetch would normalize first. */
function get(server: DemoServer, path: string, method = "GET"): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: server.port, path, method }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (body += chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("demo server", () => {
  const root = mkdtempSync(join(tmpdir(), "logitkit-serve-"));
  let server: DemoServer;
  const logged: string[] = [];

  beforeAll(async () => {
    writeFileSync(join(root, "index.html"), "<!doctype html><title>t</title>");
    writeFileSync(join(root, "data.f32"), new Uint8Array(8));
    server = await startDemoServer({ root, port: 0, log: (line) => logged.push(line) });
  });

  afterAll(async () => {
    await server.close();
    rmSync(root, { recursive: true, force: true });
  });

  it("serves the index with isolation headers", async () => {
    const response = await get(server, "/");

    expect(response.status).toBe(200);
    expect(response.body).toContain("<title>t</title>");
    expect(response.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(response.headers["cross-origin-opener-policy"]).toBe("same-origin");
    expect(response.headers["cross-origin-embedder-policy"]).toBe("require-corp");
    expect(response.headers["content-security-policy"]).toContain("script-src 'self' 'wasm-unsafe-eval'");
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
  });

  it("serves binary files with their length", async () => {
    const response = await get(server, "/data.f32");

    expect(response.status).toBe(200);
    expect(response.headers["content-type"]).toBe("application/octet-stream");
    expect(response.headers["content-length"]).toBe("8");
  });

  it("rejects paths outside the root", async () => {
    expect((await get(server, "/../package.json")).status).toBe(400);
    expect((await get(server, "/%2e%2e/%2e%2e/etc/passwd")).status).toBe(400);
    expect((await get(server, "/%E0%A4%A")).status).toBe(400);
    expect(resolveRequestPath(root, "/a%00b")).toBeNull();
    expect(resolveRequestPath(root, "/sub/../index.html")).toBe(join(root, "index.html"));
  });

  it("answers 404 and 405 with the headers", async () => {
    const missing = await get(server, "/missing.js");
    expect(missing.status).toBe(404);
    expect(missing.headers["cross-origin-embedder-policy"]).toBe("require-corp");

    const post = await get(server, "/", "POST");
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe("GET, HEAD");

    expect(logged).toContain("demo server: 404 GET /missing.js: not found: /missing.js");
    expect(logged).toContain("demo server: 405 POST /: method not allowed: only GET and HEAD are served");
  });

  it("drops wasm-unsafe-eval from the policy on request", () => {
    expect(contentSecurityPolicy(false)).toContain("script-src 'self';");
    expect(contentSecurityPolicy(false)).not.toContain("wasm-unsafe-eval");
  });
});
