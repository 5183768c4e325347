/**
 * The workspace's packages as the manifests in a folder describe them, and the copy of the
 * repository that the release test runs `changeset version` on.
 */
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { runCommand } from "../../consumers/src/commands.js";

/** Root folder of the workspace. */
export const WORKSPACE_DIR = fileURLToPath(new URL("../../..", import.meta.url));

/** A package of the workspace. */
export interface WorkspacePackage {
  name: string;
  version: string;
  private: boolean;
  /** Folder relative to the workspace root, with `/` separators. */
  dir: string;
}

/** Lists the packages under `root` (every package.json but the root's, outside node_modules). */
export function listPackages(root: string): WorkspacePackage[] {
  const packages: WorkspacePackage[] = [];
  const visit = (folder: string) => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      if (!entry.isDirectory() || entry.name === "node_modules" || entry.name.startsWith(".")) continue;

      const dir = join(folder, entry.name);
      const manifestPath = join(dir, "package.json");
      if (existsSync(manifestPath)) {
        const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as { name: string; version: string; private?: boolean };
        packages.push({ name: manifest.name, version: manifest.version, private: manifest.private === true, dir: relative(root, dir).split(sep).join("/") });
      }
      visit(dir);
    }
  };
  visit(root);
  return packages.sort((a, b) => a.name.localeCompare(b.name));
}

/** Returns whether `name` matches one of the `ignore` patterns of .changeset/config.json, where `*` matches any run of characters. */
export function isIgnored(name: string, patterns: readonly string[]): boolean {
  return patterns.some((pattern) => {
    const source = pattern.split("*").map((piece) => piece.replace(/[.+?^${}()|[\]\\/]/g, "\\$&")).join(".*");
    return new RegExp(`^${source}$`).test(name);
  });
}

/** Reads the `ignore` list of .changeset/config.json under `root`. */
export function ignoredPatterns(root: string): string[] {
  const config = JSON.parse(readFileSync(join(root, ".changeset", "config.json"), "utf8")) as { ignore?: string[] };
  return config.ignore ?? [];
}

/**
 * Creates a scratch copy in the system's temporary folder for `changeset version`: the
 * manifests, changelogs and pnpm-workspace.yaml of HEAD (the only files that the command reads
 * or writes), and the working tree's `.changeset/`, so that changesets not yet committed count.
 * node_modules is a link to the workspace's, from which the command runs. Returns the folder.
 */
export async function createScratchCopy(): Promise<string> {
  const scratch = realpathSync(mkdtempSync(join(tmpdir(), "logitkit-release-")));
  const archive = join(scratch, "head.tar");

  try {
    const { stdout } = await runCommand("git", ["ls-tree", "-r", "--name-only", "HEAD"], { cwd: WORKSPACE_DIR, timeout: 60_000 });
    const files = stdout.split("\n").filter((path) => /(^|\/)(package\.json|CHANGELOG\.md)$/.test(path) || path === "pnpm-workspace.yaml");
    await runCommand("git", ["archive", "--format=tar", "-o", archive, "HEAD", "--", ...files], { cwd: WORKSPACE_DIR, timeout: 60_000 });
    await runCommand("tar", ["-xf", archive, "-C", scratch], { cwd: scratch, timeout: 60_000 });
    rmSync(archive);

    cpSync(join(WORKSPACE_DIR, ".changeset"), join(scratch, ".changeset"), { recursive: true });
    symlinkSync(join(WORKSPACE_DIR, "node_modules"), join(scratch, "node_modules"), "dir");
  } catch (error) {
    rmSync(scratch, { recursive: true, force: true });
    throw error;
  }
  return scratch;
}
