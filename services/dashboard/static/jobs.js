// Jobs: the live table with its filters, and one job's page with its live curves, event log and cancel button
// (shown while there is something to cancel).
import {api, el, fixed, listen, progressBar, short, showError, stateBadge, table, when} from "./common.js";
import {CONTRACT} from "./contract.js";
import {BATCH_COLOR, lineChart, TEST_COLOR, TRAIN_COLOR} from "./draw.js";

const KINDS = ["", ...CONTRACT.job_kinds];      // "": any
const STATES = ["", ...CONTRACT.job_states];
const FINAL = new Set(CONTRACT.final_states);
const {train_kind: TRAIN_KIND, evaluate_kind: EVALUATE_KIND, running_state: RUNNING_STATE,
       succeeded_state: SUCCEEDED_STATE} = CONTRACT;

export function jobsView(root, query) {
  const kind = query.get("kind") || "", state = query.get("state") || "";
  const choose = (name, options, value) => el("label", {}, `${name} `,
    el("select", {name, onchange: filter}, options.map((o) => el("option", {value: o, text: o || "any",
                                                                          selected: o === value}))));
  function filter() {
    const chosen = new URLSearchParams();
    for (const select of root.querySelectorAll(".filters select")) if (select.value) chosen.set(select.name, select.value);
    location.hash = `#/jobs${chosen.size ? "?" + chosen : ""}`;
  }
  const jobs = table(["job", "kind", "state", "device", "queue", "progress", "owner", "created", "model"], [],
                    {class: "jobs", id: "jobs-table"});
  const body = jobs.tBodies[0];
  const note = el("p", {class: "muted"});
  root.append(el("h2", {text: "Jobs"}),
              el("div", {class: "filters"}, choose("kind", KINDS, kind), choose("state", STATES, state)), jobs, note);
  listen(`/jobs/stream?kind=${kind}&state=${state}`, {
    jobs(page) {
      body.replaceChildren(...page.jobs.map(jobRow));
      note.textContent = page.jobs.length ? (page.more ? `Showing the newest ${page.jobs.length} jobs.` : "")
        : "No jobs yet: submit one with `lenet train` or the Python client.";
    },
  });
}

function jobRow(job) {
  const open = () => { location.hash = `#/jobs/${job.id}`; };
  return el("tr", {class: "clickable", data: {job: job.id, state: job.state}, onclick: open},
            el("td", {}, el("a", {href: `#/jobs/${job.id}`, class: "mono", text: short(job.id)})),
            el("td", {text: job.kind}), el("td", {}, stateBadge(job.state)), el("td", {text: job.device}),
            el("td", {class: "mono", text: job.queue}), el("td", {}, progressBar(job.progress)),
            el("td", {text: job.owner || "—"}), el("td", {text: when(job.created_at)}),
            el("td", {}, job.model_id ? el("a", {href: `#/models/${job.model_id}`, class: "mono",
                                                 text: short(job.model_id)}) : ""));
}

