/**
 * The real-data panel: per-position entropy and KL of one stories260K sequence, the summary
 * statistics, and the next-token distribution of one position at a chosen temperature.
 */
import type { LogitKit } from "logitkit";
import { IGNORE_INDEX, type RealData } from "../../src/real-data.js";
import { STAT_LABELS } from "../../src/report.js";
import { computeRealStats } from "../../src/stats.js";
import { drawGroupedColumns, drawLineChart } from "./charts.js";
import { byId } from "./dom.js";

/** Tokens shown in the distribution plot. */
const TOP_TOKENS = 20;

/**
 * KL values below this are shown as a bound. The float32 sums round each term to about 1e-7 of
 * its size, so smaller values carry no correct digit.
 */
const KL_RESOLUTION = 1e-6;

/**
 * Indices of the `count` largest values, largest first. The plot ranks tokens by logit, which
 * orders them as softmax(z / T) does at every T, and still ranks them where float32
 * probabilities underflow to 0.
 */
export function topIndices(values: Float32Array, count: number): number[] {
  return Array.from(values.keys())
    .sort((a, b) => values[b] - values[a] || a - b)
    .slice(0, count);
}

function showSummary(container: HTMLElement, kit: LogitKit, data: RealData): void {
  const stats = computeRealStats(kit, data);
  const table = document.createElement("table");
  table.id = "real-stats";
  table.className = "results";
  table.createCaption().textContent = `Whole data set: ${data.sequences} sequences of ${data.length} tokens, computed with the ${kit.backend} backend`;

  for (const [key, label, format] of STAT_LABELS) {
    const row = table.insertRow();
    row.dataset.statistic = key;
    const th = document.createElement("th");
    th.scope = "row";
    th.textContent = label;
    row.append(th);
    const td = row.insertCell();
    td.className = "num";
    td.textContent = format(stats[key]);
  }
  const scroll = document.createElement("div");
  scroll.className = "table-scroll";
  scroll.append(table);
  container.replaceChildren(scroll);
}

/** Sets up the panel, which computes with `kit` on the page's main thread. */
export function setUpRealPanel(kit: LogitKit, data: RealData): void {
  const { classes, length } = data;
  const sequenceSelect = byId<HTMLSelectElement>("sequence");
  const positionInput = byId<HTMLInputElement>("position");
  const temperatureInput = byId<HTMLInputElement>("temperature");

  for (let sequence = 0; sequence < data.sequences; sequence++) {
    sequenceSelect.add(new Option(`sequence ${sequence + 1} of ${data.sequences}`, String(sequence)));
  }
  positionInput.max = String(length - 1);
  showSummary(byId("real-summary"), kit, data);

  let entropies: Float32Array = new Float32Array(0);
  let divergences: Float32Array = new Float32Array(0);

  const sequenceRows = (logits: Float32Array, sequence: number) => logits.subarray(sequence * length * classes, (sequence + 1) * length * classes);

  const drawSequenceCharts = () => {
    const position = Number(positionInput.value);
    const temperature = Number(temperatureInput.value).toFixed(2);
    const select = (index: number) => {
      positionInput.value = String(index);
      update();
    };
    drawLineChart(byId("entropy-chart"), {
      title: `Teacher entropy per position at T = ${temperature} (nats)`,
      yLabel: "position in the sequence (click to select)",
      values: entropies,
      marker: position,
      onSelect: select,
    });
    drawLineChart(byId("kl-chart"), {
      title: `KL(teacher ‖ student) per position at T = ${temperature} (nats)`,
      yLabel: "position in the sequence (click to select)",
      values: divergences,
      marker: position,
      onSelect: select,
    });
  };

  const computeSequence = () => {
    const sequence = Number(sequenceSelect.value);
    const temperature = Number(temperatureInput.value);
    const teacher = sequenceRows(data.teacher, sequence);
    const student = sequenceRows(data.student, sequence);
    entropies = kit.entropyOfLogits(teacher, { classes, temperature, reduction: "none" });
    divergences = kit.klDivergence(teacher, student, { classes, temperature, reduction: "none" });
  };

  const drawDistribution = () => {
    const sequence = Number(sequenceSelect.value);
    const position = Number(positionInput.value);
    const temperature = Number(temperatureInput.value);
    const row = sequence * length + position;
    const teacherRow = data.teacher.subarray(row * classes, (row + 1) * classes);
    const studentRow = data.student.subarray(row * classes, (row + 1) * classes);

    const teacherProbs = kit.softmax(teacherRow, { classes, temperature });
    const studentProbs = kit.softmax(studentRow, { classes, temperature });
    const top = topIndices(teacherRow, TOP_TOKENS);
    const label = data.labels[row];

    byId("position-value").textContent = String(position);
    byId("temperature-value").textContent = temperature.toFixed(2);
    const entropy = entropies[position];
    const divergence = divergences[position];
    const divergenceText = divergence < KL_RESOLUTION ? `below ${KL_RESOLUTION} nats (float32 rounding level)` : `${divergence.toExponential(3)} nats`;
    const nextToken = label === IGNORE_INDEX ? "none (last position)" : `token ${label}, teacher probability ${teacherProbs[label].toPrecision(4)}`;
    const stats = byId("position-stats");
    stats.dataset.entropy = String(entropy);
    stats.dataset.divergence = String(divergence);
    stats.textContent =
      `Position ${position} at T = ${temperature.toFixed(2)}: teacher entropy ${entropy.toFixed(4)} nats, ` +
      `KL(teacher ‖ student) ${divergenceText}. Next token in the text: ${nextToken}.`;

    const chart = byId("dist-chart");
    chart.dataset.temperature = temperature.toFixed(2);
    drawGroupedColumns(
      chart,
      `softmax(z / ${temperature.toFixed(2)}) at position ${position}: the ${TOP_TOKENS} most probable tokens of the teacher`,
      top.map(String),
      [
        { name: "teacher", values: top.map((token) => teacherProbs[token]) },
        { name: "student (int8)", values: top.map((token) => studentProbs[token]) },
      ],
      top.indexOf(label),
    );
  };

  const update = () => {
    drawSequenceCharts();
    drawDistribution();
  };

  sequenceSelect.addEventListener("change", () => {
    computeSequence();
    update();
  });
  positionInput.addEventListener("input", update);
  temperatureInput.addEventListener("input", () => {
    computeSequence();
    update();
  });

  // The page opens at the position where the two models disagree most, which shows more than
  // a near-uniform distribution would.
  computeSequence();
  positionInput.value = String(divergences.indexOf(Math.max(...divergences)));
  update();
}
