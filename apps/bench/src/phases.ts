/**
 * Times the phases of a wasm softmax alone: the copy into WebAssembly memory, the three passes
 * of the kernel (row maximum, sum of exponentials, scaling) and the copy out. Whole kernels and
 * a plain copy between two JavaScript arrays are timed next to them, and the hot loops of the
 * kernels' text format are counted in instructions. Run it from the repository root after a
 * build: `npx --yes pnpm@10.34.9 --filter @logitkit/bench run phases [SHAPES] [SAMPLES]`.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { median } from "./timing.js";
import { randomLabels, randomLogits, mulberry32 } from "./prng.js";
import { parseShape, type Shape } from "./args.js";

const KERNELS = fileURLToPath(new URL("../../../packages/kernels/build/logitkit.wasm", import.meta.url));
const KERNELS_TEXT = fileURLToPath(new URL("../../../packages/kernels/build/logitkit.wat", import.meta.url));

type Kernel = (...args: number[]) => number;

/** Median time in ms of one call of `run`, over `samples` samples of at least `minMs` each. */
function time(run: () => void, samples: number, minMs = 2): number {
  let calls = 1;
  for (;;) {
    const start = performance.now();
    for (let i = 0; i < calls; i++) run();
    if (performance.now() - start >= minMs) break;
    calls *= 2;
  }

  const perCall: number[] = [];
  for (let s = 0; s < samples; s++) {
    const start = performance.now();
    for (let i = 0; i < calls; i++) run();
    perCall.push((performance.now() - start) / calls);
  }
  return median(perCall);
}

/**
 * Counts the instructions, and the SIMD ones among them, of the first loop of the function
 * `name` in the flat text format that asc writes: one instruction per line.
 */
export function countLoopInstructions(text: string, name: string): { all: number; simd: number } | null {
  const start = text.indexOf(`(func $${name} `);
  if (start < 0) return null;
  const lines = text.slice(start).split("\n");
  const loop = lines.findIndex((line) => line.trim().startsWith("loop "));
  if (loop < 0) return null;

  // Blocks nest with block/loop/if ... end, so the loop ends at the `end` that closes depth 1.
  let depth = 0;
  let all = 0;
  let simd = 0;
  for (const line of lines.slice(loop)) {
    const op = line.trim().split(/\s+/)[0];
    if (op === "loop" || op === "block" || op === "if") depth++;
    if (op === "end") depth--;
    if (depth === 0) break;
    if (op === "loop" || op === "block" || op === "if" || op === "else" || op === "end" || op === "") continue;
    all++;
    if (/^(f32x4|i32x4|f64x2|v128)\./.test(op)) simd++;
  }
  return { all, simd };
}

async function main(): Promise<void> {
  const shapes: Shape[] = (process.argv[2] ?? "8x50257,64x32000").split(",").map(parseShape);
  const samples = Number(process.argv[3] ?? 31);
  const { instance } = await WebAssembly.instantiate(readFileSync(KERNELS), { env: { abort: () => {} } });
  const wasm = instance.exports as Record<string, Kernel> & { memory: WebAssembly.Memory };
  const heapBase = Math.ceil(wasm.heap_base() / 16) * 16;

  console.log(`phases of a wasm softmax, median of ${samples} samples, Node ${process.version}`);
  for (const shape of shapes) {
    const n = shape.rows * shape.classes;
    const logits = randomLogits(shape.rows, shape.classes, mulberry32(1), 3);
    const labels = randomLabels(shape.rows, shape.classes, mulberry32(2));
    const out = new Float32Array(n);
    const copy = new Float32Array(n);

    // Layout: logits, output, gradient, labels, per-row scratch.
    const z = heapBase;
    const o = z + n * 4;
    const g = o + n * 4;
    const y = g + n * 4;
    const scratch = y + shape.rows * 4 + 16;
    const end = scratch + shape.rows * 16;
    if (end > wasm.memory.buffer.byteLength) wasm.memory.grow(Math.ceil((end - wasm.memory.buffer.byteLength) / 65536));
    const heap = new Float32Array(wasm.memory.buffer);
    heap.set(logits, z / 4);
    new Int32Array(wasm.memory.buffer).set(labels, y / 4);
    const scale = new Float32Array(shape.rows).fill(1 / shape.rows);
    heap.set(scale, scratch / 4);
    let m = -Infinity;
    for (const value of logits) m = Math.max(m, value);

    const phases: Array<[string, () => void]> = [
      ["copy between two JS arrays", () => copy.set(logits)],
      ["copy into wasm memory", () => heap.set(logits, z / 4)],
      ["copy out of wasm memory", () => out.set(heap.subarray(o / 4, o / 4 + n))],
      ["pass 1: row maximum", () => wasm.f32_rmax_slices(z, shape.rows, shape.classes, scratch)],
      ["pass 2: sum of exp", () => wasm.f32_raddstoreexpminusmax_slices(z, 0, shape.rows, shape.classes, m, 1, scratch)],
      ["pass 2: sum and store exp", () => wasm.f32_raddstoreexpminusmax_slices(z, o, shape.rows, shape.classes, m, 1, scratch)],
      ["pass 3: scale", () => wasm.f32_vscale_slices(o, shape.rows, shape.classes, 0.5)],
      ["kernel softmax", () => wasm.f32_softmax_rows(z, o, shape.rows, shape.classes, 1)],
      ["kernel logsumexp", () => wasm.f32_logsumexp_rows(z, o, shape.rows, shape.classes, 1)],
      [
        "kernel cross-entropy",
        () => wasm.f32_cross_entropy_labels_rows(z, y, shape.rows, shape.classes, 1, 0, -100, 0, o, 0, 0),
      ],
      [
        "kernel cross-entropy + grad",
        () => wasm.f32_cross_entropy_labels_rows(z, y, shape.rows, shape.classes, 1, 0, -100, 0, o, scratch, g),
      ],
    ];

    // Warm-up, so that every kernel runs optimized code before the timing.
    for (const [, run] of phases) for (let i = 0; i < 20; i++) run();

    console.log(`\n${shape.rows}x${shape.classes} (${((n * 4) / 2 ** 20).toFixed(2)} MiB of logits)`);
    console.log("phase                          ms     ns/logit  GB/s (copies)");
    for (const [name, run] of phases) {
      const ms = time(run, samples);
      const gbps = name.startsWith("copy") ? ((n * 4) / (ms * 1e6)).toFixed(2) : "";
      console.log(`${name.padEnd(28)} ${ms.toFixed(3).padStart(7)}  ${((ms * 1e6) / n).toFixed(3).padStart(8)}  ${gbps}`);
    }
  }

  let text = "";
  try {
    text = readFileSync(KERNELS_TEXT, "utf8");
  } catch {
    console.log(`\n${KERNELS_TEXT} is missing; build packages/kernels to count instructions.`);
    return;
  }
  console.log("\ninstructions in the first loop of each function (per iteration)");
  for (const [name, floats] of [
    ["assembly/rows/f32_rmax", 8],
    ["assembly/rows/f32_raddstoreexpminusmax", 16],
    ["assembly/rows/f32_vscale", 4],
  ] as const) {
    const count = countLoopInstructions(text, name);
    if (count === null) continue;
    console.log(`${name}: ${count.all} instructions, ${count.simd} SIMD, for ${floats} floats`);
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  await main();
}
