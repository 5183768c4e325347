/**
 * The page: trains the student of distill.js, shows the loss after every chunk of steps and
 * plots it. When training ends it sets `data-done` on the body and leaves the run in
 * `window.distillation`, where a test can read it.
 */
import { loadLogitKit } from "logitkit";
import { createProblem, SETUP, studentLoss, trainStep } from "./distill.js";

/** Steps between two redraws: few enough that the loss visibly falls, many enough to finish quickly. */
const STEPS_PER_FRAME = 10;

/** Draws the losses on a log scale, step 0 at the left edge. */
function plot(canvas, losses, steps) {
  const context = canvas.getContext("2d");
  const { width, height } = canvas;
  context.clearRect(0, 0, width, height);

  const logs = losses.map(Math.log10);
  const top = Math.max(...logs);
  const bottom = Math.min(...logs);
  const span = top - bottom || 1;

  context.strokeStyle = "#1565c0";
  context.lineWidth = 2;
  context.beginPath();
  logs.forEach((value, step) => {
    const x = (step / (steps - 1)) * (width - 20) + 10;
    const y = 10 + ((top - value) / span) * (height - 20);
    if (step === 0) context.moveTo(x, y);
    else context.lineTo(x, y);
  });
  context.stroke();
}

async function run() {
  const kit = await loadLogitKit();
  const problem = createProblem(SETUP);
  const { samples, features, studentFeatures, classes, temperature, learningRate, steps } = SETUP;
  document.getElementById("setup").textContent =
    `${samples} samples, ${classes} classes. The teacher sees ${features} features and the student ` +
    `${studentFeatures}. Temperature ${temperature}, learning rate ${learningRate}, ${steps} steps ` +
    `of gradient descent, logitkit backend ${kit.backend}.`;
  document.getElementById("status").textContent = "Training…";

  const losses = [];
  while (losses.length < steps) {
    const end = Math.min(steps, losses.length + STEPS_PER_FRAME);
    while (losses.length < end) losses.push(trainStep(kit, problem));

    document.getElementById("step").textContent = String(losses.length);
    document.getElementById("loss").textContent = losses[losses.length - 1].toFixed(6);
    plot(document.getElementById("plot"), losses, steps);
    // Yields to the browser so that it paints the new loss before the next chunk.
    await new Promise((resolve) => setTimeout(resolve, 0));
  }

  const finalLoss = studentLoss(kit, problem);
  document.getElementById("status").textContent =
    `Done: the loss fell from ${losses[0].toFixed(4)} to ${finalLoss.toFixed(4)} nats.`;
  window.distillation = {
    setup: SETUP,
    backend: kit.backend,
    losses,
    finalLoss,
    x: Array.from(problem.x),
    teacherWeights: Array.from(problem.teacherWeights),
    studentWeights: Array.from(problem.studentWeights),
  };
}

run().then(
  () => (document.body.dataset.done = "true"),
  (error) => {
    document.getElementById("status").textContent = `Failed: ${error.message}`;
    window.distillation = { error: String(error.stack ?? error) };
    document.body.dataset.done = "true";
  },
);
