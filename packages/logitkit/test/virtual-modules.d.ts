declare module "virtual:logitkit-vectors" {
  import type { VectorSource } from "./vectors-format.js";

  /** The reference vectors, served by vectorsPlugin() in test/vectors.ts. */
  const source: VectorSource;
  export default source;
}
