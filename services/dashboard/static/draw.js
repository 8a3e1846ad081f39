// Pictures drawn in the browser: digits, feature maps, strips, bar charts, line charts and the network graph.
// The colours and their meanings are the contract's, as the report's (clients/plots.py): signed layers (any value
// < 0) on a blue–white–red scale centred on 0, each map scaled to its own largest |value|; non-negative layers on
// R's heat.colors; the true class, a wrong prediction and the other classes each their own colour.
import {CONTRACT} from "./contract.js";

const {true: TRUE_COLOR, predicted: PRED_COLOR, other: BAR_COLOR} = CONTRACT.colors;
export const {train: TRAIN_COLOR, batch: BATCH_COLOR, test: TEST_COLOR} = CONTRACT.colors;
const DIVERGING = CONTRACT.signed_colors.map(rgb);
const HEAT = CONTRACT.heat_colors.map(rgb);
const COUNTS = CONTRACT.count_colors.map(rgb);
const [, HEIGHT, WIDTH] = CONTRACT.input.shape;
const SVG = "http://www.w3.org/2000/svg";

function rgb(hex) {
  return [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
}

function ramp(colors, t) {
  const x = Math.min(Math.max(t, 0), 1) * (colors.length - 1);
  const i = Math.min(Math.floor(x), colors.length - 2), f = x - i;
  return colors[i].map((c, k) => Math.round(c + (colors[i + 1][k] - c) * f));
}

// A colour function for one map or strip, scaled to its own values: diverging around 0 when `signed` (its layer
// has a value < 0: one rule for every map of a layer), else heat from 0.
function scaleFor(values, signed) {
  let low = Infinity, high = -Infinity;
  for (const v of values) { if (v < low) low = v; if (v > high) high = v; }
  if (signed) {
    const m = Math.max(-low, high) || 1;
    return {signed: true, low: -m, high: m, color: (v) => ramp(DIVERGING, (v / m + 1) / 2)};
  }
  const m = high || 1;
  return {signed: false, low: 0, high: m, color: (v) => ramp(HEAT, v / m)};
}

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const child of children) node.append(child);
  return node;
}

function paint(canvas, width, height, colorAt) {
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext("2d");
  const image = context.createImageData(width, height);
  for (let i = 0; i < width * height; i++) {
    const [r, g, b] = colorAt(i);
    image.data.set([r, g, b, 255], 4 * i);
  }
  context.putImageData(image, 0, 0);
  return canvas;
}

// An MNIST digit (the input's uint8 pixels, white on black) drawn dark on light as the seed's show_digit.
export function digit(pixels, size = 84) {
  const canvas = paint(document.createElement("canvas"), WIDTH, HEIGHT, (i) => {
    const v = 255 - pixels[i];
    return [v, v, v];
  });
  canvas.className = "digit";
  canvas.style.width = canvas.style.height = `${size}px`;
  return canvas;
}

// One feature map (h×w values) of a layer that is `signed` or not, scaled on its own.
export function featureMap(values, h, w, size, signed) {
  const scale = scaleFor(values, signed);
  const canvas = paint(document.createElement("canvas"), w, h, (i) => scale.color(values[i]));
  canvas.className = "map";
  canvas.style.width = `${size}px`;
  canvas.style.height = `${Math.round(size * h / w)}px`;
  canvas.dataset.signed = scale.signed;
  return canvas;
}

// A 1-D layer as a heat strip over unit index, scaled on its own.
export function strip(values) {
  const scale = scaleFor(values, values.some((v) => v < 0));
  const canvas = paint(document.createElement("canvas"), values.length, 1, (i) => scale.color(values[i]));
  canvas.className = "strip";
  canvas.dataset.signed = scale.signed;
  return canvas;
}

// The colours a bar chart of class outputs uses: the true class green, a wrong prediction red, the rest grey.
export function classColors(n, trueClass, predicted) {
  return Array.from({length: n}, (_, k) => k === trueClass ? TRUE_COLOR
    : k === predicted && predicted !== trueClass ? PRED_COLOR : BAR_COLOR);
}

// A bar chart of one vector (class probabilities or outputs); signed values get a zero line.
export function bars(values, {colors, width = 260, height = 120, max = null, labels = null} = {}) {
  const n = values.length, pad = {left: 30, right: 6, top: 8, bottom: 18};
  const top = max ?? Math.max(...values, 0), bottom = Math.min(...values, 0);
  const span = top - bottom || 1, plotH = height - pad.top - pad.bottom, step = (width - pad.left - pad.right) / n;
  const y = (v) => pad.top + (top - v) / span * plotH;
  const chart = svg("svg", {viewBox: `0 0 ${width} ${height}`, width, height, class: "bars", role: "img"});
  chart.append(svg("line", {x1: pad.left, x2: width - pad.right, y1: y(0), y2: y(0), class: "axis"}));
  for (const tick of [bottom, top].filter((t, i, all) => all.indexOf(t) === i)) {
    chart.append(svg("text", {x: pad.left - 4, y: y(tick) + 4, class: "tick", "text-anchor": "end"},
                     formatTick(tick)));
  }
  values.forEach((v, k) => {
    const x = pad.left + k * step + step * 0.12;
    chart.append(svg("rect", {x, width: step * 0.76, y: Math.min(y(v), y(0)), height: Math.abs(y(v) - y(0)),
                              fill: (colors || [])[k] || BAR_COLOR, "data-class": k}));
    chart.append(svg("text", {x: x + step * 0.38, y: height - 5, class: "tick", "text-anchor": "middle"},
                     labels ? labels[k] : String(k)));
  });
  return chart;
}

