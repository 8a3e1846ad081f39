// What every view uses: calling the dashboard's API, live event streams, building elements, formatting.

// A JSON API call; a 401 goes back to the login form.
export async function api(path, {method = "GET", body} = {}) {
  const options = {method, credentials: "same-origin", headers: {Accept: "application/json"}};
  if (body !== undefined) {
    options.body = JSON.stringify(body);
    options.headers["Content-Type"] = "application/json";
  }
  const response = await fetch(`/api${path}`, options);
  const answer = await response.json().catch(() => ({message: response.statusText}));
  if (response.status === 401) location.assign("/login");
  if (!response.ok) throw new Error(answer.message || response.statusText);
  return answer;
}

// Streams and timers of the view on screen; leaving the view closes them.
const open = new Set();

export function leaveView() {
  for (const close of open) close();
  open.clear();
}

// A server-sent event stream: handlers by event name. "end" and "failure" close it (else EventSource would
// reconnect and resume after the last event id, which is what it does after a dropped connection). It opens after
// the page's load event: a stream opened before it keeps the page loading for as long as the stream lasts, and
// tools that wait for the load (`chromium --headless --screenshot`) would wait for ever.
export function listen(path, handlers) {
  let source = null;
  const close = () => { source?.close(); open.delete(close); setLive(); };
  open.add(close);
  afterLoad(() => {
    if (!open.has(close)) return;          // closed (the view left) before the page had loaded
    source = new EventSource(`/api${path}`);
    for (const [name, handle] of Object.entries(handlers)) {
      source.addEventListener(name, (e) => handle(JSON.parse(e.data)));
    }
    source.addEventListener("end", close);
    source.addEventListener("failure", (e) => { close(); showError(JSON.parse(e.data).message); });
    source.addEventListener("open", setLive);
    source.addEventListener("error", setLive);
  });
  setLive();
  return close;
}

function afterLoad(start) {
  if (document.readyState === "complete") start();
  else window.addEventListener("load", start, {once: true});
}

function setLive() {
  const badge = document.getElementById("live");
  if (badge) badge.hidden = open.size === 0;
}

// Build an element: el("td", {class: "n", text: "5", onclick: f, data: {id: 1}}, child, …).
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "text") node.textContent = v;
    else if (k === "class") node.className = v;
    else if (k === "data") Object.assign(node.dataset, v);
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  node.append(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

export function table(headers, rows, attrs = {}) {
  return el("table", attrs, el("thead", {}, el("tr", {}, headers.map((h) => el("th", {text: h})))),
            el("tbody", {}, rows));
}

export function showError(message) {
  const box = document.getElementById("error");
  box.textContent = message;
  box.hidden = !message;
}

export function decode(array) {
  const bytes = Uint8Array.from(atob(array.data), (c) => c.charCodeAt(0));
  return array.dtype === "uint8" ? bytes : new Float32Array(bytes.buffer);
}

export const fixed = (v, digits = 4) => v === null || v === undefined ? "NA" : Number(v).toFixed(digits);
export const short = (id) => id ? id.slice(0, 8) : "";

export function when(rfc3339) {
  if (!rfc3339) return "";
  const d = new Date(rfc3339);
  return d.toLocaleString("en-GB", {day: "2-digit", month: "short", hour: "2-digit", minute: "2-digit",
                                    second: "2-digit"});
}

export function stateBadge(state) {
  return el("span", {class: `state state-${state.toLowerCase()}`, text: state});
}

export function progressBar(progress) {
  const bar = el("div", {class: "progress", title: progress.label},
                 el("div", {class: progress.fraction === null ? "fill unknown" : "fill"}));
  if (progress.fraction !== null) bar.firstChild.style.width = `${(100 * progress.fraction).toFixed(1)}%`;
  return el("div", {class: "progress-cell"}, bar, el("span", {class: "progress-label", text: progress.label}));
}
