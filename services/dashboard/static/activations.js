// Activations: every layer's output for one test digit or a digit drawn here, computed by a serving worker
// (LenetService.inspect) and drawn as the seed draws them: map grids, strips and bar charts.
import {api, decode, el, showError} from "./common.js";
import {CONTRACT} from "./contract.js";
import {bars, classColors, digit, featureMap, legend, strip} from "./draw.js";

const {maps: MAPS, bars: BARS} = CONTRACT.layer_groups;   // drawn as map grids; with bars (the rest as strips)
const SPLIT = CONTRACT.default_split;             // the digits one picks by number
const [, SIDE] = CONTRACT.input.shape;           // MNIST's images are square
const BOX = SIDE - 8;                            // MNIST's digits fit a box this wide, centred by mass
const mapSize = (side) => Math.round(40 + side * 4 / 3);   // CSS pixels of one map by its side

export async function activationsView(root, query) {
  const {models} = await api("/models");
  const output = el("div", {id: "layers"});
  const pad = drawingPad();
  const picker = el("form", {class: "inline-form", id: "inspect-form", onsubmit: (e) => {
    e.preventDefault();
    const form = new FormData(e.target);
    run(output, {model_id: form.get("model"), index: Number(form.get("index")), split: SPLIT});
  }},
    el("label", {}, "model ", el("select", {name: "model", id: "model"}, models.map((m) => el("option", {
      value: m.id, text: `${m.name}/${m.version}${m.aliases.map((alias) => " @" + alias).join("")} ` +
                         `${m.id.slice(0, 8)} (test accuracy ${m.metrics.test_accuracy.toFixed(4)})`,
      selected: m.id === query.get("model")})))),
    el("label", {}, `${SPLIT} digit # `, el("input", {name: "index", id: "index", type: "number", min: 0,
                                                  max: CONTRACT.split_sizes[SPLIT] - 1,
                                                   value: query.get("index") || 0, class: "narrow"})),
    el("button", {type: "submit", text: "Inspect"}));
  const drawn = el("button", {type: "button", id: "inspect-drawing", text: "Inspect the drawing", onclick: () => {
    const image = pad.pixels();
    if (!image) { showError("Draw a digit first."); return; }
    run(output, {model_id: picker.querySelector("select").value, image});
  }});
  root.append(el("h2", {text: "Activations"}),
              models.length ? el("div", {class: "columns"},
                                 el("section", {}, el("h3", {text: "A test digit"}), picker),
                                 el("section", {}, el("h3", {text: "Or draw one"}), pad.element,
                                    el("div", {}, drawn, el("button", {type: "button", text: "Clear",
                                                                       onclick: pad.clear}))))
                            : el("p", {class: "muted", text: "No trained model yet."}),
              output);
  if (models.length && query.get("index") !== null) picker.requestSubmit();
}

async function run(output, request) {
  output.replaceChildren(el("p", {class: "muted", text: "Computing every layer on a serving worker…"}));
  try {
    const answer = await api("/inspect", {method: "POST", body: request});
    showLayers(output, answer);
  } catch (error) {
    output.replaceChildren();
    showError(error.message);
  }
}

function showLayers(output, answer) {
  const layers = Object.fromEntries(answer.layers.map((l) => [l.name, {...l, values: decode(l)}]));
  const probabilities = layers[CONTRACT.probability_layer]?.values;
  const predicted = probabilities ? probabilities.indexOf(Math.max(...probabilities)) : null;
  const label = answer.label;
  const verdict = label === null ? `predicted ${predicted}`
    : `label ${label}, predicted ${predicted}${predicted === label ? " (right)" : " (wrong)"}`;
  const toc = el("nav", {class: "layer-toc"}, answer.layers.map((l) => el("a", {href: `#layer-${l.name}`,
    text: l.name, onclick: (e) => { e.preventDefault(); output.querySelector(`#layer-${l.name}`).scrollIntoView(); }})));
  output.replaceChildren(
    el("div", {class: "title-row"}, digit(decode(answer.input), 112),
       el("div", {}, el("p", {class: "verdict", id: "verdict", text: verdict}),
          el("p", {class: "muted"}, "One colour rule per layer: a layer with any value < 0 ", legend(true),
             " blue < 0 < red, any other ", legend(false), " heat colours from 0; each map scaled to its own " +
             "largest |value|."),
          toc)),
    ...answer.layers.map((layer) => layerSection(layers[layer.name], label, predicted)));
}

