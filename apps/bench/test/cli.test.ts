import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const appDir = join(dirname(fileURLToPath(import.meta.url)), "..");

function runCli(args: string[]) {
  return spawnSync(process.execPath, ["--import", "tsx", "src/cli.ts", ...args], { cwd: appDir, encoding: "utf8" });
}

describe("cli", () => {
  it("prints the help and exits 0", () => {
    const result = runCli(["--help"]);

    expect(result.status).toBe(0);
    expect(result.stdout).toContain("--reps N");
  });

  it("exits 2 on an unknown option", () => {
    const result = runCli(["--fast"]);

    expect(result.status).toBe(2);
    expect(result.stderr).toContain('error: unknown option "--fast"');
    expect(result.stdout).toBe("");
  });

  it("exits 2 on a bad value", () => {
    const result = runCli(["--shapes", "8x0"]);

    expect(result.status).toBe(2);
    expect(result.stderr).toContain('invalid --shapes item "8x0"');
  });
});
