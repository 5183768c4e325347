/**
 * Packs logitkit as `pnpm publish` would and lists what the tarball contains.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { runCommand } from "./commands.js";

/** Root folder of the workspace. */
export const WORKSPACE_DIR = fileURLToPath(new URL("../../..", import.meta.url));

/** Folder of the published package. */
export const LOGITKIT_DIR = join(WORKSPACE_DIR, "packages", "logitkit");

/** Returns the pinned pnpm as `pnpm@x.y.z`, from the `packageManager` field of the workspace's package.json. */
export function pinnedPnpm(): string {
  const manifest = JSON.parse(readFileSync(join(WORKSPACE_DIR, "package.json"), "utf8")) as { packageManager?: string };
  const pinned = manifest.packageManager;
  if (pinned === undefined || !/^pnpm@\d+\.\d+\.\d+$/.test(pinned)) {
    throw new Error(`The workspace's package.json must pin pnpm as "packageManager": "pnpm@x.y.z", got ${String(pinned)}.`);
  }
  return pinned;
}

/**
 * Runs `pnpm pack` on logitkit into `destination` and returns the tarball's path. pnpm replaces
 * `workspace:` ranges as it does when it publishes, which `npm pack` would leave in place.
 */
export async function packLogitkit(destination: string): Promise<string> {
  await runCommand("npx", ["--yes", pinnedPnpm(), "pack", "--pack-destination", destination], {
    cwd: LOGITKIT_DIR,
    timeout: 120_000,
  });

  const tarballs = readdirSync(destination).filter((name) => name.endsWith(".tgz"));
  if (tarballs.length !== 1) {
    throw new Error(`pnpm pack should write one .tgz into ${destination}, found ${tarballs.length}: ${tarballs.join(", ")}.`);
  }
  return join(destination, tarballs[0]);
}

/** Unpacks `tarball` into `destination` with the system's tar and returns `package/`, the folder of every file of an npm tarball. */
export async function unpackTarball(tarball: string, destination: string): Promise<string> {
  await runCommand("tar", ["-xzf", tarball, "-C", destination], { cwd: destination, timeout: 60_000 });
  return join(destination, "package");
}

/** One file of an unpacked package. */
export interface PackedFile {
  /** Path inside the package, with `/` separators. */
  path: string;
  bytes: number;
}

/** Lists every file under `root`, sorted by path. */
export function listFiles(root: string): PackedFile[] {
  const files: PackedFile[] = [];
  const visit = (folder: string) => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) visit(path);
      else files.push({ path: relative(root, path).split(sep).join("/"), bytes: statSync(path).size });
    }
  };
  visit(root);
  return files.sort((a, b) => a.path.localeCompare(b.path));
}
