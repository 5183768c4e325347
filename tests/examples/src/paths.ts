/** Folders of the example projects. */
import { fileURLToPath } from "node:url";

/** Returns the folder of the example project `name` under examples/. */
export function exampleDir(name: string): string {
  return fileURLToPath(new URL(`../../../examples/${name}`, import.meta.url));
}
