#!/usr/bin/env node
// Measures the error of the kernels' exp and log in float32 ulp against Math.exp / Math.log
// (float64), over every float32 of the domain, or every `--step`-th one.
//
//   node tools/ulp.mjs                 both functions, every float32 (about 18 minutes)
//   node tools/ulp.mjs --fn exp --step 101
//   node tools/ulp.mjs --check         sampled sweep plus special values; exits 1 past the bounds
//
// exp's domain is [-87.33654, 0], the range softmax feeds it (larger inputs are not used).
// log's domain is every positive float32, subnormals included.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

// Bounds that --check enforces: the measured maxima (see README.md) with a small margin.
const MAX_ULP = { exp: 2.5, log: 2.5 };

const args = process.argv.slice(2);
const check = args.includes("--check");
const fnIndex = args.indexOf("--fn");
const stepIndex = args.indexOf("--step");
const functions = fnIndex >= 0 ? [args[fnIndex + 1]] : ["exp", "log"];
let step = check ? 97 : 1;
if (stepIndex >= 0) step = Number(args[stepIndex + 1]);
if (!functions.every((f) => f === "exp" || f === "log") || !Number.isInteger(step) || step < 1) {
  console.error("usage: node tools/ulp.mjs [--fn exp|log] [--step N (integer >= 1)] [--check]");
  process.exit(2);
}

const wasmPath = join(dirname(fileURLToPath(import.meta.url)), "../build/logitkit.wasm");
const { instance } = await WebAssembly.instantiate(readFileSync(wasmPath), { env: { abort() {} } });
const kernels = instance.exports;

const BATCH = 1 << 20;
const base = (kernels.heap_base() + 15) & ~15;
kernels.memory.grow(Math.ceil((base + 8 * BATCH) / 65536));
const input = new Float32Array(kernels.memory.buffer, base, BATCH);
const inputBits = new Uint32Array(kernels.memory.buffer, base, BATCH);
const output = new Float32Array(kernels.memory.buffer, base + 4 * BATCH, BATCH);
const kernel = { exp: kernels.f32_vexp_rr2_p5, log: kernels.f32_vlog };
const reference = { exp: Math.exp, log: Math.log };

/** Size of one float32 ulp at the magnitude of `value` (a float64). */
function ulpOf(value) {
  const exponent = Math.max(Math.floor(Math.log2(Math.abs(Math.fround(value)))), -126);
  return 2 ** (exponent - 23);
}

/** Sweeps the bit patterns [first, last] in steps; returns the worst error and where. */
function sweep(name, first, last) {
  let worst = 0;
  let worstInput = NaN;
  let count = 0;
  for (let start = first; start <= last; start += BATCH * step) {
    let n = 0;
    for (let bits = start; n < BATCH && bits <= last; bits += step) inputBits[n++] = bits;
    kernel[name](base, base + 4 * BATCH, n);
    for (let i = 0; i < n; i++) {
      const exact = reference[name](input[i]);
      if (exact === 0 || !Number.isFinite(exact)) continue;
      const error = Math.abs(output[i] - exact) / ulpOf(exact);
      if (!(error <= worst)) {
        worst = error;
        worstInput = input[i];
      }
    }
    count += n;
  }
  return { worst, worstInput, count };
}

/** Runs the kernel on a few values and returns the outputs. */
function evaluate(name, values) {
  input.set(values);
  kernel[name](base, base + 4 * BATCH, values.length);
  return Array.from(output.subarray(0, values.length));
}

let failed = false;
for (const name of functions) {
  // exp: -0 (0x80000000) up to -87.33654 (0xC2AEAC50); log: the smallest subnormal up to the largest float.
  const [first, last] = name === "exp" ? [0x80000000, 0xc2aeac50] : [0x00000001, 0x7f7fffff];
  const started = performance.now();
  const { worst, worstInput, count } = sweep(name, first, last);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`${name}: max error ${worst.toFixed(3)} ulp at x = ${worstInput} over ${count} float32 values (${seconds} s)`);
  if (worst > MAX_ULP[name]) {
    console.error(`${name}: error ${worst.toFixed(3)} ulp exceeds the bound ${MAX_ULP[name]}`);
    failed = true;
  }
}

// Special values, in the form the kernels promise them.
const specials = [
  ["exp(-Infinity) = 0", evaluate("exp", [-Infinity])[0] === 0],
  ["exp(-100) = 0 (below the underflow cutoff)", evaluate("exp", [-100])[0] === 0],
  ["exp(NaN) = NaN", Number.isNaN(evaluate("exp", [NaN])[0])],
  ["exp(0) = 1", evaluate("exp", [0])[0] === 1],
  ["log(0) = -Infinity", evaluate("log", [0])[0] === -Infinity],
  ["log(-1) = NaN", Number.isNaN(evaluate("log", [-1])[0])],
  ["log(Infinity) = Infinity", evaluate("log", [Infinity])[0] === Infinity],
  ["log(NaN) = NaN", Number.isNaN(evaluate("log", [NaN])[0])],
  ["log(1) = 0", evaluate("log", [1])[0] === 0],
];
for (const [description, ok] of specials) {
  if (!ok) {
    console.error(`special value failed: ${description}`);
    failed = true;
  }
}
console.log(`special values: ${specials.filter(([, ok]) => ok).length} passed, ${specials.filter(([, ok]) => !ok).length} failed`);
process.exit(failed ? 1 : 0);
