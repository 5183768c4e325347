/**
 * Fresh projects in the system's temporary folder, outside the workspace, so that Node.js and the
 * bundlers can resolve `logitkit` only from the installed tarball.
 */
import { copyFileSync, mkdirSync, mkdtempSync, realpathSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { runCommand } from "./commands.js";

/** Folder of the programs and pages that the consumers run. */
export const FIXTURES_DIR = fileURLToPath(new URL("../fixtures", import.meta.url));

/** Exact versions of the tools that the projects install from the npm registry. */
export const TOOL_VERSIONS = {
  /** The `node` package, whose install script fetches the Node.js binary of that version. */
  node22: "22.23.3",
  /** The Vite release that the demo page (apps/bench) builds with. */
  vite: "8.4.1",
  webpack: "5.113.0",
  webpackCli: "7.3.1",
} as const;

/** A project in a new temporary folder. */
export interface TempProject {
  dir: string;
  /** Path of a file inside the project. */
  path(...parts: string[]): string;
}

/**
 * Creates a project named `name` with a package.json (plus `manifest` fields) and copies the
 * fixtures given as `{ [pathInProject]: pathInFixtures }` into it.
 */
export function createProject(name: string, manifest: Record<string, unknown>, fixtures: Record<string, string>): TempProject {
  // The real path, because Node.js reports resolved modules by it where the temporary folder is a link.
  const dir = realpathSync(mkdtempSync(join(tmpdir(), `logitkit-consumer-${name}-`)));
  const project: TempProject = { dir, path: (...parts) => join(dir, ...parts) };

  writeFileSync(project.path("package.json"), `${JSON.stringify({ name: `logitkit-consumer-${name}`, version: "1.0.0", private: true, ...manifest }, null, 2)}\n`);
  for (const [target, source] of Object.entries(fixtures)) {
    mkdirSync(dirname(project.path(target)), { recursive: true });
    copyFileSync(join(FIXTURES_DIR, source), project.path(target));
  }
  return project;
}

/**
 * Installs `specs` (the tarball's path, `name@version`) into the project with npm, as a user of
 * the published package would. A dependency with an install script (the `node` package) must be
 * listed in the manifest's `allowScripts`: npm 11.19 warns about the others, and its documentation
 * says it blocks them.
 */
export async function npmInstall(project: TempProject, specs: readonly string[]): Promise<void> {
  await runCommand("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", ...specs], {
    cwd: project.dir,
    timeout: 300_000,
  });
}
