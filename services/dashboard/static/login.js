// The login form says so when the token it sent was refused. (contract.js gives the stylesheet its colours.)
import "./contract.js";

document.getElementById("failed").hidden = !new URLSearchParams(location.search).has("failed");
