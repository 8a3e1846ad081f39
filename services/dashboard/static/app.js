// The dashboard's page: a hash router over the views. Each view builds its part of the page; leaving it closes
// its live streams.
import {api, el, leaveView, showError} from "./common.js";
import {CONTRACT} from "./contract.js";
import {activationsView} from "./activations.js";
import {evaluationsView, evaluationView} from "./evaluations.js";
import {jobsView, jobView} from "./jobs.js";
import {modelsView, modelView} from "./models.js";
import {sweepsView, sweepView} from "./sweeps.js";
import {workersView} from "./workers.js";

// A whole path; ID stands for a job's id, MODEL for what names a model (an id, a prefix or the newest).
const whole = (path) => new RegExp(`^${path.replace("ID", CONTRACT.id).replace("MODEL", CONTRACT.model_id)}$`);
const ROUTES = [
  [whole("/jobs/(ID)"), jobView, "jobs"],
  [whole("/jobs"), jobsView, "jobs"],
  [whole("/models/(MODEL)"), modelView, "models"],
  [whole("/models"), modelsView, "models"],
  [whole("/evaluations/(ID)"), evaluationView, "evaluations"],
  [whole("/evaluations"), evaluationsView, "evaluations"],
  [whole("/activations"), activationsView, "activations"],
  [whole("/sweeps/(ID)"), sweepView, "sweeps"],
  [whole("/sweeps"), sweepsView, "sweeps"],
  [whole("/workers"), workersView, "workers"],
];

async function route() {
  const [path, search] = (location.hash.slice(1) || "/jobs").split("?");
  const query = new URLSearchParams(search || "");
  leaveView();
  showError("");
  const root = document.getElementById("view");
  root.replaceChildren();
  const found = ROUTES.find(([pattern]) => pattern.test(path));
  if (!found) {
    root.append(el("p", {text: `Nothing at ${path}.`}));
    return;
  }
  const [pattern, view, tab] = found;
  for (const link of document.querySelectorAll("header nav a")) {
    link.classList.toggle("active", link.dataset.tab === tab);
  }
  const id = path.match(pattern)[1];
  const page = el("div", {class: "page", data: {view: tab}});
  root.append(page);
  try {
    await (id ? view(page, id, query) : view(page, query));
    page.dataset.ready = "1";
  } catch (error) {
    showError(error.message);
  }
}

async function start() {
  const me = await api("/me");
  const who = document.getElementById("who");
  if (me.secured) {
    who.append(`signed in as ${me.user} `,
               el("form", {method: "post", action: "/logout", class: "logout"},
                  el("button", {type: "submit", text: "Sign out"})));
  } else {
    who.textContent = "open service (no tokens)";
  }
  window.addEventListener("hashchange", route);
  route();
}

start();
