/**
 * Peer libraries timed next to logitkit with `--peers`: plain JavaScript loops, TensorFlow.js on
 * its wasm and cpu backends, and onnxruntime-web on its wasm execution provider. Every library
 * is loaded with a dynamic `import()`, so a run without `--peers` never loads one.
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type * as Ort from "onnxruntime-web";
import type * as Tf from "@tensorflow/tfjs-core";
import type { OpInput } from "../ops.js";
import type { AsyncTimedFunction } from "../timing.js";
import { buildSoftmaxModel, type OnnxSoftmaxOp } from "./onnx.js";
import { plainCrossEntropy, plainLogSoftmax, plainSoftmax } from "./plainjs.js";
import { IGNORE_INDEX } from "../data.js";
import { errorMessage } from "../error-message.js";

/** Peer names, used as the `backend` of their records. */
export const PEER_NAMES = ["plainjs", "tfjs-wasm", "tfjs-cpu", "onnxruntime-web"] as const;
export type PeerName = (typeof PEER_NAMES)[number];

/** The baseline of `ratioVsPlainJs`. */
export const BASELINE_PEER: PeerName = "plainjs";

/** Operations that peers implement. The others are timed on logitkit's backends only. */
export const PEER_OPS: readonly string[] = ["softmax", "logSoftmax", "crossEntropy"];

/**
 * Scope of a timed peer call. With `kernel` the input tensor exists before the timing, and a call
 * runs the op and copies its result out with `dataSync()`. With `end-to-end` a call goes from a
 * Float32Array to a Float32Array, creating and releasing the library's tensors.
 */
export type PeerVariant = "kernel" | "end-to-end";

/** One timed function of a peer for one case. */
export interface PeerFunction extends AsyncTimedFunction<PeerName> {
  /** Absent for plainjs, which has no tensors. */
  variant?: PeerVariant;
  preallocatedOut: boolean;
}

/** Timed functions of a peer for one case, and the release of the tensors created for them. */
export interface BoundPeer {
  functions: PeerFunction[];
  release(): void;
}

/** Loaded peer. */
export interface Peer {
  name: PeerName;
  /** Binds `op` to `input`, or returns null when the peer does not implement `op`. */
  bind(op: string, input: OpInput): BoundPeer | null;
  /** Releases what the peer holds, such as inference sessions. */
  close(): Promise<void>;
}

const requireFromHere = createRequire(import.meta.url);

/**
 * Returns the `dist/` folder of an installed package, ending with a slash as the libraries
 * expect. It walks up from the package's entry point, because onnxruntime-web's `exports` map
 * does not export `package.json`.
 */
export function packageDistFolder(packageName: string): string {
  let folder = dirname(requireFromHere.resolve(packageName));
  while (!existsSync(join(folder, "package.json")) || !isPackageRoot(folder, packageName)) {
    const parent = dirname(folder);
    if (parent === folder) {
      throw new Error(`the folder of package ${packageName} was not found above its entry point: reinstall it with pnpm install`);
    }
    folder = parent;
  }
  return join(folder, "dist") + "/";
}

function isPackageRoot(folder: string, packageName: string): boolean {
  const manifest = JSON.parse(readFileSync(join(folder, "package.json"), "utf8")) as { name?: string };
  return manifest.name === packageName;
}

function createPlainJsPeer(): Peer {
  return {
    name: "plainjs",
    bind(op, { first, labels, classes }) {
      const out = new Float32Array(first.length);
      let run: () => unknown;
      if (op === "softmax") run = () => plainSoftmax(first, classes, out);
      else if (op === "logSoftmax") run = () => plainLogSoftmax(first, classes, out);
      else if (op === "crossEntropy") run = () => plainCrossEntropy(first, labels, classes, IGNORE_INDEX);
      else return null;

      return { functions: [{ backend: "plainjs", run, awaited: false, preallocatedOut: op !== "crossEntropy" }], release: () => {} };
    },
    close: async () => {},
  };
}

type TfModule = typeof Tf;

/** Imports tfjs-core with the wasm and cpu backends once, because both peers share its global engine. */
let tfModule: Promise<TfModule> | undefined;

async function importTf(): Promise<TfModule> {
  tfModule ??= (async () => {
    const tf = await import("@tensorflow/tfjs-core");
    await import("@tensorflow/tfjs-backend-cpu");
    const wasm = await import("@tensorflow/tfjs-backend-wasm");

    // One thread, as logitkit runs on one. The paths make the backend read its .wasm files from
    // node_modules instead of fetching them.
    tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
    wasm.setThreadsCount(1);
    wasm.setWasmPaths(packageDistFolder("@tensorflow/tfjs-backend-wasm"));
    return tf;
  })();
  return tfModule;
}

/**
 * Makes `backend` the current tfjs backend. `setBackend` switches synchronously once the
 * backend is initialized, which `createTfjsPeer` ensures, so the returned promise can be dropped.
 */
function useTfBackend(tf: TfModule, backend: "wasm" | "cpu"): void {
  void tf.setBackend(backend);
  if (tf.getBackend() !== backend) {
    throw new Error(`tf.setBackend("${backend}") left the ${tf.getBackend()} backend current`);
  }
}

/** Returns one-hot float labels, all zeros for an ignored row. */
function oneHot(labels: Int32Array, classes: number): Float32Array {
  const values = new Float32Array(labels.length * classes);
  labels.forEach((label, row) => {
    if (label >= 0 && label < classes) values[row * classes + label] = 1;
  });
  return values;
}

