"""What the gateway's and the dashboard's entry points share: logging, and the parts they build from the settings
(read once, here): the settings, the tokens and the store."""
import sys

import redis

from protos.settings import ServerOptions, ServiceSettings, load
from services import logs
from services.gateway.auth import Auth
from services.store import Store


def start(name: str, options: ServerOptions) -> tuple[ServiceSettings, Auth, Store]:
    """Set up logging, read the settings and reach the store; exits with one line naming `name` when a setting is
    bad, the store does not answer, or it would serve a store of token users without tokens."""
    try:
        settings = load(ServiceSettings)
        logs.configure(settings.log_format)
        auth = Auth(settings.tokens, settings.admins)
        store = Store(settings.redis_url, settings.heartbeat_seconds, settings.retention_seconds)
        store.ping()
        owned = store.owned_records()
    except (ValueError, OSError, redis.RedisError) as error:
        sys.exit(f"{name}: {error}")
    if not auth.secured and owned and not options.insecure_dev:
        sys.exit(f"{name}: this store holds jobs or models of token users, and LENET_TOKENS is empty: an open "
                 f"{name} would show them to anyone. Set LENET_TOKENS, or pass --insecure-dev to open it anyway")
    return settings, auth, store
