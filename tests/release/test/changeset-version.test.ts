/**
 * The release flow: `pnpm changeset version` on a scratch copy of the repository must bump each
 * package as the pending changesets say and write their text into its CHANGELOG.md, and the
 * real repository must stay as it was.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCommand, userEnvironment } from "../../consumers/src/commands.js";
import { pinnedPnpm } from "../../consumers/src/tarball.js";
import { bumpVersion, largestBumps, readChangesets, type Bump, type Changeset } from "../src/changesets.js";
import { createScratchCopy, ignoredPatterns, isIgnored, listPackages, WORKSPACE_DIR, type WorkspacePackage } from "../src/workspace.js";

/** The changelog heading of each bump in @changesets/cli's default changelog format. */
const HEADINGS: Record<Bump, string> = { major: "Major Changes", minor: "Minor Changes", patch: "Patch Changes" };

/** Everything of the real repository that `changeset version` would change. */
function snapshotRepository(): Record<string, string> {
  const snapshot: Record<string, string> = {};
  for (const name of readdirSync(join(WORKSPACE_DIR, ".changeset"))) {
    snapshot[`.changeset/${name}`] = readFileSync(join(WORKSPACE_DIR, ".changeset", name), "utf8");
  }
  for (const pkg of listPackages(WORKSPACE_DIR)) {
    for (const file of ["package.json", "CHANGELOG.md"]) {
      const path = join(WORKSPACE_DIR, pkg.dir, file);
      if (existsSync(path)) snapshot[`${pkg.dir}/${file}`] = readFileSync(path, "utf8");
    }
  }
  return snapshot;
}

/** Splits the section of `version` in a changelog into its `### ...` subsections, by heading. */
function subsectionsOf(changelog: string, version: string): Map<string, string> {
  const start = changelog.indexOf(`\n## ${version}\n`);
  if (start < 0) return new Map();
  const end = changelog.indexOf("\n## ", start + 1);
  const section = changelog.slice(start, end < 0 ? undefined : end);

  const subsections = new Map<string, string>();
  for (const part of section.split("\n### ").slice(1)) {
    const newline = part.indexOf("\n");
    subsections.set(part.slice(0, newline).trim(), part.slice(newline + 1));
  }
  return subsections;
}

describe("changeset version on a scratch copy", () => {
  const changesets: Changeset[] = readChangesets(join(WORKSPACE_DIR, ".changeset"));
  const ignore = ignoredPatterns(WORKSPACE_DIR);
  let before: Record<string, string>;
  let scratch: string;
  let headPackages: WorkspacePackage[];
  let versioned: WorkspacePackage[];

  beforeAll(async () => {
    before = snapshotRepository();
    scratch = await createScratchCopy();
    headPackages = listPackages(scratch);
    await runCommand("npx", ["--yes", pinnedPnpm(), "changeset", "version"], { cwd: scratch, timeout: 120_000, env: userEnvironment() });
    versioned = listPackages(scratch);
  });

  afterAll(() => {
    if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
  });

  it("has pending changesets", () => {
    expect(changesets.length).toBeGreaterThan(0);
  });

  it("names only versioned packages", () => {
    const names = new Set(headPackages.map((pkg) => pkg.name));
    for (const changeset of changesets) {
      for (const name of changeset.releases.keys()) {
        expect(names.has(name), `${changeset.file} names ${name}`).toBe(true);
        expect(isIgnored(name, ignore), `${changeset.file} names the ignored ${name}`).toBe(false);
      }
    }
  });

  it("bumps versions as the changesets say", () => {
    const bumps = largestBumps(changesets);
    for (const pkg of headPackages) {
      const bump = bumps.get(pkg.name);
      const expected = bump === undefined ? pkg.version : bumpVersion(pkg.version, bump);
      const actual = versioned.find((other) => other.name === pkg.name)?.version;
      expect(actual, `${pkg.name} ${pkg.version} after ${bump ?? "no bump"}`).toBe(expected);
    }
  });

  it("keeps ignored packages unchanged", () => {
    const ignored = headPackages.filter((pkg) => isIgnored(pkg.name, ignore));
    expect(ignored.length, "packages matched by .changeset/config.json's ignore").toBeGreaterThan(0);
    for (const pkg of ignored) {
      expect(existsSync(join(scratch, pkg.dir, "CHANGELOG.md")), `${pkg.name} CHANGELOG.md`).toBe(false);
      expect(readFileSync(join(scratch, pkg.dir, "package.json"), "utf8"), pkg.name).toBe(before[`${pkg.dir}/package.json`]);
    }
  });

  it("consumes every changeset", () => {
    expect(readdirSync(join(scratch, ".changeset")).sort()).toEqual(["README.md", "config.json"]);
  });

  it("writes each entry into the changelogs", () => {
    const bumps = largestBumps(changesets);
    for (const [name, bump] of bumps) {
      const pkg = versioned.find((other) => other.name === name)!;
      const changelog = readFileSync(join(scratch, pkg.dir, "CHANGELOG.md"), "utf8");
      expect(changelog.startsWith(`# ${name}\n\n## ${pkg.version}\n`), `${name} CHANGELOG.md starts with the new version`).toBe(true);
      expect(bumpVersion(headPackages.find((other) => other.name === name)!.version, bump)).toBe(pkg.version);

      const subsections = subsectionsOf(changelog, pkg.version);
      for (const changeset of changesets) {
        const entryBump = changeset.releases.get(name);
        if (entryBump === undefined) continue;

        const text = subsections.get(HEADINGS[entryBump]) ?? "";
        for (const line of changeset.summary.split("\n").filter((summaryLine) => summaryLine.trim() !== "")) {
          expect(text, `${name} ${HEADINGS[entryBump]} contains ${changeset.file}`).toContain(line.trim());
        }
      }
    }
  });

  it("keeps the committed changelog text last", () => {
    for (const pkg of versioned.filter((other) => !isIgnored(other.name, ignore))) {
      const committed = before[`${pkg.dir}/CHANGELOG.md`];
      expect(committed, `${pkg.dir}/CHANGELOG.md in the repository`).toBeDefined();

      const body = committed.slice(committed.indexOf("\n") + 1).trim();
      expect(readFileSync(join(scratch, pkg.dir, "CHANGELOG.md"), "utf8").trimEnd().endsWith(body), pkg.name).toBe(true);
    }
  });

  it("leaves the real repository unchanged", () => {
    expect(snapshotRepository()).toEqual(before);
  });
});
