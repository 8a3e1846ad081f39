"""What the gateway's and the dashboard's entry points share: their command line (--port, --host), logging, and
the parts they build from the settings (read once, here): the settings, the tokens and the store."""
import argparse
import logging
import sys

import redis

from protos.settings import ServiceSettings, load
from services.gateway.auth import Auth
from services.store import Store


def start(name: str, description: str, default_port: int, argv: list[str] | None
          ) -> tuple[argparse.Namespace, ServiceSettings, Auth, Store]:
    """Parse `python -m services.NAME [--port P] [--host H]`, set up logging, read the settings and reach the
    store; exits with one line naming `name` when a setting is bad or the store does not answer."""
    parser = argparse.ArgumentParser(prog=f"python -m services.{name}", description=description)
    parser.add_argument("--port", type=int, default=default_port)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 for all)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = load(ServiceSettings)
        auth = Auth(settings.tokens)
        store = Store(settings.redis_url, settings.heartbeat_seconds, settings.retention_seconds)
        store.ping()
    except (ValueError, OSError, redis.RedisError) as error:
        sys.exit(f"{name}: {error}")
    return args, settings, auth, store
