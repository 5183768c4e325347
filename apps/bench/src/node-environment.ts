/**
 * The benchmark's environment in Node: the real logits come from `data/stories260k` on disk and
 * the peer libraries can be imported.
 */
import type { BenchEnvironment } from "./bench.js";
import { loadRealData } from "./data.js";

export const nodeEnvironment: BenchEnvironment = {
  loadRealData: () => loadRealData(),
  importPeers: () => import("./peers/peers.js"),
};
