import { loadLogitKit } from "logitkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseArgs } from "../src/args.js";
import { backendLoader, randomInput, runBench } from "../src/bench.js";
import { loadPeers, PEER_LOADERS, type Peer, type PeerName } from "../src/peers/peers.js";
import { nodeEnvironment } from "../src/node-environment.js";
import { Progress } from "../src/progress.js";

const shape = { rows: 3, classes: 11 };
const input = randomInput(shape, 3);
const logMessages: string[] = [];
let peers: Peer[] = [];
let status: Partial<Record<PeerName, string>> = {};

beforeAll(async () => {
  ({ peers, status } = await loadPeers((message) => logMessages.push(message)));
});

afterAll(async () => {
  for (const peer of peers) await peer.close();
});

describe("peers", () => {
  for (const name of ["tfjs-wasm", "onnxruntime-web"] as const) {
    it(`${name} softmax matches logitkit js`, async (context) => {
      const peer = peers.find((candidate) => candidate.name === name);
      if (peer === undefined) {
        context.skip(`the ${name} peer did not load: ${status[name]}`);
        return;
      }

      const kit = await loadLogitKit({ backend: "js" });
      const expected = kit.softmax(input.first, { classes: shape.classes });
      const bound = peer.bind("softmax", input);
      expect(bound).not.toBeNull();

      for (const fn of bound?.functions ?? []) {
        fn.prepare?.();
        const actual = (await fn.run()) as Float32Array;
        expect(actual).toHaveLength(expected.length);
        const maxDiff = Math.max(...actual.map((value, i) => Math.abs(value - expected[i])));
        expect(maxDiff, `${name} ${fn.variant}`).toBeLessThan(1e-5);
      }
      bound?.release();
    });
  }

  it("loads every peer here", () => {
    expect(logMessages).toEqual([]);
    expect(peers.map((peer) => peer.name)).toEqual(["plainjs", "tfjs-wasm", "tfjs-cpu", "onnxruntime-web"]);
  });

  it("skips a peer that fails to load", async () => {
    const messages: string[] = [];
    const failing = async (): Promise<never> => {
      throw new Error("no WebAssembly here");
    };
    const loaded = await loadPeers((message) => messages.push(message), { ...PEER_LOADERS, "tfjs-cpu": failing, "onnxruntime-web": failing });

    expect(loaded.peers.map((peer) => peer.name)).toEqual(["plainjs", "tfjs-wasm"]);
    expect(loaded.status["tfjs-cpu"]).toBe("failed to load: no WebAssembly here");
    expect(messages).toEqual([
      "The tfjs-cpu peer failed to load, so it is not timed: no WebAssembly here",
      "The onnxruntime-web peer failed to load, so it is not timed: no WebAssembly here",
    ]);
  });

  it("onnxruntime-web skips crossEntropy", () => {
    const peer = peers.find((candidate) => candidate.name === "onnxruntime-web");
    expect(peer?.bind("crossEntropy", input) ?? null).toBeNull();
  });
});

describe("runBench with --peers", () => {
  it("adds peer records with plainjs ratios", async () => {
    const parsed = parseArgs(["--peers", "--quick", "--no-real", "--reps", "1", "--ops", "softmax,logSumExp", "--shapes", "2x16"]);
    if (parsed.help) throw new Error("expected options, got a help request");
    const lines: string[] = [];
    const run = await runBench(
      parsed.options,
      backendLoader(loadLogitKit, 2),
      new Progress({ write: (text: string) => lines.push(text) }),
      nodeEnvironment,
    );

    expect(run.complete).toBe(true);
    expect(run.peers?.plainjs).toBe("loaded (baseline)");
    expect(run.records.map((record) => `${record.op} ${record.backend} ${record.variant ?? "-"}`)).toEqual([
      "softmax wasm -",
      "softmax js -",
      "softmax plainjs -",
      "softmax tfjs-wasm kernel",
      "softmax tfjs-wasm end-to-end",
      "softmax tfjs-cpu kernel",
      "softmax tfjs-cpu end-to-end",
      "softmax onnxruntime-web end-to-end",
      "logSumExp wasm -",
      "logSumExp js -",
    ]);

    const softmax = run.records.filter((record) => record.op === "softmax");
    for (const record of softmax) {
      expect(record.ratioVsPlainJs, record.backend).toBeGreaterThan(0);
    }
    expect(softmax.find((record) => record.backend === "plainjs")?.ratioVsPlainJs).toBe(1);
    expect(softmax.find((record) => record.backend === "onnxruntime-web")?.awaited).toBe(true);
    expect(run.records.find((record) => record.op === "logSumExp")?.ratioVsPlainJs).toBeUndefined();
  });
});
