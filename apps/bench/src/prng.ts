/**
 * Seeded pseudo-random numbers for the synthetic logits, so that every run of the benchmark
 * times the same inputs.
 */

/** Generator of uniform numbers in [0, 1). */
export type UniformRandom = () => number;

/**
 * Creates a mulberry32 generator: 32 bits of state, period 2^32, uniform output in [0, 1)
 * with a resolution of 2^-32. Fast and good enough for test data, not for cryptography.
 */
export function mulberry32(seed: number): UniformRandom {
  let state = seed >>> 0;

  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = state;
    mixed = Math.imul(mixed ^ (mixed >>> 15), mixed | 1);
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Fills `target` with normal samples of mean `mean` and standard deviation `std`, drawn with
 * the Box-Muller transform (two uniforms give two independent standard normals).
 */
export function fillNormal(target: Float32Array, random: UniformRandom, std = 1, mean = 0): Float32Array {
  for (let i = 0; i < target.length; i += 2) {
    // 1 - u lies in (0, 1], so the logarithm stays finite.
    const radius = Math.sqrt(-2 * Math.log(1 - random()));
    const angle = 2 * Math.PI * random();

    target[i] = mean + std * radius * Math.cos(angle);
    if (i + 1 < target.length) {
      target[i + 1] = mean + std * radius * Math.sin(angle);
    }
  }
  return target;
}

/** Returns `rows x classes` normal logits of standard deviation `std`, row-major. */
export function randomLogits(rows: number, classes: number, random: UniformRandom, std: number): Float32Array {
  return fillNormal(new Float32Array(rows * classes), random, std);
}

/** Returns `rows` class labels drawn uniformly from [0, classes). */
export function randomLabels(rows: number, classes: number, random: UniformRandom): Int32Array {
  const labels = new Int32Array(rows);
  for (let i = 0; i < rows; i++) {
    labels[i] = Math.min(classes - 1, Math.floor(random() * classes));
  }
  return labels;
}
