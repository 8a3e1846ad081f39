// The login form says so when the token it sent was refused.
document.getElementById("failed").hidden = !new URLSearchParams(location.search).has("failed");
