// Evaluations: the list of evaluation jobs (live), and one evaluation: the confusion matrix as a clickable heat
// map, caret's overall and by-class statistics, and the misclassified digits of a cell with their probabilities.
import {api, decode, el, fixed, listen, short, stateBadge, table, when} from "./common.js";
import {CONTRACT} from "./contract.js";
import {bars, classColors, countColor, digit} from "./draw.js";

const SHOWN = 60;   // digits drawn for one cell
const PIXELS = CONTRACT.input.shape.reduce((a, b) => a * b);   // of one image

export function evaluationsView(root) {
  const evaluations = table(["job", "state", "model", "images", "accuracy", "created"], [],
                           {class: "evaluations"});
  const body = evaluations.tBodies[0];
  const note = el("p", {class: "muted"});
  root.append(el("h2", {text: "Evaluations"}),
              el("p", {class: "muted", text: "Start one from a model's page; evaluation jobs run on the serve lane."}),
              evaluations, note);
  listen(`/jobs/stream?kind=${CONTRACT.evaluate_kind}`, {
    jobs(page) {
      note.textContent = page.jobs.length ? "" : "No evaluation yet.";
      body.replaceChildren(...page.jobs.map((job) => {
        const done = job.state === CONTRACT.succeeded_state;
        const target = done ? `#/evaluations/${job.id}` : `#/jobs/${job.id}`;
        return el("tr", {class: "clickable", data: {job: job.id}, onclick: () => { location.hash = target; }},
                  el("td", {}, el("a", {href: target, class: "mono", text: short(job.id)})),
                  el("td", {}, stateBadge(job.state)),
                  el("td", {}, el("a", {href: `#/models/${job.model_id}`, class: "mono", text: short(job.model_id)})),
                  el("td", {class: "n", text: Number(job.evaluation.dataset.size).toLocaleString("en")}),
                  el("td", {class: "n", text: done ? fixed(job.accuracy) : ""}),
                  el("td", {text: when(job.created_at)}));
      }));
    },
  });
}

export async function evaluationView(root, id) {
  const result = await api(`/evaluations/${id}`);
  const k = result.labels.length;
  const max = Math.max(...result.matrix.flat());
  const worst = new Set(result.worst.map(([p, r]) => `${p},${r}`));
  const cellIndices = new Map(result.errors.map((c) => [`${c.prediction},${c.reference}`, c.indices]));
  const panel = el("section", {class: "cell-panel", id: "cell-panel"},
                   el("p", {class: "muted", text: "Click a cell of the matrix to see its digits."}));

  const heat = el("table", {class: "confusion", id: "confusion"},
    el("thead", {}, el("tr", {}, el("th"), el("th", {colspan: k, class: "axis-name", text: "Reference (true class)"})),
       el("tr", {}, el("th", {class: "axis-name", text: "Prediction"}),
          result.labels.map((label) => el("th", {scope: "col", text: label})))),
    el("tbody", {}, result.matrix.map((row, p) => el("tr", {}, el("th", {scope: "row", text: result.labels[p]}),
      row.map((count, r) => {
        const {background, text} = countColor(count, max);
        const cell = el("td", {class: `count${worst.has(`${p},${r}`) ? " worst" : ""}${p === r ? " diagonal" : ""}`,
                               tabindex: 0, role: "button", data: {prediction: p, reference: r, count},
                               title: `reference ${result.labels[r]}, predicted ${result.labels[p]}: ${count}`,
                               onclick: () => showCell(p, r, count), text: String(count)});
        cell.style.background = background;
        cell.style.color = text;
        cell.addEventListener("keydown", (e) => { if (e.key === "Enter") showCell(p, r, count); });
        return cell;
      })))));

  async function showCell(p, r, count) {
    for (const cell of heat.querySelectorAll("td.selected")) cell.classList.remove("selected");
    heat.querySelector(`td[data-prediction="${p}"][data-reference="${r}"]`).classList.add("selected");
    const label = (i) => result.labels[i];
    if (p === r) {
      panel.replaceChildren(el("h3", {text: `${label(r)} read right: ${count} digits`}),
                            el("p", {class: "muted", text: "The evaluation keeps sample indices for errors only."}));
      return;
    }
    const indices = cellIndices.get(`${p},${r}`) || [];
    const heading = el("h3", {text: `${label(r)} read as ${label(p)}: ${count} digit${count === 1 ? "" : "s"}`});
    if (!indices.length) { panel.replaceChildren(heading); return; }
    if (!result.split) {
      panel.replaceChildren(heading, el("p", {text: `Uploaded images at positions ${indices.join(", ")}`}));
      return;
    }
    const shown = indices.slice(0, SHOWN);
    panel.replaceChildren(heading, el("p", {class: "muted", text: "Loading digits…"}));
    const samples = await api(`/samples?split=${result.split}&indices=${shown.join(",")}`);
    const pixels = decode(samples.images);
    const cards = shown.map((index, i) => {
      const probabilities = result.misclassified[String(index)] || [];
      return el("figure", {class: "case", data: {index}},
                digit(pixels.subarray(i * PIXELS, (i + 1) * PIXELS), 84),
                bars(probabilities, {colors: classColors(k, r, p), width: 150, height: 84, max: 1}),
                el("figcaption", {text: `#${index}: ${label(r)} → ${label(p)}`}));
    });
    panel.replaceChildren(heading,
      el("p", {class: "muted"}, `${result.split} images; bars: class probabilities, `,
         el("span", {class: "swatch true"}), " true class, ", el("span", {class: "swatch pred"}),
         " predicted class", indices.length > SHOWN ? `; the first ${SHOWN} of ${indices.length}` : ""),
      el("div", {class: "cases", id: "cases"}, cards));
  }

  const overall = Object.entries(result.overall);
  const statistics = CONTRACT.class_statistics;
  root.append(
    el("p", {}, el("a", {href: "#/evaluations", text: "← all evaluations"})),
    el("h2", {}, "Evaluation ", el("span", {class: "mono", text: result.job_id})),
    el("p", {class: "muted"}, `Model `, el("a", {href: `#/models/${result.model_id}`, class: "mono",
                                                text: result.model_id}),
       `, ${Number(result.samples).toLocaleString("en")} ${result.split || "uploaded"} images. ` +
       "Rows: prediction; columns: reference (caret's orientation); the red frame marks the worst case.",
       result.trace_url ? el("a", {href: result.trace_url, target: "_blank", rel: "noopener", id: "trace",
                                   text: " Its trace."}) : ""),
    el("div", {class: "columns"}, el("section", {}, heat),
       el("section", {}, el("h3", {text: "Overall statistics"}),
          table(["statistic", "value"], overall.map(([name, v]) => el("tr", {}, el("td", {text: name}),
                                                                         el("td", {class: "n", text: fixed(v, 7)}))),
                {id: "overall"}))),
    panel,
    el("section", {}, el("h3", {text: "Statistics by class"}),
       el("div", {class: "scroll-x"}, table(["", ...result.by_class.map((row) => `Class: ${row.Class}`)],
         statistics.map((name) => el("tr", {}, el("th", {scope: "row", text: name}),
                                     result.by_class.map((row) => el("td", {class: "n", text: fixed(row[name])})))),
         {id: "by-class"}))));
}