function layerSection(layer, label, predicted) {
  const shape = layer.shape, values = layer.values;
  const section = el("section", {class: "layer", id: `layer-${layer.name}`, data: {layer: layer.name}},
                     el("h3", {}, layer.name, el("span", {class: "muted", text: `  ${shape.join("×")}, ` +
                       `values ${layer.min.toFixed(3)} … ${layer.max.toFixed(3)}`})));
  if (MAPS.includes(layer.name)) {
    const [c, h, w] = shape, size = mapSize(h);
    section.append(el("div", {class: "maps"}, Array.from({length: c}, (_, i) => el("figure", {class: "map-cell"},
      featureMap(values.subarray(i * h * w, (i + 1) * h * w), h, w, size, layer.min < 0), el("figcaption", {text: String(i)})))));
  } else {
    section.append(strip(values));
    if (BARS.includes(layer.name)) {
      section.append(bars(Array.from(values), {colors: classColors(values.length, label, predicted), width: 360,
                                               height: 150, max: layer.name === CONTRACT.probability_layer ? 1 : null}));
    }
  }
  return section;
}

// A canvas to draw a digit with the mouse or a finger, read as MNIST would have it: the strokes' box scaled to
// BOX×BOX and centred by its centre of mass in the input's SIDE×SIDE, white on black.
function drawingPad() {
  const canvas = el("canvas", {width: 280, height: 280, class: "pad", id: "pad"});
  const context = canvas.getContext("2d");
  let down = false, strokes = 0;
  const clear = () => { context.fillStyle = "#000"; context.fillRect(0, 0, 280, 280); strokes = 0; };
  const at = (e) => {
    const box = canvas.getBoundingClientRect();
    return [(e.clientX - box.left) * 280 / box.width, (e.clientY - box.top) * 280 / box.height];
  };
  canvas.addEventListener("pointerdown", (e) => {
    down = true;
    canvas.setPointerCapture(e.pointerId);
    context.beginPath();
    context.moveTo(...at(e));
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!down) return;
    Object.assign(context, {strokeStyle: "#fff", lineWidth: 20, lineCap: "round", lineJoin: "round"});
    context.lineTo(...at(e));
    context.stroke();
    strokes++;
  });
  canvas.addEventListener("pointerup", () => { down = false; });
  clear();
  return {element: canvas, clear, pixels: () => strokes ? mnistPixels(canvas) : null};
}

function mnistPixels(canvas) {
  const source = canvas.getContext("2d").getImageData(0, 0, 280, 280).data;
  let [x0, y0, x1, y1] = [280, 280, -1, -1];
  for (let y = 0; y < 280; y++) for (let x = 0; x < 280; x++) {
    if (source[4 * (y * 280 + x)] > 0) { x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y); }
  }
  if (x1 < 0) return null;
  const side = Math.max(x1 - x0, y1 - y0) + 1, fit = BOX / side;
  const small = document.createElement("canvas");
  small.width = small.height = SIDE;
  const context = small.getContext("2d");
  context.fillStyle = "#000";
  context.fillRect(0, 0, SIDE, SIDE);
  const w = (x1 - x0 + 1) * fit, h = (y1 - y0 + 1) * fit;
  context.drawImage(canvas, x0, y0, x1 - x0 + 1, y1 - y0 + 1, (SIDE - w) / 2, (SIDE - h) / 2, w, h);
  const scaled = context.getImageData(0, 0, SIDE, SIDE).data;
  let pixels = Uint8Array.from({length: SIDE * SIDE}, (_, i) => scaled[4 * i]);
  let mass = 0, cx = 0, cy = 0;
  pixels.forEach((v, i) => { mass += v; cx += v * (i % SIDE); cy += v * Math.floor(i / SIDE); });
  const middle = (SIDE - 1) / 2, dx = Math.round(middle - cx / mass), dy = Math.round(middle - cy / mass);
  pixels = Uint8Array.from({length: SIDE * SIDE}, (_, i) => {
    const x = i % SIDE - dx, y = Math.floor(i / SIDE) - dy;
    return x >= 0 && x < SIDE && y >= 0 && y < SIDE ? pixels[y * SIDE + x] : 0;
  });
  return btoa(String.fromCharCode(...pixels));
}
