/**
 * The node-worker-service example: starts server.mjs on a free port of 127.0.0.1, scores a batch
 * over HTTP and compares the reply with float64 values, then stops the server with SIGTERM.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { userEnvironment } from "../../consumers/src/commands.js";
import { exampleDir } from "../src/paths.js";
import { entropy64, logSoftmax64, randomLogits, worstRatio } from "../src/reference.js";

const ROWS = 16;
const CLASSES = 1000;

interface ScoreReply {
  rows?: number;
  entropy?: number[];
  nll?: number[];
  perplexity?: number;
  error?: string;
}

/** Starts server.mjs with PORT=0 and resolves with the process and the /score URL it prints. */
function startServer(): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const child = spawn(process.execPath, ["server.mjs"], {
    cwd: exampleDir("node-worker-service"),
    env: userEnvironment({ PORT: "0" }),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server.mjs printed no address within 30 s. Output:\n${output}`)), 30_000);
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      output += chunk;
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+\/score)/.exec(output);
      if (match !== null) {
        clearTimeout(timer);
        resolve({ child, url: match[1], output: () => output });
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`server.mjs exited with code ${code} before listening. Output:\n${output}`));
    });
  });
}

async function post(url: string, body: string): Promise<{ status: number; reply: ScoreReply }> {
  const response = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json" }, body });
  return { status: response.status, reply: (await response.json()) as ScoreReply };
}

describe("node-worker-service example", () => {
  let server: Awaited<ReturnType<typeof startServer>>;

  beforeAll(async () => {
    server = await startServer();
  });

  afterAll(() => {
    if (server?.child.exitCode === null) server.child.kill("SIGKILL");
  });

  it("scores logits like float64", async () => {
    const logits = randomLogits(ROWS * CLASSES, 12, 5);
    const tokens = Array.from({ length: ROWS }, (_, r) => (r * 61 + 7) % CLASSES);
    const { status, reply } = await post(server.url, JSON.stringify({ classes: CLASSES, logits: Array.from(logits), tokens }));

    const logQ = logSoftmax64(logits, CLASSES);
    const nll = tokens.map((token, r) => -logQ[r * CLASSES + token]);
    const perplexity = Math.exp(nll.reduce((sum, value) => sum + value, 0) / ROWS);
    expect(status).toBe(200);
    expect(reply.rows).toBe(ROWS);
    // 1e-5 relative is about 80 float32 ulp: the kernels' error is a few ulp.
    expect(worstRatio(reply.entropy!, entropy64(logits, CLASSES), 1e-5, 1e-7)).toBeLessThanOrEqual(1);
    expect(worstRatio(reply.nll!, nll, 1e-5, 1e-7)).toBeLessThanOrEqual(1);
    expect(Math.abs(reply.perplexity! - perplexity) / perplexity).toBeLessThan(1e-5);
  });

  it("returns entropy alone without tokens", async () => {
    const { status, reply } = await post(server.url, JSON.stringify({ classes: 2, logits: [0, 0] }));

    expect(status).toBe(200);
    expect(reply.entropy![0]).toBeCloseTo(Math.LN2, 6);
    expect(reply.nll).toBeUndefined();
  });

  it("rejects invalid requests with 400", async () => {
    const cases = [
      { body: "{", message: /invalid request: .*JSON/ },
      { body: JSON.stringify({ classes: 3, logits: [1, 2] }), message: /rows x classes/ },
      { body: JSON.stringify({ classes: 2, logits: [1, 2], tokens: [5] }), message: /invalid request: tokens must be an array of 1 class indices in \[0, 2\)/ },
      { body: JSON.stringify({ classes: 2, logits: [1, 2], tokens: [-100] }), message: /invalid request: tokens must be an array of 1 class indices/ },
      { body: JSON.stringify({ classes: 2, logits: [1, 1e39] }), message: /invalid request: logits must contain only numbers within the float32 range/ },
    ];
    for (const { body, message } of cases) {
      const { status, reply } = await post(server.url, body);
      expect(status, body).toBe(400);
      expect(reply.error, body).toMatch(message);
    }
  });

  it("stops on SIGTERM with code 0", async () => {
    const exited = new Promise<number | null>((resolve) => server.child.once("exit", resolve));
    server.child.kill("SIGTERM");

    expect(await exited).toBe(0);
    expect(server.output()).toContain("scoring service stopped");
  });
});
