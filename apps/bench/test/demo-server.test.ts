import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
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
    mkdirSync(join(root, "site"));
    writeFileSync(join(root, "site", "index.html"), "<!doctype html><title>site</title>");
    writeFileSync(join(root, "secret.txt"), "outside the served folder");
    symlinkSync(join(root, "secret.txt"), join(root, "site", "link.txt"));
    symlinkSync(root, join(root, "site", "up"));
    server = await startDemoServer({ root: join(root, "site"), port: 0, log: (line) => logged.push(line) });
  });

  afterAll(async () => {
    await server.close();
    rmSync(root, { recursive: true, force: true });
  });

  it("serves the index with isolation headers", async () => {
    const response = await get(server, "/");

    expect(response.status).toBe(200);
    expect(response.body).toContain("<title>site</title>");
    expect(response.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(response.headers["cross-origin-opener-policy"]).toBe("same-origin");
    expect(response.headers["cross-origin-embedder-policy"]).toBe("require-corp");
    expect(response.headers["content-security-policy"]).toContain("script-src 'self' 'wasm-unsafe-eval'");
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
  });

  it("serves binary files with their length", async () => {
    writeFileSync(join(root, "site", "data.f32"), new Uint8Array(8));
    const response = await get(server, "/data.f32");

    expect(response.status).toBe(200);
    expect(response.headers["content-type"]).toBe("application/octet-stream");
    expect(response.headers["content-length"]).toBe("8");
  });

  it("rejects paths outside the root", async () => {
    expect((await get(server, "/../secret.txt")).status).toBe(400);
    expect((await get(server, "/%2e%2e/secret.txt")).body).toBe("invalid path: it leads out of the served folder\n");
    expect((await get(server, "/%E0%A4%A")).body).toBe("invalid path: malformed percent-encoding\n");
    expect(resolveRequestPath(root, "/a%00b")).toEqual({ error: "invalid path: it contains a NUL byte" });
    expect(resolveRequestPath(root, "/sub/../index.html")).toEqual({ path: join(root, "index.html") });
  });

  it("does not follow links out of the root", async () => {
    expect((await get(server, "/link.txt")).status).toBe(404);
    expect((await get(server, "/up/secret.txt")).status).toBe(404);
  });

  it("shortens long URLs in the log", async () => {
    await get(server, `/${"a".repeat(5000)}`);
    const line = logged.find((entry) => entry.includes("(5001 characters)"));
    expect(line).toBeDefined();
    expect(line?.length).toBeLessThan(300);
  });

  it("answers 404 and 405 with the headers", async () => {
    const missing = await get(server, "/missing.js");
    expect(missing.status).toBe(404);
    expect(missing.headers["cross-origin-embedder-policy"]).toBe("require-corp");

    const post = await get(server, "/", "POST");
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe("GET, HEAD");

    expect(logged).toContain("demo server: 404 GET /missing.js: not found");
    expect(logged).toContain("demo server: 405 POST /: method not allowed: only GET and HEAD are served");
  });

  it("drops wasm-unsafe-eval from the policy on request", () => {
    expect(contentSecurityPolicy(false)).toContain("script-src 'self';");
    expect(contentSecurityPolicy(false)).not.toContain("wasm-unsafe-eval");
  });
});
