// Workers and queues: live workers (lane, host, pid, what each runs) and what waits on every lane.
import {el, listen, short, table, when} from "./common.js";
import {CONTRACT} from "./contract.js";

const serving = (lane) => CONTRACT.serving_lanes.includes(lane);   // a lane that also answers requests

export function workersView(root) {
  const lanes = el("div", {id: "lanes"});
  const workers = el("div", {id: "workers"});
  root.append(el("h2", {text: "Workers and queues"}), el("h3", {text: "Lanes"}), lanes,
              el("h3", {text: "Live workers"}), workers);
  listen("/workers/stream", {
    workers(answer) {
      lanes.replaceChildren(table(["lane", "live workers", "jobs waiting", "requests waiting"],
        answer.lanes.map((lane) => el("tr", {class: lane.workers ? "" : "idle-lane"},
          el("td", {class: "mono", text: lane.name}), el("td", {class: "n", text: String(lane.workers)}),
          el("td", {class: "n", text: String(lane.jobs_waiting)}),
          el("td", {class: "n", text: serving(lane.name) ? String(lane.requests_waiting) : "—"}))),
        {class: "lanes"}));
      workers.replaceChildren(answer.workers.length ? table(["worker", "device", "lane", "host", "pid", "threads",
                                                             "running", "requests answered", "started", "last seen"],
        answer.workers.map((w) => el("tr", {data: {lane: w.lane}},
          el("td", {class: "mono", text: w.name}), el("td", {text: w.device}), el("td", {class: "mono", text: w.lane}),
          el("td", {text: w.host}), el("td", {class: "n", text: String(w.pid)}),
          el("td", {class: "n", text: w.threads ? String(w.threads) : "—"}),
          el("td", {}, w.job_id ? el("a", {href: `#/jobs/${w.job_id}`, class: "mono", text: short(w.job_id)}) : "idle"),
          el("td", {class: "n", text: serving(w.lane) ? String(w.requests) : "—"}),
          el("td", {text: when(w.started_at)}), el("td", {text: when(w.last_seen)}))), {class: "workers"})
        : el("p", {class: "muted", text: "No worker is alive: start one with `lenet worker`."}));
    },
  });
}
