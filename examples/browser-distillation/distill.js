/**
 * Distillation of a linear softmax model. A fixed teacher W_t maps all features x to logits
 * x W_t. The student W_s gets only x', the first `studentFeatures` of them. It starts at zero
 * and learns the teacher's tempered distribution from the distillation loss
 * T² KL(softmax(x W_t / T) ‖ softmax(x' W_s / T)) by full-batch gradient descent. The hidden
 * features keep the loss above 0, as for a student smaller than its teacher.
 */

/** Sizes and hyperparameters of the toy problem. */
export const SETUP = {
  samples: 256,
  features: 8,
  studentFeatures: 6,
  classes: 6,
  temperature: 2,
  learningRate: 0.5,
  steps: 200,
  seed: 7,
};

/** Returns a generator of standard normal numbers from a 32-bit seed (mulberry32 and Box-Muller). */
function normalGenerator(seed) {
  let state = seed >>> 0;
  const uniform = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}

/**
 * Returns x W in float32, for x of shape [rows, stride] of which the first `inner` columns are
 * used and W of shape [inner, columns], both row-major.
 */
export function matMul(x, weights, rows, stride, inner, columns) {
  const out = new Float32Array(rows * columns);
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < inner; k++) {
      const xk = x[r * stride + k];
      for (let c = 0; c < columns; c++) out[r * columns + c] += xk * weights[k * columns + c];
    }
  }
  return out;
}

/** Creates the data set, the teacher's weights and logits, and a student at zero. */
export function createProblem(setup = SETUP) {
  const normal = normalGenerator(setup.seed);
  const x = Float32Array.from({ length: setup.samples * setup.features }, normal);
  const teacherWeights = Float32Array.from({ length: setup.features * setup.classes }, () => 1.5 * normal());
  const teacherLogits = matMul(x, teacherWeights, setup.samples, setup.features, setup.features, setup.classes);
  const studentWeights = new Float32Array(setup.studentFeatures * setup.classes);
  return { setup, x, teacherWeights, teacherLogits, studentWeights };
}

/** Returns the student's logits, shape [samples, classes]. */
export function studentLogitsOf(problem) {
  const { setup, x, studentWeights } = problem;
  return matMul(x, studentWeights, setup.samples, setup.features, setup.studentFeatures, setup.classes);
}

/** Returns the distillation loss of the current student, without a gradient. */
export function studentLoss(kit, problem) {
  const { setup, teacherLogits } = problem;
  const studentLogits = studentLogitsOf(problem);
  return kit.distillationLoss(studentLogits, teacherLogits, { classes: setup.classes, temperature: setup.temperature });
}

/**
 * Takes one gradient-descent step on the student's weights and returns the loss before it.
 * logitkit returns dL/dlogits, already divided by the number of rows, and the chain rule gives
 * dL/dW_s = xᵀ dL/dlogits.
 */
export function trainStep(kit, problem) {
  const { setup, x, teacherLogits, studentWeights } = problem;
  const studentLogits = studentLogitsOf(problem);
  const { loss, grad } = kit.distillationLossWithGrad(studentLogits, teacherLogits, {
    classes: setup.classes,
    temperature: setup.temperature,
  });

  for (let r = 0; r < setup.samples; r++) {
    for (let k = 0; k < setup.studentFeatures; k++) {
      const step = setup.learningRate * x[r * setup.features + k];
      for (let c = 0; c < setup.classes; c++) {
        studentWeights[k * setup.classes + c] -= step * grad[r * setup.classes + c];
      }
    }
  }
  return loss;
}
