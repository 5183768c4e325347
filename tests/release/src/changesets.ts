/**
 * Reads the pending changesets and computes the versions that `changeset version` should write.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export type Bump = "major" | "minor" | "patch";

/** One entry of `.changeset/`: the packages it bumps and its changelog text. */
export interface Changeset {
  file: string;
  releases: Map<string, Bump>;
  summary: string;
}

const BUMP_ORDER: readonly Bump[] = ["patch", "minor", "major"];

/** Parses a changeset file: YAML front matter of `"name": bump` lines, then the summary. */
export function parseChangeset(file: string, text: string): Changeset {
  const match = /^---\n([\s\S]*?)\n---\n([\s\S]*)$/.exec(text.replace(/\r\n/g, "\n"));
  if (match === null) throw new Error(`${file}: missing the front matter between --- lines`);

  const releases = new Map<string, Bump>();
  for (const line of match[1].split("\n")) {
    if (line.trim() === "") continue;
    const release = /^\s*["']?([^"':]+)["']?\s*:\s*(major|minor|patch)\s*$/.exec(line);
    if (release === null) throw new Error(`${file}: invalid release line ${JSON.stringify(line)}, expected "name": major|minor|patch`);
    releases.set(release[1], release[2] as Bump);
  }
  return { file, releases, summary: match[2].trim() };
}

/** Reads every changeset in `folder` (the `.md` files other than README.md). */
export function readChangesets(folder: string): Changeset[] {
  return readdirSync(folder)
    .filter((name) => name.endsWith(".md") && name !== "README.md")
    .sort()
    .map((name) => parseChangeset(name, readFileSync(join(folder, name), "utf8")));
}

/** Returns the largest bump of each package over all changesets. */
export function largestBumps(changesets: readonly Changeset[]): Map<string, Bump> {
  const bumps = new Map<string, Bump>();
  for (const changeset of changesets) {
    for (const [name, bump] of changeset.releases) {
      const current = bumps.get(name);
      if (current === undefined || BUMP_ORDER.indexOf(bump) > BUMP_ORDER.indexOf(current)) bumps.set(name, bump);
    }
  }
  return bumps;
}

/**
 * Returns `version` after `bump`, by semver's rules for x.y.z: major resets minor and patch,
 * minor resets patch.
 * NOTE: prerelease versions (changeset pre mode) are not handled and throw.
 */
export function bumpVersion(version: string, bump: Bump): string {
  const parts = /^(\d+)\.(\d+)\.(\d+)$/.exec(version);
  if (parts === null) throw new Error(`unsupported version ${version}: expected major.minor.patch`);

  const [major, minor, patch] = parts.slice(1).map(Number);
  if (bump === "major") return `${major + 1}.0.0`;
  if (bump === "minor") return `${major}.${minor + 1}.0`;
  return `${major}.${minor}.${patch + 1}`;
}