async function createTfjsPeer(backend: "wasm" | "cpu"): Promise<{ peer: Peer; detail: string }> {
  const tf = await importTf();
  const name: PeerName = backend === "wasm" ? "tfjs-wasm" : "tfjs-cpu";
  if (!(await tf.setBackend(backend))) {
    throw new Error(`tf.setBackend("${backend}") returned false: the backend failed to initialize, see the tfjs warning above`);
  }
  // In tfjs-core 4.22.0 the PROD flag only silences console warnings, such as the cpu backend's
  // advice to install tfjs-node. It is set after the initialization so that its errors still print.
  tf.enableProdMode();

  let detail = `tfjs-core ${tf.version_core}`;
  if (backend === "wasm") {
    const simd = await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT");
    detail += simd ? ", SIMD binary, 1 thread" : ", non-SIMD binary (no WebAssembly SIMD here), 1 thread";
  }

  const peer: Peer = {
    name,
    bind(op, { first, labels, rows, classes }) {
      if (!PEER_OPS.includes(op)) return null;

      useTfBackend(tf, backend);
      const input = tf.tensor2d(first, [rows, classes]);
      // NOTE: an ignored row gets an all-zero one-hot row, which tfjs still counts in the mean.
      // The random logits have no ignored rows, so there the loss equals logitkit's.
      const target = op === "crossEntropy" ? tf.tensor2d(oneHot(labels, classes), [rows, classes]) : null;

      const apply = (x: Tf.Tensor2D): Tf.Tensor => {
        if (op === "softmax") return tf.softmax(x);
        if (op === "logSoftmax") return tf.logSoftmax(x);
        return tf.losses.softmaxCrossEntropy(target as Tf.Tensor2D, x);
      };
      const readAndDispose = (x: Tf.Tensor2D) => {
        const result = tf.tidy(() => apply(x));
        const values = result.dataSync();
        result.dispose();
        return values;
      };

      const prepare = () => useTfBackend(tf, backend);
      const functions: PeerFunction[] = [
        { backend: name, variant: "kernel", awaited: false, preallocatedOut: false, prepare, run: () => readAndDispose(input) },
        {
          backend: name,
          variant: "end-to-end",
          awaited: false,
          preallocatedOut: false,
          prepare,
          run: () => {
            const x = tf.tensor2d(first, [rows, classes]);
            const values = readAndDispose(x);
            x.dispose();
            return values;
          },
        },
      ];
      return {
        functions,
        release: () => {
          input.dispose();
          target?.dispose();
        },
      };
    },
    close: async () => {},
  };
  return { peer, detail };
}

async function createOrtPeer(): Promise<{ peer: Peer; detail: string }> {
  const ort: typeof Ort = await import("onnxruntime-web");
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.wasmPaths = packageDistFolder("onnxruntime-web");

  const sessions = new Map<string, Ort.InferenceSession>();
  const models: [string, OnnxSoftmaxOp][] = [
    ["softmax", "Softmax"],
    ["logSoftmax", "LogSoftmax"],
  ];
  for (const [op, opType] of models) {
    sessions.set(op, await ort.InferenceSession.create(buildSoftmaxModel(opType), { executionProviders: ["wasm"] }));
  }

  const peer: Peer = {
    name: "onnxruntime-web",
    bind(op, { first, rows, classes }) {
      const session = sessions.get(op);
      if (session === undefined) return null;

      const run = async () => {
        const outputs = await session.run({ x: new ort.Tensor("float32", first, [rows, classes]) });
        return outputs.y.data;
      };
      return {
        functions: [{ backend: "onnxruntime-web", variant: "end-to-end", awaited: true, preallocatedOut: false, run }],
        release: () => {},
      };
    },
    close: async () => {
      for (const session of sessions.values()) {
        await session.release();
      }
    },
  };
  return { peer, detail: `onnxruntime-web ${ort.env.versions.web}, wasm execution provider, 1 thread, awaited session.run` };
}

/** Loads one peer and returns it with a short description of its configuration. */
export type PeerLoader = () => Promise<{ peer: Peer; detail: string }>;

export const PEER_LOADERS: Readonly<Record<PeerName, PeerLoader>> = {
  plainjs: async () => ({ peer: createPlainJsPeer(), detail: "baseline" }),
  "tfjs-wasm": () => createTfjsPeer("wasm"),
  "tfjs-cpu": () => createTfjsPeer("cpu"),
  "onnxruntime-web": createOrtPeer,
};

/**
 * Loads every peer with `loaders`. A peer that fails to load is reported in `status` and left
 * out, and `log` receives one line per failure.
 */
export async function loadPeers(
  log: (message: string) => void,
  loaders: Readonly<Record<PeerName, PeerLoader>> = PEER_LOADERS,
): Promise<{ peers: Peer[]; status: Record<PeerName, string> }> {
  const peers: Peer[] = [];
  const status = {} as Record<PeerName, string>;
  for (const name of PEER_NAMES) {
    try {
      const { peer, detail } = await loaders[name]();
      peers.push(peer);
      status[name] = `loaded (${detail})`;
    } catch (error) {
      status[name] = `failed to load: ${errorMessage(error)}`;
      log(`The ${name} peer failed to load, so it is not timed: ${errorMessage(error)}`);
    }
  }
  return { peers, status };
}
