/**
 * Charts of the page, written as SVG by hand: horizontal grouped bars for the benchmark, a line
 * chart per position for the real logits, and grouped columns for a distribution. Colors come
 * from classes in style.css, because the page's Content-Security-Policy blocks inline styles.
 */

const SVG_NS = "http://www.w3.org/2000/svg";

type Attributes = Record<string, string | number>;

function svgElement<K extends keyof SVGElementTagNameMap>(name: K, attributes: Attributes = {}, text?: string): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG_NS, name);
  for (const [key, value] of Object.entries(attributes)) {
    element.setAttribute(key, String(value));
  }
  if (text !== undefined) element.textContent = text;
  return element;
}

/** Creates the root `<svg>` with an accessible name and a `<title>`, replacing the container's content. */
function chartRoot(container: HTMLElement, width: number, height: number, title: string): SVGSVGElement {
  const svg = svgElement("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-label": title });
  svg.append(svgElement("title", {}, title));
  container.replaceChildren(svg);
  return svg;
}

/** Returns about `count` round tick values from 0 to at least `max`. */
export function niceTicks(max: number, count = 5): number[] {
  if (!(max > 0) || !Number.isFinite(max)) return [0, 1];

  const rough = max / count;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * magnitude).find((s) => s >= rough) ?? 10 * magnitude;
  // The last tick is the first multiple of `step` at or above `max`, so every value fits.
  const ticks = [0];
  while (ticks[ticks.length - 1] < max) {
    ticks.push(Number((ticks.length * step).toPrecision(12)));
  }
  return ticks;
}

function formatTick(value: number): string {
  if (value === 0) return "0";
  if (Math.abs(value) >= 1000 || Math.abs(value) < 0.001) return value.toExponential(0);
  return String(Number(value.toPrecision(3)));
}

export interface BarGroup {
  label: string;
  bars: { series: string; value: number }[];
}

/** Draws one group of horizontal bars per label, one bar per series, with the value at the end of each bar. */
export function drawGroupedBars(container: HTMLElement, title: string, unit: string, groups: readonly BarGroup[], series: readonly string[]): void {
  const labelWidth = 230;
  const plotWidth = 520;
  const barHeight = 14;
  const groupGap = 10;
  const top = 34;
  const groupHeight = series.length * barHeight + groupGap;
  const height = top + groups.length * groupHeight + 30;
  const width = labelWidth + plotWidth + 90;
  const svg = chartRoot(container, width, height, title);

  const max = Math.max(0, ...groups.flatMap((group) => group.bars.map((bar) => bar.value)).filter(Number.isFinite));
  const ticks = niceTicks(max);
  const scale = plotWidth / ticks[ticks.length - 1];

  // Legend: one swatch per series, in the order of `series`.
  series.forEach((name, index) => {
    const x = labelWidth + index * 130;
    svg.append(svgElement("rect", { x, y: 6, width: 12, height: 12, class: `series-${index}` }));
    svg.append(svgElement("text", { x: x + 16, y: 16, class: "legend" }, name));
  });

  const axisY = top + groups.length * groupHeight;
  for (const tick of ticks) {
    const x = labelWidth + tick * scale;
    svg.append(svgElement("line", { x1: x, x2: x, y1: top - 4, y2: axisY, class: "grid" }));
    svg.append(svgElement("text", { x, y: axisY + 14, class: "tick", "text-anchor": "middle" }, formatTick(tick)));
  }
  svg.append(svgElement("text", { x: labelWidth + plotWidth / 2, y: axisY + 28, class: "axis-label", "text-anchor": "middle" }, unit));

  groups.forEach((group, groupIndex) => {
    const groupTop = top + groupIndex * groupHeight;
    svg.append(
      svgElement("text", { x: labelWidth - 8, y: groupTop + (series.length * barHeight) / 2 + 4, class: "label", "text-anchor": "end" }, group.label),
    );

    for (const bar of group.bars) {
      const seriesIndex = series.indexOf(bar.series);
      const y = groupTop + seriesIndex * barHeight;
      const barWidth = Number.isFinite(bar.value) ? Math.max(0, bar.value * scale) : 0;
      const rect = svgElement("rect", { x: labelWidth, y, width: barWidth, height: barHeight - 2, class: `series-${seriesIndex}` });
      rect.dataset.series = bar.series;
      rect.dataset.value = String(bar.value);
      rect.append(svgElement("title", {}, `${group.label}, ${bar.series}: ${bar.value.toFixed(1)} ${unit}`));
      svg.append(rect);
      svg.append(svgElement("text", { x: labelWidth + barWidth + 4, y: y + barHeight - 4, class: "value" }, bar.value.toFixed(1)));
    }
  });
}

export interface LineChartOptions {
  title: string;
  yLabel: string;
  values: ArrayLike<number>;
  /** Index drawn as a marker, such as the selected position. */
  marker: number;
  /** Called with the index nearest to a click. */
  onSelect?: (index: number) => void;
}

