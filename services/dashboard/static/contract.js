// The contract's facts (protos/contract.py's browser_document), which the dashboard puts in every page: the
// scripts take layers, job kinds and states, splits, lanes, ids and colours from here, never from copies of their
// own. Its colours become CSS variables (--true, --predicted, --other, --train, --batch, --test) for style.css.
export const CONTRACT = JSON.parse(document.getElementById("contract").textContent);

for (const [role, color] of Object.entries(CONTRACT.colors)) {
  document.documentElement.style.setProperty(`--${role}`, color);
}
