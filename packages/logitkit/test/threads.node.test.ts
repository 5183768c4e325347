import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// These tests start Node.js processes, one of them with --expose-gc, so they run in Node.js only.
describe("thread pool in a Node.js process", () => {
  // The built bundle is what users run; the test task builds it first.
  const bundle = fileURLToPath(new URL("../dist/index.js", import.meta.url));
  it.runIf(existsSync(bundle))("lets a process exit without dispose", () => {
    const script = [
      `import { loadLogitKit } from ${JSON.stringify(bundle)};`,
      "const kit = await loadLogitKit({ backend: 'wasm', threads: 2 });",
      "const z = new Float32Array(64 * 8192).fill(1);",
      "console.log(kit.threads, kit.logSumExp(z, { classes: 8192 })[0].toFixed(4));",
    ].join("\n");
    const output = execFileSync(process.execPath, ["--input-type=module", "-e", script], {
      encoding: "utf8",
      timeout: 20_000,
    });
    expect(output.trim()).toBe(`2 ${(1 + Math.log(8192)).toFixed(4)}`);
  });

  it.runIf(existsSync(bundle) && existsSync("/proc/self/task"))("stops the workers of collected kits", () => {
    const script = [
      `import { loadLogitKit } from ${JSON.stringify(bundle)};`,
      "import { readdirSync } from 'node:fs';",
      "const threadsNow = () => readdirSync('/proc/self/task').length;",
      "const before = threadsNow();",
      "for (let i = 0; i < 10; i++) (await loadLogitKit({ backend: 'wasm', threads: 2 })).softmax(new Float32Array(8), { classes: 8 });",
      "const loaded = threadsNow();",
      "for (let i = 0; i < 20 && threadsNow() > before + 2; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 100)); }",
      "console.log(loaded - before, threadsNow() - before);",
    ].join("\n");
    const output = execFileSync(process.execPath, ["--expose-gc", "--input-type=module", "-e", script], {
      encoding: "utf8",
      timeout: 30_000,
    });
    const [started, left] = output.trim().split(" ").map(Number);
    expect(started).toBeGreaterThanOrEqual(10);
    expect(left).toBeLessThanOrEqual(2);
  });
});
