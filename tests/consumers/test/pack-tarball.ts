/**
 * Global setup of the consumer tests: packs logitkit once, so that every test file checks and
 * installs the same tarball, and removes it when the run ends.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { packLogitkit } from "../src/tarball.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** Path of the tarball that `pnpm pack` wrote. */
    tarball: string;
  }
}

export default async function setup(project: TestProject): Promise<() => void> {
  const folder = mkdtempSync(join(tmpdir(), "logitkit-pack-"));
  project.provide("tarball", await packLogitkit(folder));
  return () => rmSync(folder, { recursive: true, force: true });
}