function formatTick(v) {
  return Number.isInteger(v) || Math.abs(v) >= 10 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(1) : v.toFixed(2);
}

// A line chart: series {name, color, points [[x, y] or null, a break in the line], markers}; x and y ranges from the data unless given.
export function lineChart(series, {width = 640, height = 260, xLabel = "", yLabel = "", yRange = null,
                                   xRange = null} = {}) {
  const pad = {left: 48, right: 12, top: 12, bottom: 36};
  const all = series.flatMap((s) => s.points).filter((p) => p !== null);
  const xs = all.map((p) => p[0]), ys = all.map((p) => p[1]);
  const [x0, x1] = xRange || [Math.min(0, ...xs), Math.max(1, ...xs)];
  const [y0, y1] = yRange || [Math.min(...ys, 0), Math.max(...ys, 1)];
  const X = (x) => pad.left + (x - x0) / (x1 - x0 || 1) * (width - pad.left - pad.right);
  const Y = (y) => pad.top + (y1 - y) / (y1 - y0 || 1) * (height - pad.top - pad.bottom);
  const chart = svg("svg", {viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img"});
  for (const t of niceTicks(y0, y1, 5)) {
    chart.append(svg("line", {x1: pad.left, x2: width - pad.right, y1: Y(t), y2: Y(t), class: "grid"}));
    chart.append(svg("text", {x: pad.left - 6, y: Y(t) + 4, class: "tick", "text-anchor": "end"}, t.toFixed(1)));
  }
  for (const t of niceTicks(x0, x1, 8).filter(Number.isInteger)) {
    chart.append(svg("text", {x: X(t), y: height - 20, class: "tick", "text-anchor": "middle"}, String(t)));
  }
  chart.append(svg("text", {x: (pad.left + width - pad.right) / 2, y: height - 4, class: "label",
                            "text-anchor": "middle"}, xLabel));
  chart.append(svg("text", {x: 12, y: (pad.top + height - pad.bottom) / 2, class: "label", "text-anchor": "middle",
                            transform: `rotate(-90 12 ${(pad.top + height - pad.bottom) / 2})`}, yLabel));
  for (const s of series) {
    if (!s.points.length) continue;
    // a null point breaks the line: what follows starts a new piece
    const d = s.points.map((p, i) => p === null ? "" : `${i && s.points[i - 1] !== null ? "L" : "M"}` +
                                                      `${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join("");
    const points = s.points.filter((p) => p !== null);
    chart.append(svg("path", {d, fill: "none", stroke: s.color, "stroke-width": s.markers ? 2 : 1.4,
                              class: `series series-${s.name}`, "data-points": points.length}));
    if (s.markers) {
      for (const p of points) chart.append(svg("circle", {cx: X(p[0]), cy: Y(p[1]), r: 4, fill: s.color}));
    }
  }
  return chart;
}

function niceTicks(low, high, count) {
  const span = high - low || 1, raw = span / count, power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw);
  const ticks = [];
  for (let t = Math.ceil(low / step) * step; t <= high + step * 1e-9; t += step) ticks.push(+t.toFixed(10));
  return ticks;
}

// The network as the seed's graph.viz draws it, left to right: one node per layer, coloured by operator,
// with its output shape and parameter count under it; wraps onto a second row.
export function networkGraph(layers, perRow = 7) {
  const input = CONTRACT.input.name;
  const nodes = [{name: input, op: input, attributes: "", output_shape: CONTRACT.input.shape, parameter_count: 0},
                 ...layers];
  const w = 118, h = 64, gap = 34, rowH = 132, rows = Math.ceil(nodes.length / perRow);
  const width = perRow * (w + gap) + 20, height = rows * rowH + 10;
  const chart = svg("svg", {viewBox: `0 0 ${width} ${height}`, class: "graph", role: "img"});
  const defs = svg("defs", {}, svg("marker", {id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5,
                                              markerWidth: 7, markerHeight: 7, orient: "auto"},
                                   svg("path", {d: "M0,0L10,5L0,10z", fill: "#333"})));
  chart.append(defs);
  const place = (i) => [10 + (i % perRow) * (w + gap), 10 + Math.floor(i / perRow) * rowH];
  nodes.forEach((node, i) => {
    const [x, y] = place(i), round = CONTRACT.round_operators.includes(node.op);
    const shape = round ? svg("ellipse", {cx: x + w / 2, cy: y + h / 2, rx: w / 2, ry: h / 2})
                        : svg("rect", {x, y, width: w, height: h, rx: 6});
    shape.setAttribute("fill", CONTRACT.operator_colors[node.op] || "#ddd");
    shape.setAttribute("class", "node");
    chart.append(shape);
    const lines = [[node.op === input ? "input" : node.op, "op"], [node.name, "name"], [node.attributes, "attr"]];
    lines.forEach(([text, cls], k) => chart.append(svg("text", {x: x + w / 2, y: y + 18 + k * 16,
                                                                 class: `node-${cls}`, "text-anchor": "middle"},
                                                         text)));
    chart.append(svg("text", {x: x + w / 2, y: y + h + 16, class: "node-shape", "text-anchor": "middle"},
                     node.output_shape.join("×")));
    if (node.parameter_count) {
      chart.append(svg("text", {x: x + w / 2, y: y + h + 30, class: "node-params", "text-anchor": "middle"},
                       `${Number(node.parameter_count).toLocaleString("en")} params`));
    }
    if (i) {
      const [px, py] = place(i - 1);
      const d = py === y ? `M${px + w},${y + h / 2}L${x},${y + h / 2}`
        : `M${px + w},${py + h / 2}L${px + w + gap / 2},${py + h / 2}L${px + w + gap / 2},${py + h + 40}` +
          `L${x + w / 2},${py + h + 40}L${x + w / 2},${y}`;
      chart.append(svg("path", {d, fill: "none", stroke: "#333", "stroke-width": 1.4, "marker-end": "url(#arrow)"}));
    }
  });
  return chart;
}

// The colour of a confusion-matrix count and of its text: the contract's count scale, logarithmic, as the report's
// heat map.
export function countColor(count, max) {
  const t = count > 0 ? Math.log1p(count) / Math.log1p(max || 1) : 0;
  const text = CONTRACT.count_text;
  return {background: `rgb(${ramp(COUNTS, t).join(",")})`,
          text: t > text.dark_from ? text.light : count ? text.dark : text.zero};
}

// A colour legend for the feature maps: the diverging scale with its meaning.
export function legend(signed) {
  const canvas = paint(document.createElement("canvas"), 100, 1,
                       (i) => signed ? ramp(DIVERGING, i / 99) : ramp(HEAT, i / 99));
  canvas.className = "legend-ramp";
  return canvas;
}

// A scatter plot: points {x, y, color, hollow, title}; the x axis on a log scale when `log`.
export function scatter(points, {width = 300, height = 200, xLabel = "", yLabel = "", log = false,
                                 yRange = null} = {}) {
  const pad = {left: 44, right: 10, top: 10, bottom: 34};
  const tx = (x) => log ? Math.log10(x) : x;
  const xs = points.map((p) => tx(p.x)), ys = points.map((p) => p.y);
  let [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  if (x0 === x1) { x0 -= 0.5; x1 += 0.5; }
  const [y0, y1] = yRange || [Math.min(...ys, 0), Math.max(...ys, 1)];
  const X = (x) => pad.left + (tx(x) - x0) / (x1 - x0) * (width - pad.left - pad.right);
  const Y = (y) => pad.top + (y1 - y) / (y1 - y0 || 1) * (height - pad.top - pad.bottom);
  const chart = svg("svg", {viewBox: `0 0 ${width} ${height}`, class: "chart scatter", role: "img"});
  for (const t of niceTicks(y0, y1, 4)) {
    chart.append(svg("line", {x1: pad.left, x2: width - pad.right, y1: Y(t), y2: Y(t), class: "grid"}));
    chart.append(svg("text", {x: pad.left - 6, y: Y(t) + 4, class: "tick", "text-anchor": "end"}, t.toFixed(1)));
  }
  for (const t of niceTicks(x0, x1, 4)) {
    const value = log ? 10 ** t : t;
    chart.append(svg("text", {x: X(value), y: height - 20, class: "tick", "text-anchor": "middle"},
                     Number(value.toPrecision(3)).toString()));
  }
  chart.append(svg("text", {x: (pad.left + width - pad.right) / 2, y: height - 4, class: "label",
                            "text-anchor": "middle"}, xLabel + (log ? " (log)" : "")));
  chart.append(svg("text", {x: 12, y: (pad.top + height - pad.bottom) / 2, class: "label", "text-anchor": "middle",
                            transform: `rotate(-90 12 ${(pad.top + height - pad.bottom) / 2})`}, yLabel));
  for (const p of points) {
    chart.append(svg("circle", {cx: X(p.x), cy: Y(p.y), r: 4.5, fill: p.hollow ? "none" : p.color, stroke: p.color,
                                "stroke-width": 1.5, class: "point"}, svg("title", {}, p.title || "")));
  }
  return chart;
}
