// Sweeps: the list, and one sweep live — its trials, every trial's objective per epoch on one chart (pruned trials
// grey), each searched hyper-parameter against the objective, and Optuna's parameter importances.
import {api, el, fixed, listen, progressBar, short, stateBadge, table, when} from "./common.js";
import {CONTRACT} from "./contract.js";
import {lineChart, scatter} from "./draw.js";

const PRUNED_COLOR = "#b8bec6";
// Trial colours (Tableau 10): trial k takes colour k mod 10.
const TRIAL_COLORS = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
                      "#9c755f", "#bab0ac"];
const FINAL = new Set(CONTRACT.sweep_final_states);
const {pruned_state: PRUNED_TRIAL, sweep_succeeded_state: SWEEP_WON} = CONTRACT;

const stateName = (state) => state.replace(/^SWEEP_/, "");
const trialColor = (trial) => trial.state === PRUNED_TRIAL ? PRUNED_COLOR : TRIAL_COLORS[trial.number % 10];

// A colour swatch (set through the CSSOM: the page's policy refuses style attributes).
function swatch(color) {
  const node = el("span", {class: "swatch dot"});
  node.style.background = color;
  return node;
}

export async function sweepsView(root) {
  const answer = await api("/sweeps?page_size=50");
  root.append(el("h2", {text: "Sweeps"}), answer.sweeps.length ? table(
    ["sweep", "state", "sampler", "pruner", "finished", "pruned", "in flight", "best", "test accuracy", "created"],
    answer.sweeps.map((s) => el("tr", {},
      el("td", {}, el("a", {href: `#/sweeps/${s.id}`, class: "mono", text: short(s.id)})),
      el("td", {}, stateBadge(stateName(s.state))), el("td", {text: s.request.sampler.toLowerCase()}),
      el("td", {text: s.request.pruner.kind.toLowerCase()}),
      el("td", {class: "n", text: `${s.trials_finished}/${s.request.budget.trials}`}),
      el("td", {class: "n", text: String(s.trials_pruned)}), el("td", {class: "n", text: String(s.trials_in_flight)}),
      el("td", {class: "n", text: s.winner ? fixed(s.winner.value) : ""}),
      el("td", {class: "n", text: s.winner && s.winner.test_accuracy !== undefined ? fixed(s.winner.test_accuracy)
                                                                                   : ""}),
      el("td", {text: when(s.created_at)}))), {class: "sweeps"})
    : el("p", {class: "muted", text: "No sweep yet: start one with `lenet sweep --space learning_rate=0.01:0.1:log`."}));
}

export async function sweepView(root, id) {
  const summary = el("div", {id: "summary"}), trials = el("div", {id: "trials"}), curves = el("div", {id: "curves"});
  const parameters = el("div", {id: "parameters", class: "scatters"}), importances = el("div", {id: "importances"});
  const cancel = el("button", {type: "button", id: "cancel", text: "Cancel the sweep", hidden: true,
    async onclick() { cancel.disabled = true; await api(`/sweeps/${id}/cancel`, {method: "POST"}); }});
  root.append(el("p", {}, el("a", {href: "#/sweeps", text: "← all sweeps"})),
              el("div", {class: "title-row"}, el("h2", {}, "Sweep ", el("span", {class: "mono", text: id})), cancel),
              summary, el("h3", {text: "Trials"}), trials,
              el("h3", {text: "Objective per epoch"}), curves,
              el("h3", {text: "Hyper-parameters against the objective"}), parameters,
              el("h3", {text: "Parameter importances (Optuna, fANOVA)"}), importances);
  const show = (sweep) => {
    cancel.hidden = FINAL.has(sweep.state) || sweep.cancel_requested;
    summary.replaceChildren(...describe(sweep));
    trials.replaceChildren(trialTable(sweep));
    curves.replaceChildren(curveChart(sweep));
    parameters.replaceChildren(...scatters(sweep));
    importances.replaceChildren(importanceChart(sweep));
  };
  show(await api(`/sweeps/${id}`));
  listen(`/sweeps/${id}/stream`, {sweep: show});
}

