"""Where Redis is: one Location from the settings, from which the store's client and Celery's broker are both
made, so they never disagree (issue 19)."""
import pytest

from lenet_protos.settings import ServiceSettings
from lenet_services.store import Location, Store
from lenet_services.store.connection import broker, parse_sentinels
from lenet_services.task_queue import celery_app

URL = "redis://:s3cret@ignored:6379/2"


def sentinel_settings(**more) -> ServiceSettings:
    return ServiceSettings(redis_url=URL, redis_sentinels="10.0.0.1:26379, 10.0.0.2:26380", **more)


def test_sentinels_name_the_primary_and_the_url_keeps_password_and_database():
    where = Location.of(sentinel_settings(redis_sentinel_master="jobs"))
    assert where.sentinels == (("10.0.0.1", 26379), ("10.0.0.2", 26380)) and where.master == "jobs"
    assert where.durable_replicas == 1                       # acknowledged writes wait for a replica by default
    url, options = broker(where)
    assert url == "sentinel://:s3cret@10.0.0.1:26379/2;sentinel://:s3cret@10.0.0.2:26380/2"
    assert options["master_name"] == "jobs" and options["sentinel_kwargs"]["password"] == "s3cret"
    transport = celery_app(where).conf.broker_transport_options
    assert transport["master_name"] == "jobs" and transport["visibility_timeout"] == 6 * 3600
    assert "s3cret" not in where.describe() and "10.0.0.2:26380" in where.describe()


def test_without_sentinels_the_url_is_the_store_and_the_broker_and_nothing_waits():
    where = Location.of(ServiceSettings(redis_url=URL, durable_replicas=1))
    assert where.sentinels == () and where.durable_replicas == 0
    assert broker(where) == (URL, {})
    assert where.describe() == "redis://ignored:6379/2"


def test_a_malformed_sentinel_address_is_named():
    for bad in ("10.0.0.1", "10.0.0.1:port", ":26379", "host:0"):
        with pytest.raises(ValueError, match="REDIS_SENTINELS"):
            parse_sentinels(f"ok:1,{bad}")
    assert parse_sentinels("[::1]:26379") == (("::1", 26379),)


def test_a_store_without_replicas_to_wait_for_confirms_at_once(redis_server):
    store = Store(redis_server.url)
    store.confirm()                                          # no WAIT: nothing is configured to confirm
    store.close()
