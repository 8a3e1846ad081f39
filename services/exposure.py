"""Who may reach a listener: the one rule every port of the service follows before it binds.

Loopback is always fine. Any other address (0.0.0.0, a LAN address, a host name that is not loopback) is refused
unless callers need a token there, or the operator opened it by name; what is allowed but weak (tokens in
plaintext, a port open to anyone) is logged as one warning line. A listener calls `check` (or `check_metrics`)
with its name and address before it binds, and exits with the Refused line.
"""
import ipaddress
import logging
import socket

log = logging.getLogger(__name__)

SERVE_TLS = "serve TLS with --tls-cert/--tls-key (LENET_TLS_CERT, LENET_TLS_KEY)"
TLS_PROXY = "put a TLS proxy in front of it"
SET_TOKENS = "set LENET_TOKENS=user:TOKEN (comma-separated pairs, or @FILE with a pair a line)"


class Refused(Exception):
    """The listener must not start: one line saying why and what to set."""


def is_loopback(host: str) -> bool:
    """Whether every address `host` names is a loopback one ("", 0.0.0.0 and :: name every interface)."""
    host = host.strip("[]")
    if not host:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        found = {info[4][0] for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)}
    except OSError:
        return False   # it will not bind either
    return bool(found) and all(ipaddress.ip_address(address.split("%")[0]).is_loopback for address in found)


def check(name: str, host: str, *, tokens: bool, insecure_open: bool, plaintext_fix: str | None) -> str | None:
    """Whether `name`, whose callers present tokens when `tokens`, may listen on `host`: raises Refused, or logs
    and returns a warning line (None: nothing to say). `insecure_open`: --insecure-open (LENET_INSECURE_OPEN) was
    given; `plaintext_fix`: how this listener would stop carrying tokens in the clear (SERVE_TLS, TLS_PROXY), or
    None when it serves TLS."""
    if is_loopback(host):
        return None
    return warn(_weakness(name, host, tokens, insecure_open, plaintext_fix))


def _weakness(name: str, host: str, tokens: bool, insecure_open: bool, plaintext_fix: str | None) -> str | None:
    if not tokens and not insecure_open:
        raise Refused(f"{name}: refusing to listen on {host} without tokens (anyone who reaches it could call "
                      f"everything): {SET_TOKENS}, listen on 127.0.0.1, or pass --insecure-open to open it anyway")
    if not tokens:
        return f"{name}: open to anyone who reaches {host}, without tokens (--insecure-open)"
    if plaintext_fix:
        return f"{name}: plaintext on {host}, tokens cross the network readable: {plaintext_fix}"
    return None


def check_metrics(name: str, host: str, *, metrics_open: bool) -> str | None:
    """The same for a Prometheus port, which takes no tokens: beyond loopback only when LENET_METRICS_OPEN says so
    (it then shows anyone the counts the README lists, and no names); logs and returns the warning."""
    if is_loopback(host):
        return None
    if not metrics_open:
        raise Refused(f"{name}: refusing to serve metrics on {host}, where they take no tokens: listen on "
                      f"127.0.0.1 (LENET_METRICS_HOST), or set LENET_METRICS_OPEN=true to let anyone who reaches "
                      f"it read them")
    return warn(f"{name}: metrics open to anyone who reaches {host} (LENET_METRICS_OPEN)")


def warn(warning: str | None) -> str | None:
    if warning:
        log.warning(warning)
    return warning
