"""What the gateway's and the dashboard's entry points share: their command line (--port, --host,
--insecure-dev), logging, and the parts they build from the settings (read once, here): the settings, the tokens
and the store."""
import argparse
import sys

import redis

from protos.settings import ServiceSettings, load
from services import logs
from services.gateway.auth import Auth
from services.store import Store


def start(name: str, description: str, default_port: int, argv: list[str] | None
          ) -> tuple[argparse.Namespace, ServiceSettings, Auth, Store]:
    """Parse `python -m services.NAME [--port P] [--host H] [--insecure-dev]`, set up logging, read the settings
    and reach the store; exits with one line naming `name` when a setting is bad, the store does not answer, or
    it would serve a store of token users without tokens."""
    parser = argparse.ArgumentParser(prog=f"python -m services.{name}", description=description)
    parser.add_argument("--port", type=int, default=default_port)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 for all)")
    parser.add_argument("--insecure-dev", action="store_true", help="serve without tokens even though the store "
                        "holds records of token users (development only)")
    args = parser.parse_args(argv)
    try:
        settings = load(ServiceSettings)
        logs.configure(settings.log_format)
        auth = Auth(settings.tokens, settings.admins)
        store = Store(settings.redis_url, settings.heartbeat_seconds, settings.retention_seconds)
        store.ping()
        owned = store.owned_records()
    except (ValueError, OSError, redis.RedisError) as error:
        sys.exit(f"{name}: {error}")
    if not auth.secured and owned and not args.insecure_dev:
        sys.exit(f"{name}: this store holds jobs or models of token users, and LENET_TOKENS is empty: an open "
                 f"{name} would show them to anyone. Set LENET_TOKENS, or pass --insecure-dev to open it anyway")
    return args, settings, auth, store