function describe(sweep) {
  const r = sweep.request, w = sweep.winner, metric = r.objective.metric.replace(/_/g, " ");
  const lines = [el("p", {}, stateBadge(stateName(sweep.state)),
    ` ${r.sampler.toLowerCase()} sampler, ${r.pruner.kind.toLowerCase()} pruner, objective: ` +
    `${r.objective.minimize ? "lowest" : "highest"} ${metric}. ${sweep.trials_finished} of ${r.budget.trials} ` +
    `trials finished (${sweep.trials_pruned} pruned), ${sweep.trials_in_flight} in flight, at most ` +
    `${r.budget.parallelism} at once. Started ${when(sweep.created_at)}` +
    `${sweep.finished_at ? ", ended " + when(sweep.finished_at) : ""}${sweep.owner ? ", owner " + sweep.owner : ""}.`)];
  if (w) {
    lines.push(el("p", {id: "winner"}, `${sweep.state === SWEEP_WON ? "Winner" : "Best so far"}: trial ` +
      `${w.trial}, ${metric} ${fixed(w.value)}`,
      w.model_id ? [", model ", el("a", {href: `#/models/${w.model_id}`, class: "mono", text: short(w.model_id)}),
                    w.model_name ? ` (${w.model_name}/${w.model_version}${w.alias ? ", @" + w.alias : ""})` : ""]
                 : "",
      w.test_accuracy !== undefined ? `; test accuracy ${fixed(w.test_accuracy)}, scored once.` : "."));
  }
  if (sweep.error) lines.push(el("p", {class: "muted", text: sweep.error}));
  return lines;
}

function parameterText(values) {
  return Object.entries(values).map(([k, v]) => `${k}=${typeof v === "number" ? Number(v.toPrecision(4)) : v}`)
    .join(" ");
}

function trialTable(sweep) {
  return table(["trial", "parameters", "epoch", "objective", "state", "worker", "job"], sweep.trials.map((t) =>
    el("tr", {data: {state: t.state}},
       el("td", {class: "n"}, swatch(trialColor(t)), ` ${t.number}`),
       el("td", {class: "mono", text: parameterText(t.hyper_parameters)}),
       el("td", {class: "n", text: String(t.epoch)}),
       el("td", {class: "n", text: t.value !== undefined ? fixed(t.value) : ""}),
       el("td", {}, stateBadge(t.state)), el("td", {class: "mono", text: t.worker}),
       el("td", {}, el("a", {href: `#/jobs/${t.job_id}`, class: "mono", text: short(t.job_id)})))),
    {class: "trials"});
}

function curveChart(sweep) {
  const epochs = Math.max(1, ...sweep.trials.map((t) => t.curve.length));
  const order = [...sweep.trials].sort((a, b) => (b.state === PRUNED_TRIAL) - (a.state === PRUNED_TRIAL));  // pruned below
  return el("div", {class: "chart-box"}, lineChart(order.map((t) => ({
    name: `trial-${t.number}${t.state === PRUNED_TRIAL ? " pruned" : ""}`, color: trialColor(t), markers: true,
    points: t.curve.map((value, k) => [k + 1, value])})),
    {xLabel: "epoch", yLabel: sweep.request.objective.metric.replace(/_/g, " "), yRange: [0, 1],
     xRange: [0, epochs]}),
    el("div", {class: "chart-legend"}, swatch(PRUNED_COLOR),
       "pruned trials; the others in their row's colour"));
}

function scatters(sweep) {
  const scored = sweep.trials.filter((t) => t.value !== undefined);
  const logScale = Object.fromEntries(sweep.request.space.map((d) =>
    [d.name, Boolean((d.float_range && d.float_range.log) || (d.int_range && d.int_range.log))]));
  const names = sweep.request.space.filter((d) => d.fixed === undefined && d.fixed_name === undefined)
    .map((d) => d.name);
  if (!scored.length) return [el("p", {class: "muted", text: "No trial has finished an epoch yet."})];
  return names.map((name) => el("figure", {class: "scatter-box"}, scatter(scored.map((t) => ({
    x: axisValue(sweep, name, t.hyper_parameters[name]), y: t.value, color: trialColor(t), hollow: t.state === PRUNED_TRIAL,
    title: `trial ${t.number}: ${name}=${t.hyper_parameters[name]}, ${fixed(t.value)}`})),
    {xLabel: name, yLabel: "objective", log: logScale[name], yRange: [0, 1]})));
}

// Where a value sits on its parameter's axis: the number, true as 1, a name as its place among the choices.
function axisValue(sweep, name, value) {
  if (typeof value === "string") {
    const dimension = sweep.request.space.find((d) => d.name === name);
    return dimension.choices.names.indexOf(value);
  }
  return Number(value);
}

function importanceChart(sweep) {
  if (!sweep.importances.length) {
    return el("p", {class: "muted", text: "Importances appear once two trials have completed with different values."});
  }
  return table(["hyper-parameter", "importance"], sweep.importances.map((i) => el("tr", {},
    el("td", {class: "mono", text: i.name}),
    el("td", {}, progressBar({fraction: i.importance, label: fixed(i.importance, 2)})))), {class: "importances"});
}
