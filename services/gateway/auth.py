"""Bearer-token authentication and ownership.

$LENET_TOKENS lists `user:token` pairs separated by commas, or names a file of such lines (`@/path`). When it is
unset the gateway is open and jobs have no owner. When set, every Lenet call needs the metadata
`authorization: Bearer TOKEN`; jobs record their submitter, and only that user may cancel them.
"""
import os
from pathlib import Path

import grpc

from services.errors import PermissionDenied, Unauthenticated


def parse(spec: str) -> dict[str, str]:
    """token → user from the LENET_TOKENS format."""
    text = Path(spec[1:]).read_text() if spec.startswith("@") else spec.replace(",", "\n")
    users = {}
    for line in filter(None, (line.strip() for line in text.splitlines())):
        user, _, token = line.partition(":")
        if not user or not token:
            raise ValueError(f"LENET_TOKENS entries are user:token, got {line!r}")
        users[token] = user
    return users


class Auth:
    def __init__(self, spec: str | None = None):
        spec = os.environ.get("LENET_TOKENS", "") if spec is None else spec
        self.users = parse(spec) if spec else {}

    def user(self, metadata) -> str:
        """The caller's user name ("" on an open gateway); Unauthenticated without a known token."""
        if not self.users:
            return ""
        header = dict(metadata or ()).get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or token not in self.users:
            raise Unauthenticated("send `authorization: Bearer TOKEN` metadata with a token the gateway knows")
        return self.users[token]

    def check_owner(self, user: str, owner: str, what: str) -> None:
        if self.users and owner and owner != user:
            raise PermissionDenied(f"{what} belongs to {owner}, not {user}")


class AuthInterceptor(grpc.ServerInterceptor):
    """Refuse Lenet calls without a valid token before they reach the servicer (health and reflection stay open)."""

    def __init__(self, auth: Auth, service: str):
        self.auth, self.prefix = auth, f"/{service}/"

    def intercept_service(self, continuation, details):
        handler = continuation(details)
        if handler is None or not details.method.startswith(self.prefix):
            return handler
        try:
            self.auth.user(details.invocation_metadata)
            return handler
        except Unauthenticated as error:
            message = str(error)

            def deny(request, context):
                context.abort(grpc.StatusCode.UNAUTHENTICATED, message)
            kind = "unary_stream" if handler.unary_stream else "unary_unary"
            return handler._replace(**{kind: deny})
