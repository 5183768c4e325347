// Times softmax and crossEntropyWithGrad on float32, bf16 and f16 logits, and on 16-bit logits
// that the caller widens to float32 with a JavaScript loop first, on both backends. It prints the
// median time per call in ms. Run it after `pnpm build`:
//
//   node packages/logitkit/scripts/bench-half.mjs [samples]
import { loadLogitKit } from "../dist/index.js";

const SAMPLES = Number(process.argv[2] ?? 31);

/** Minimum duration of one sample in ms: faster calls are repeated within a sample. */
const MIN_SAMPLE_MS = 20;

const SHAPES = [
  [8, 50257],
  [64, 32000],
];

/** Returns float32 logits near N(0, 3) from a fixed linear congruential sequence. */
function logitsOf(length) {
  const values = new Float32Array(length);
  let state = 12345;
  for (let i = 0; i < length; i++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    values[i] = ((state / 4294967296) - 0.5) * 10;
  }
  return values;
}

/** Returns the bfloat16 and binary16 bits of `values`, both truncated (values near 0 become zeros). */
function halvesOf(values) {
  const words = new Uint32Array(values.buffer);
  const bf16 = new Uint16Array(values.length);
  const f16 = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    bf16[i] = words[i] >>> 16;

    // |values| < 5 is below the binary16 maximum, so the top 10 mantissa bits and a rebiased exponent suffice.
    const word = words[i];
    const exponent = ((word >>> 23) & 0xff) - 127 + 15;
    f16[i] = exponent <= 0 ? (word >>> 16) & 0x8000 : ((word >>> 16) & 0x8000) | (exponent << 10) | ((word >>> 13) & 0x3ff);
  }
  return { bf16, f16 };
}

/** Widens bfloat16 bits to float32 the way a caller without 16-bit support would. */
function widenBf16(bits, out) {
  const words = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) words[i] = bits[i] << 16;
  return out;
}

/** Returns the number of calls of `run` that take at least MIN_SAMPLE_MS, after a warm-up. */
function callsPerSample(run) {
  for (let i = 0; i < 5; i++) run();
  let calls = 1;
  for (;;) {
    const start = performance.now();
    for (let i = 0; i < calls; i++) run();
    if (performance.now() - start >= MIN_SAMPLE_MS) return calls;
    calls *= 2;
  }
}

/**
 * Returns the median time per call of each function of `runs` in ms. The samples alternate
 * between the functions, so that changes in the machine's load hit each of them alike.
 */
function time(runs) {
  const calls = runs.map(callsPerSample);
  const perCall = runs.map(() => []);
  for (let s = 0; s < SAMPLES; s++) {
    for (let k = 0; k < runs.length; k++) {
      const start = performance.now();
      for (let i = 0; i < calls[k]; i++) runs[k]();
      perCall[k].push((performance.now() - start) / calls[k]);
    }
  }
  return perCall.map((times) => times.sort((a, b) => a - b)[Math.floor(times.length / 2)]);
}

const rowsOut = [];
for (const backend of ["wasm", "js"]) {
  const kit = await loadLogitKit({ backend });
  for (const [rows, classes] of SHAPES) {
    const z = logitsOf(rows * classes);
    const { bf16, f16 } = halvesOf(z);
    const labels = Int32Array.from({ length: rows }, (_, r) => (r * 7919) % classes);
    const scratch = new Float32Array(z.length);
    const operations = {
      softmax: (logits, dtype) => kit.softmax(logits, { classes, dtype }),
      crossEntropyWithGrad: (logits, dtype) => kit.crossEntropyWithGrad(logits, labels, { classes, dtype }),
    };
    for (const [name, op] of Object.entries(operations)) {
      const [f32Ms, bf16Ms, f16Ms, widenedMs] = time([
        () => op(z, "f32"),
        () => op(bf16, "bf16"),
        () => op(f16, "f16"),
        () => op(widenBf16(bf16, scratch), "f32"),
      ]);
      rowsOut.push({ backend, shape: `${rows} x ${classes}`, op: name, f32: f32Ms, bf16: bf16Ms, f16: f16Ms, bf16WidenedFirst: widenedMs });
    }
  }
}

const format = (ms) => ms.toFixed(2);
console.log("| backend | shape | operation | f32 | bf16 | f16 | bf16 widened by the caller first |");
console.log("| --- | --- | --- | ---: | ---: | ---: | ---: |");
for (const r of rowsOut) {
  console.log(`| ${r.backend} | ${r.shape} | \`${r.op}\` | ${format(r.f32)} | ${format(r.bf16)} | ${format(r.f16)} | ${format(r.bf16WidenedFirst)} |`);
}