// -- one job ------------------------------------------------------------------------------------------------------
export async function jobView(root, id) {
  let job = await api(`/jobs/${id}`), drawn = false;    // an unknown job: only the error, no empty sections
  const curve = {batch: [], epochTrain: [], epochTest: [], rows: [], epochs: 1};
  const header = el("div", {class: "title-row"});
  const facts = el("dl", {class: "facts"});
  const progress = el("div", {class: "job-progress"});
  const chart = el("div", {class: "chart-box", id: "curve"});
  const epochs = el("div");
  const log = el("ol", {class: "event-log", id: "event-log"});
  const extra = el("div");
  root.append(el("p", {}, el("a", {href: "#/jobs", text: "← all jobs"})), header, progress,
              el("div", {class: "job-columns"}, el("div", {}, facts, extra),
                 el("section", {class: "training", id: "curves"}, el("h3", {text: "Training curves"}),
                    el("p", {class: "muted", text: "Per batch: running training accuracy within the epoch. " +
                                                   "Per epoch: training and test accuracy."}),
                    chart, epochs)),
              el("section", {}, el("h3", {text: "Events"}), log));
  window.lenetCurve = [];

  function showJob(record) {
    job = record;
    curve.epochs = job.train?.hyper_parameters?.epochs || 1;
    const cancel = el("button", {class: "danger", id: "cancel", text: "Cancel job", hidden: FINAL.has(job.state),
                                 onclick: async () => {
                                   try { showJob(await api(`/jobs/${id}/cancel`, {method: "POST"})); }
                                   catch (error) { showError(error.message); }
                                 }});
    header.replaceChildren(el("h2", {}, `${job.kind === TRAIN_KIND ? "Training" : "Evaluation"} job `,
                              el("span", {class: "mono", text: job.id})), stateBadge(job.state), cancel);
    progress.replaceChildren(progressBar(job.progress));
    const fact = (name, value) => value ? [el("dt", {text: name}), el("dd", {}, value)] : [];
    facts.replaceChildren(...fact("device", job.device), ...fact("queue", job.queue), ...fact("owner", job.owner),
      ...fact("worker", job.worker), ...fact("attempts", job.attempts ? String(job.attempts) : ""),
      ...fact("created", when(job.created_at)), ...fact("started", when(job.started_at)),
      ...fact("finished", when(job.finished_at)),
      ...fact("model", job.model_id ? el("a", {href: `#/models/${job.model_id}`, class: "mono", text: job.model_id})
                                    : ""),
      ...fact("error", job.error),
      ...fact("trace", job.trace_url ? el("a", {href: job.trace_url, target: "_blank", rel: "noopener", id: "trace",
                                                 text: "open in the trace UI"}) : ""));
    extra.replaceChildren();
    if (job.kind === EVALUATE_KIND && job.state === SUCCEEDED_STATE) {
      extra.append(el("p", {}, el("a", {href: `#/evaluations/${job.id}`, class: "button",
                                        text: `Open the evaluation (accuracy ${fixed(job.accuracy)})`})));
    }
    if (job.kind === TRAIN_KIND) {
      const hp = job.train.hyper_parameters;
      extra.append(el("p", {class: "muted", text: `${hp.epochs} epoch${hp.epochs === 1 ? "" : "s"} on ` +
        `${Number(job.train.train_data.size).toLocaleString("en")} images, batch ${hp.batch_size}, learning rate ` +
        `${hp.learning_rate}, momentum ${hp.momentum}, weight decay ${hp.weight_decay}, seed ${hp.seed}`}));
    }
    root.querySelector("#curves").hidden = job.kind !== TRAIN_KIND;
    draw();
  }

  function draw() {
    if (drawn) return;
    drawn = true;
    requestAnimationFrame(() => {
      drawn = false;
      chart.replaceChildren(lineChart([
        {name: "batch", color: BATCH_COLOR, points: curve.batch},
        {name: "epoch-train", color: TRAIN_COLOR, points: curve.epochTrain, markers: true},
        {name: "epoch-test", color: TEST_COLOR, points: curve.epochTest, markers: true},
      ], {xLabel: "epoch", yLabel: "accuracy", yRange: [0, 1], xRange: [0, curve.epochs]}),
      el("div", {class: "chart-legend"},
         el("span", {class: "swatch train-line"}), "training, per batch ",
         el("span", {class: "swatch train-dot"}), "training, per epoch ",
         el("span", {class: "swatch test-dot"}), "test, per epoch"));
      const batches = curve.batch.filter((p) => p !== null).length;
      chart.dataset.batchPoints = batches;
      chart.dataset.epochPoints = curve.epochTest.length;
      window.lenetCurve.push({time: Date.now(), state: job?.state, batch: batches,
                              epoch: curve.epochTest.length});
    });
  }

  function onEvent(event) {
    if (event.kind === "batch") {
      const b = event.batch, done = b.epoch - 1 + b.batch / b.batches_per_epoch;
      if (curve.batch.length && b.epoch !== curve.batchEpoch) curve.batch.push(null);   // each epoch its own line
      curve.batchEpoch = b.epoch;
      curve.batch.push([done, b.train_accuracy]);
      if (job?.state === RUNNING_STATE) progress.replaceChildren(progressBar(event.progress));
    } else if (event.kind === "epoch") {
      const m = event.epoch;
      curve.epochTrain.push([m.epoch, m.train_accuracy]);
      curve.epochTest.push([m.epoch, m.test_accuracy]);
      curve.rows.push(el("tr", {}, el("td", {class: "n", text: String(m.epoch)}),
                         el("td", {class: "n", text: fixed(m.train_accuracy)}),
                         el("td", {class: "n", text: fixed(m.test_accuracy)}),
                         el("td", {class: "n", text: m.elapsed_seconds.toFixed(1)})));
      epochs.replaceChildren(table(["epoch", "train accuracy", "test accuracy", "seconds"], curve.rows));
    }
    log.append(el("li", {data: {kind: event.kind}}, el("time", {text: when(event.time)}), " ", describe(event)));
    log.scrollTop = log.scrollHeight;
    draw();
  }

  showJob(job);
  listen(`/jobs/${id}/events`, {job: showJob, event: onEvent});
}

function describe(event) {
  switch (event.kind) {
    case "state": return `${event.state.state}${event.state.message ? " — " + event.state.message : ""}`;
    case "batch": {
      const b = event.batch;
      return `epoch ${b.epoch}, batch ${b.batch}/${b.batches_per_epoch}: training accuracy ` +
             `${fixed(b.train_accuracy)}, ${Math.round(b.samples_per_second).toLocaleString("en")} images/s`;
    }
    case "epoch": {
      const m = event.epoch;
      return `epoch ${m.epoch} ended: training accuracy ${fixed(m.train_accuracy)}, test accuracy ` +
             `${fixed(m.test_accuracy)} (${m.elapsed_seconds.toFixed(1)} s)`;
    }
    case "evaluating": return `epoch ${event.evaluating.epoch}: scoring ${event.evaluating.samples} test images`;
    default: return event.log || "";
  }
}
