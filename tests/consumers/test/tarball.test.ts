/**
 * The packed tarball: its files, its package.json, publint and Are the Types Wrong
 * (@arethetypeswrong/cli), all on the tarball that `pnpm pack` wrote.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { publint } from "publint";
import { formatMessage } from "publint/utils";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { runCommand } from "../src/commands.js";
import { LOGITKIT_DIR, listFiles, unpackTarball, type PackedFile } from "../src/tarball.js";

const PACKAGE_DIR = fileURLToPath(new URL("..", import.meta.url));

/**
 * Files that users need: the ESM and CommonJS builds and their declarations, the README, the
 * package.json, and the license text when the package has one. Source maps are left out on
 * purpose (see tsup.config.ts), and so are sources and tests.
 */
const PUBLISHED_FILE = /^(package\.json|README\.md|LICENSE(\.md|\.txt)?|dist\/[\w.-]+\.(js|cjs|d\.ts|d\.cts))$/;

/** The package.json fields that this test reads. */
interface Manifest {
  name: string;
  type?: string;
  sideEffects?: unknown;
  main?: string;
  module?: string;
  types?: string;
  exports?: Record<string, Record<string, Record<string, string>>>;
  engines?: Record<string, string>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

/** Output of `attw --format json`, as far as this test reads it. */
interface AttwReport {
  problems: Record<string, unknown>;
  analysis: {
    problems: unknown[];
    entrypoints: Record<
      string,
      { resolutions: Record<string, { resolution?: { fileName: string }; implementationResolution?: { fileName: string } }> }
    >;
  };
}

describe("packed tarball", () => {
  const tarball = inject("tarball");
  const folder = mkdtempSync(join(tmpdir(), "logitkit-unpacked-"));
  let packageDir: string;
  let files: PackedFile[];
  let manifest: Manifest;

  beforeAll(async () => {
    packageDir = await unpackTarball(tarball, folder);
    files = listFiles(packageDir);
    manifest = JSON.parse(readFileSync(join(packageDir, "package.json"), "utf8")) as Manifest;

    const total = files.reduce((sum, file) => sum + file.bytes, 0);
    console.log(
      `${tarball} (${readFileSync(tarball).length} bytes packed, ${total} unpacked):\n` +
        files.map((file) => `  ${file.path} ${file.bytes}`).join("\n"),
    );
  });

  afterAll(() => {
    rmSync(folder, { recursive: true, force: true });
  });

  it("contains only what users need", () => {
    const unexpected = files.map((file) => file.path).filter((path) => !PUBLISHED_FILE.test(path));
    expect(unexpected, "files outside dist/*.{js,cjs,d.ts,d.cts}, README, LICENSE and package.json").toEqual([]);
    expect(files.filter((file) => file.path.endsWith(".map"))).toEqual([]);
    expect(files.map((file) => file.path)).toContain("README.md");
  });

  // MIT asks that the license text ship with the code.
  it("includes the license file", () => {
    const licenses = ["LICENSE", "LICENSE.md", "LICENSE.txt"].filter((name) => existsSync(join(LOGITKIT_DIR, name)));
    expect(licenses).toEqual(["LICENSE"]);
    for (const name of licenses) expect(files.map((file) => file.path)).toContain(name);
  });

  it("has every file that package.json names", () => {
    const targets = [manifest.main, manifest.module, manifest.types];
    for (const conditions of Object.values(manifest.exports ?? {})) {
      for (const condition of Object.values(conditions)) targets.push(...Object.values(condition));
    }

    expect(targets.length).toBeGreaterThanOrEqual(7);
    for (const target of targets) {
      expect(target, "an entry point of package.json").toMatch(/^\.\/dist\//);
      expect(existsSync(join(packageDir, target!)), `${target} in the tarball`).toBe(true);
    }
  });

  it("declares ESM, CommonJS and types with no runtime dependencies", () => {
    expect(manifest.name).toBe("logitkit");
    expect(manifest.type).toBe("module");
    expect(manifest.sideEffects).toBe(false);
    expect(manifest.engines?.node).toBe(">=20");
    expect(manifest.exports?.["."]).toEqual({
      import: { types: "./dist/index.d.ts", default: "./dist/index.js" },
      require: { types: "./dist/index.d.cts", default: "./dist/index.cjs" },
    });
    expect(manifest.dependencies ?? {}).toEqual({});
    expect(manifest.peerDependencies ?? {}).toEqual({});
    expect(manifest.optionalDependencies ?? {}).toEqual({});

    // pnpm pack replaces workspace: ranges. A leftover one could not be installed from a registry.
    expect(readFileSync(join(packageDir, "package.json"), "utf8")).not.toContain("workspace:");
  });

  it("passes publint with no errors or warnings", async () => {
    const bytes = readFileSync(tarball);
    const tarballBuffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    const { messages, pkg } = await publint({ pack: { tarball: tarballBuffer }, level: "suggestion" });

    const lines = messages.map((message) => `publint ${message.type}: ${formatMessage(message, pkg, { color: false }) ?? message.code}`);
    if (lines.length > 0) console.log(lines.join("\n"));
    expect(lines.filter((line) => !line.startsWith("publint suggestion"))).toEqual([]);
  });

  it("passes Are the Types Wrong in every resolution mode", async () => {
    const attw = join(PACKAGE_DIR, "node_modules", ".bin", "attw");

    // --no-definitely-typed: the check reads only the tarball, not @types packages from the registry.
    // attw exits with 1 when it finds problems, which the assertions below then show.
    const { stdout } = await runCommand(attw, [tarball, "--format", "json", "--no-definitely-typed"], {
      cwd: folder,
      timeout: 120_000,
      acceptedCodes: [0, 1],
    });
    const report = JSON.parse(stdout) as AttwReport;

    expect(report.analysis.problems, "attw problems").toEqual([]);
    expect(report.problems, "attw problems by kind").toEqual({});
    const resolutions = report.analysis.entrypoints["."].resolutions;
    const resolved = Object.fromEntries(
      Object.entries(resolutions).map(([mode, result]) => [
        mode,
        [result.resolution?.fileName.replace(/^.*\/logitkit\//, ""), result.implementationResolution?.fileName.replace(/^.*\/logitkit\//, "")],
      ]),
    );
    expect(resolved).toEqual({
      node10: ["dist/index.d.ts", "dist/index.cjs"],
      "node16-cjs": ["dist/index.d.cts", "dist/index.cjs"],
      "node16-esm": ["dist/index.d.ts", "dist/index.js"],
      bundler: ["dist/index.d.ts", "dist/index.js"],
    });
  });
});
