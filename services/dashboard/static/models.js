// Models: the list, and one model's page: hyper-parameters, history, graph, export links, evaluate and inspect.
import {api, el, fixed, short, showError, table, when} from "./common.js";
import {CONTRACT} from "./contract.js";
import {lineChart, networkGraph, TEST_COLOR, TRAIN_COLOR} from "./draw.js";

export async function modelsView(root) {
  const {models} = await api("/models");
  root.append(el("h2", {text: "Models"}),
              models.length ? table(["model", "name", "version", "aliases", "created", "owner", "device", "epochs",
                                     "training images", "test accuracy"], models.map(modelRow), {class: "models"})
                            : el("p", {class: "muted", text: "No trained model yet."}));
}

function modelRow(model) {
  return el("tr", {class: "clickable", data: {model: model.id}, onclick: () => { location.hash = `#/models/${model.id}`; }},
            el("td", {}, el("a", {href: `#/models/${model.id}`, class: "mono", text: short(model.id)})),
            el("td", {text: model.name}), el("td", {class: "n version", text: String(model.version)}),
            el("td", {class: "aliases", text: model.aliases.join(", ") || "—"}),
            el("td", {text: when(model.created_at)}),
            el("td", {text: model.owner || "—"}), el("td", {text: model.device}),
            el("td", {class: "n", text: String(model.hyper_parameters.epochs)}),
            el("td", {class: "n", text: Number(model.train_samples).toLocaleString("en")}),
            el("td", {class: "n", text: fixed(model.metrics.test_accuracy)}));
}

export async function modelView(root, id) {
  const {model, graph, exports} = await api(`/models/${id}`);
  const hp = model.hyper_parameters;
  const history = model.history;
  const base = `/api/models/${model.id}`;
  const evaluateForm = el("form", {class: "inline-form", id: "evaluate-form", onsubmit: async (e) => {
    e.preventDefault();
    const form = new FormData(e.target);
    try {
      const job = await api(`/models/${model.id}/evaluate`, {method: "POST",
        body: {split: form.get("split"), limit: Number(form.get("limit") || 0)}});
      location.hash = `#/jobs/${job.id}`;
    } catch (error) { showError(error.message); }
  }}, el("label", {}, "split ", el("select", {name: "split"}, CONTRACT.splits.map((split) => el("option", {
                                         text: split, selected: split === CONTRACT.default_split})))),
     el("label", {}, "first ", el("input", {name: "limit", type: "number", min: 0, value: 0, class: "narrow"}),
        " images (0: all)"),
     el("button", {type: "submit", text: "Evaluate"}));
  root.append(
    el("p", {}, el("a", {href: "#/models", text: "← all models"})),
    el("div", {class: "title-row"}, el("h2", {}, `Model ${model.name}/${model.version} `,
                                       el("span", {class: "mono", text: model.id})),
       el("a", {class: "button", href: `#/activations?model=${model.id}`, text: "Inspect its layers"})),
    el("p", {class: "muted", text: `Trained by job ${model.job_id} on ${model.device}, ${when(model.created_at)}` +
                                   `${model.owner ? ", owner " + model.owner : ""}: ` +
                                   `${Number(model.train_samples).toLocaleString("en")} training images, ` +
                                   `${Number(model.parameter_count).toLocaleString("en")} parameters.`}),
    el("p", {id: "aliases", text: model.aliases.length
      ? `Aliases: ${model.aliases.map((alias) => `${model.name}@${alias}`).join(", ")}.`
      : `No alias points at version ${model.version} (lenet alias set ${model.name} ${CONTRACT.production_alias} ${model.version}).`}),
    el("div", {class: "columns"},
       el("section", {}, el("h3", {text: "Hyper-parameters"}),
          table(["name", "value"], Object.entries(hp).map(([k, v]) => el("tr", {}, el("td", {text: k}),
                                                                           el("td", {class: "n", text: String(v)}))),
                {class: "hyper"})),
       el("section", {}, el("h3", {text: "Files"}),
          el("ul", {class: "exports"}, exports.map((e) => el("li", {}, `${e.format === "mxnet" ? "MXNet checkpoint"
                                                                      : "ONNX"}: `,
            e.files.map((name, i) => [i ? ", " : "", el("a", {href: `${base}/export/${e.format}/${name}`,
                                                              download: name, text: name})]))),
             el("li", {}, "Graphviz: ", el("a", {href: `${base}/graph.dot`, download: "lenet.dot",
                                                 text: "lenet.dot"}))),
          el("h3", {text: "Evaluate"}), evaluateForm)),
    el("section", {}, el("h3", {text: "History"}),
       el("div", {class: "chart-box", id: "history"}, lineChart([
         {name: "epoch-train", color: TRAIN_COLOR, points: history.map((m) => [m.epoch, m.train_accuracy]),
          markers: true},
         {name: "epoch-test", color: TEST_COLOR, points: history.map((m) => [m.epoch, m.test_accuracy]),
          markers: true}],
         {xLabel: "epoch", yLabel: "accuracy", yRange: [0, 1], xRange: [0, Math.max(1, history.length)]}),
         el("div", {class: "chart-legend"}, el("span", {class: "swatch train-dot"}), "training accuracy ",
            el("span", {class: "swatch test-dot"}), "test accuracy")),
       table(["epoch", "train accuracy", "test accuracy", "seconds"], history.map((m) => el("tr", {},
         el("td", {class: "n", text: String(m.epoch)}), el("td", {class: "n", text: fixed(m.train_accuracy)}),
         el("td", {class: "n", text: fixed(m.test_accuracy)}),
         el("td", {class: "n", text: m.elapsed_seconds.toFixed(1)}))))),
    el("section", {}, el("h3", {text: "Graph"}),
       el("div", {class: "graph-box", id: "graph"}, networkGraph(graph.layers)),
       table(["layer", "operator", "attributes", "output shape", "parameters"], graph.layers.map((l) => el("tr", {},
         el("td", {text: l.name}), el("td", {text: l.op}), el("td", {text: l.attributes}),
         el("td", {class: "n", text: l.output_shape.join("×")}),
         el("td", {class: "n", text: l.parameter_count ? Number(l.parameter_count).toLocaleString("en") : ""}))),
         {class: "layers"}),
       el("p", {class: "muted", text: `${Number(graph.parameter_count).toLocaleString("en")} parameters in all.`}),
       el("details", {}, el("summary", {text: "DOT source"}), el("pre", {text: graph.dot}))));
}