/** Draws `values` against their index as a line, with a marker at `marker`. */
export function drawLineChart(container: HTMLElement, options: LineChartOptions): void {
  const { values } = options;
  const left = 50;
  const right = 12;
  const top = 24;
  const plotHeight = 120;
  const width = 760;
  const height = top + plotHeight + 34;
  const plotWidth = width - left - right;
  const svg = chartRoot(container, width, height, options.title);

  const finite = Array.from(values).filter(Number.isFinite);
  const ticks = niceTicks(Math.max(0, ...finite), 4);
  const yMax = ticks[ticks.length - 1];
  const xOf = (index: number) => left + (values.length <= 1 ? 0 : (index / (values.length - 1)) * plotWidth);
  const yOf = (value: number) => top + plotHeight - (Math.max(0, value) / yMax) * plotHeight;

  svg.append(svgElement("text", { x: left, y: 14, class: "chart-title" }, options.title));
  for (const tick of ticks) {
    svg.append(svgElement("line", { x1: left, x2: width - right, y1: yOf(tick), y2: yOf(tick), class: "grid" }));
    svg.append(svgElement("text", { x: left - 6, y: yOf(tick) + 4, class: "tick", "text-anchor": "end" }, formatTick(tick)));
  }
  for (let index = 0; index < values.length; index += 16) {
    svg.append(svgElement("text", { x: xOf(index), y: top + plotHeight + 14, class: "tick", "text-anchor": "middle" }, String(index)));
  }
  svg.append(svgElement("text", { x: left + plotWidth / 2, y: height - 4, class: "axis-label", "text-anchor": "middle" }, options.yLabel));

  // Non-finite values break the line instead of drawing a spike.
  let path = "";
  let penDown = false;
  for (let index = 0; index < values.length; index++) {
    const value = values[index];
    if (!Number.isFinite(value)) {
      penDown = false;
      continue;
    }
    path += `${penDown ? "L" : "M"}${xOf(index).toFixed(1)},${yOf(value).toFixed(1)}`;
    penDown = true;
  }
  svg.append(svgElement("path", { d: path, class: "line" }));

  const markerValue = values[options.marker];
  if (Number.isFinite(markerValue)) {
    svg.append(svgElement("line", { x1: xOf(options.marker), x2: xOf(options.marker), y1: top, y2: top + plotHeight, class: "marker" }));
    svg.append(svgElement("circle", { cx: xOf(options.marker), cy: yOf(markerValue), r: 4, class: "marker-dot" }));
  }

  if (options.onSelect !== undefined) {
    const onSelect = options.onSelect;
    const hit = svgElement("rect", { x: left, y: top, width: plotWidth, height: plotHeight, class: "hit" });
    hit.addEventListener("click", (event) => {
      const box = svg.getBoundingClientRect();
      const x = ((event.clientX - box.left) / box.width) * width;
      const index = Math.round(((x - left) / plotWidth) * (values.length - 1));
      onSelect(Math.min(values.length - 1, Math.max(0, index)));
    });
    svg.append(hit);
  }
}

export interface ColumnSeries {
  name: string;
  values: readonly number[];
}

/**
 * Draws one group of vertical columns per category, one column per series, on an axis from 0 to
 * a round value at or above the largest. The label of category `highlight` is marked with `*`.
 */
export function drawGroupedColumns(
  container: HTMLElement,
  title: string,
  categories: readonly string[],
  series: readonly ColumnSeries[],
  highlight: number,
): void {
  const left = 50;
  const top = 30;
  const plotHeight = 200;
  const width = 760;
  const height = top + plotHeight + 44;
  const plotWidth = width - left - 12;
  const svg = chartRoot(container, width, height, title);

  const max = Math.max(0, ...series.flatMap((s) => s.values.filter(Number.isFinite)));
  const ticks = niceTicks(max, 4);
  const yMax = ticks[ticks.length - 1];
  const yOf = (value: number) => top + plotHeight - (value / yMax) * plotHeight;
  const slot = plotWidth / Math.max(1, categories.length);
  const columnWidth = (slot * 0.8) / Math.max(1, series.length);

  series.forEach((s, index) => {
    const x = left + index * 110;
    svg.append(svgElement("rect", { x, y: 6, width: 12, height: 12, class: `series-${index}` }));
    svg.append(svgElement("text", { x: x + 16, y: 16, class: "legend" }, s.name));
  });
  svg.append(svgElement("text", { x: left + 240, y: 16, class: "legend" }, "* next token in the text"));

  for (const tick of ticks) {
    svg.append(svgElement("line", { x1: left, x2: width - 12, y1: yOf(tick), y2: yOf(tick), class: "grid" }));
    svg.append(svgElement("text", { x: left - 6, y: yOf(tick) + 4, class: "tick", "text-anchor": "end" }, formatTick(tick)));
  }

  categories.forEach((category, categoryIndex) => {
    const slotLeft = left + categoryIndex * slot + slot * 0.1;
    series.forEach((s, seriesIndex) => {
      const value = s.values[categoryIndex];
      const y = yOf(Number.isFinite(value) ? value : 0);
      const rect = svgElement("rect", {
        x: slotLeft + seriesIndex * columnWidth,
        y,
        width: columnWidth - 1,
        height: top + plotHeight - y,
        class: `series-${seriesIndex}`,
      });
      rect.dataset.series = s.name;
      rect.dataset.category = category;
      rect.dataset.value = String(value);
      rect.append(svgElement("title", {}, `token ${category}, ${s.name}: ${value.toFixed(4)}`));
      svg.append(rect);
    });

    const label = categoryIndex === highlight ? `${category}*` : category;
    svg.append(
      svgElement("text", { x: slotLeft + slot * 0.4, y: top + plotHeight + 14, class: categoryIndex === highlight ? "tick highlight" : "tick", "text-anchor": "middle" }, label),
    );
  });
  svg.append(svgElement("text", { x: left + plotWidth / 2, y: height - 6, class: "axis-label", "text-anchor": "middle" }, "token id (20 most probable for the teacher)"));
}
