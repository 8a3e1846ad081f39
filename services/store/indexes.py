"""Time-ordered indexes of records (jobs, models) and newest-first pages read from them.

An index is a sorted set whose members are "CREATED_MICROSECONDS:ID" with every score 0: members sort by creation time
(ZRANGEBYLEX), never tie, and each is its own page cursor. A page costs one range read and one MGET however long
the history; entries whose record has gone (expired or deleted) are dropped as they are met.
"""
from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

import redis

from lenet_services.errors import InvalidArgument

MEMBER = re.compile(r"\d{16}:[0-9a-f]{16}")


@dataclass
class Page:
    items: list
    next_page_token: str


def now() -> str:
    """RFC 3339 in UTC, to the microsecond, as records are stamped: records made one after another never share a
    time, so they never tie in an index."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def member(created_at: str, record_id: str) -> str:
    """The index member of a record created at `created_at` (RFC 3339)."""
    created = datetime.fromisoformat(created_at.replace("Z", "+00:00"))
    return f"{int(created.timestamp()) * 1_000_000 + created.microsecond:016d}:{record_id}"


def member_id(entry: bytes) -> str:
    return entry.decode().partition(":")[2]


def page(client: redis.Redis, index: str, record_key: Callable[[str], str], parse: Callable[[bytes], object],
         page_size: int, page_token: str = "") -> Page:
    """Records newest first, after the one `page_token` names; parse(bytes) builds each from its key's value."""
    high = "(" + _cursor(page_token) if page_token else "+"
    found: list[tuple[bytes, object]] = []
    while len(found) <= page_size:
        entries = client.zrevrangebylex(index, high, "-", start=0, num=page_size + 1 - len(found))
        if not entries:
            break
        for entry, data in zip(entries, client.mget([record_key(member_id(entry)) for entry in entries])):
            if data is None:
                client.zrem(index, entry)
            else:
                found.append((entry, parse(data)))
        high = b"(" + entries[-1]
    more = len(found) > page_size
    found = found[:page_size]
    return Page([item for _, item in found], base64.urlsafe_b64encode(found[-1][0]).decode() if more else "")


def _cursor(page_token: str) -> str:
    """The index member a page token continues after."""
    try:
        entry = base64.urlsafe_b64decode(page_token.encode()).decode()
    except ValueError:
        entry = ""
    if not MEMBER.fullmatch(entry):
        raise InvalidArgument("page_token", "not a token this service gave")
    return entry
