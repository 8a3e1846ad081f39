"""Bearer-token authentication: who is calling.

The tokens setting (LENET_TOKENS) lists `user:token` pairs separated by commas, or names a file of such lines
(`@/path`). When it is empty the gateway is open and jobs have no owner. When set, every Lenet call needs the
metadata `authorization: Bearer TOKEN`; what each user may do is LenetService's rule (the admins setting names
users who see everything).
"""
import hashlib
import hmac
from pathlib import Path

import grpc

from lenet_protos import contract
from lenet_services.errors import Unauthenticated


def parse(spec: str) -> dict[str, str]:
    """token → user from the LENET_TOKENS format. A bad entry is named by its position, never shown: it may hold a
    token."""
    text = Path(spec[1:]).read_text() if spec.startswith("@") else spec.replace(",", "\n")
    users = {}
    for number, line in enumerate(filter(None, (line.strip() for line in text.splitlines())), 1):
        user, _, token = line.partition(":")
        if not contract.USER.fullmatch(user) or not token:
            raise ValueError(f"LENET_TOKENS entries are user:token with a user of letters, digits, '.', '_', '-' "
                             f"or '@'; entry {number} is not")
        users[token] = user
    return users


def digest(token: str) -> bytes:
    """What tokens are compared by: equal lengths, so compare_digest takes the same time whatever the guess."""
    return hashlib.sha256(token.encode()).digest()


class Auth:
    def __init__(self, spec: str = "", admins: str = ""):
        """`spec`: the tokens setting; `admins`: comma-separated users who see everything. A tokens file that
        lists nobody is refused (ValueError), rather than leaving the gateway open by accident. Only the tokens'
        digests are kept."""
        self.users = {digest(token): user for token, user in (parse(spec) if spec else {}).items()}
        if spec.startswith("@") and not self.users:
            raise ValueError(f"LENET_TOKENS names {spec[1:]}, which lists no user:token line")
        self.admins = {name.strip() for name in admins.split(",") if name.strip()}

    def is_admin(self, user: str) -> bool:
        return user in self.admins

    @property
    def secured(self) -> bool:
        return bool(self.users)

    def user_of(self, token: str) -> str:
        """The user `token` names ("" on an open gateway, whatever the token); Unauthenticated without a known
        token."""
        if not self.users:
            return ""
        guess, found = digest(token), None
        for known, user in self.users.items():   # every one, to the end: the time says nothing of which matched
            if hmac.compare_digest(known, guess):
                found = user
        if found is None:
            raise Unauthenticated("send `authorization: Bearer TOKEN` (gRPC metadata or HTTP header) with a token "
                                  "the gateway knows")
        return found

    def user(self, metadata) -> str:
        """The user a gRPC call's `authorization: Bearer TOKEN` metadata names (as user_of)."""
        header = dict(metadata or ()).get("authorization", "")
        scheme, _, token = header.partition(" ")
        return self.user_of(token if scheme.lower() == "bearer" else "")


class AuthInterceptor(grpc.ServerInterceptor):
    """Refuse calls to `services` without a valid token before they reach a servicer (`open_methods`, health and
    reflection stay open)."""

    def __init__(self, auth: Auth, services: list[str], open_methods: set[str] = frozenset()):
        self.auth, self.prefixes, self.open = auth, tuple(f"/{service}/" for service in services), open_methods

    def intercept_service(self, continuation, details):
        handler = continuation(details)
        if handler is None or not details.method.startswith(self.prefixes) or details.method in self.open:
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
