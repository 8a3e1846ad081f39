"""The model registry: each trained model's metadata with its MXNet checkpoint (symbol JSON + params bytes), the
versions of each model name and the aliases that point at them.

Models are listed newest first through time-ordered indexes (one for everyone's, one per reader) and found by a
unique prefix of their id through a lexicographic index of ids. Each name has a counter of the versions given, a
version index per reader (members "VERSION:ID", highest version last) and a hash of aliases, each holding the
version member it points at, so resolving NAME@ALIAS is one read and moving an alias is one write.

Who may do what is the gateway's business: this module stores and looks up, whoever asks.
"""
from __future__ import annotations

import hashlib
import uuid

import redis

from lenet_protos import contract
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_services.errors import FailedPrecondition, NotFound
from lenet_services.store import indexes, keys
from lenet_services.store.connection import guarded
from lenet_services.store.indexes import now


def job_model_id(job_id: str) -> str:
    """The id of the model training job `job_id` makes: one per job, so a worker that takes a job over after its
    model was saved saves the same model again (which changes nothing) rather than a second one."""
    return hashlib.sha256(f"model of job {job_id}".encode()).hexdigest()[:16]


def version_member(version: int, model_id: str) -> str:
    """The version indexes' and aliases' entry for version `version` of a name, model `model_id`."""
    return f"{version:016d}:{model_id}"


def member_version(member: bytes | str) -> tuple[int, str]:
    """(version, model id) of a version_member."""
    version, _, model_id = (member.decode() if isinstance(member, bytes) else member).partition(":")
    return int(version), model_id


@guarded
class Models:
    def __init__(self, client: redis.Redis):
        self.redis = client

    def save(self, model: pb.Model, symbol_json: str, params: bytes, graph: pb.Graph) -> pb.Model:
        """Store the model as the next version of its name ("lenet" when it has none). The version is read and
        the counter raised in one transaction watching the counter: saves racing under one name retry instead of
        sharing a version. Saving an id again (a retry after a lost reply) returns the stored record."""
        model.id = model.id or uuid.uuid4().hex[:16]
        model.created_at = model.created_at or now()
        model.name = model.name or contract.DEFAULT_MODEL_NAME
        counter, meta = keys.model_version_counter(model.name), keys.model_meta(model.id)

        def register(tx: redis.client.Pipeline) -> pb.Model:
            stored = tx.get(meta)
            if stored is not None:
                return pb.Model.FromString(stored)
            model.version = int(tx.get(counter) or 0) + 1
            tx.multi()
            tx.incr(counter)
            tx.set(meta, model.SerializeToString())
            tx.hset(keys.model(model.id), mapping={"symbol": symbol_json, "params": params,
                                                   "graph": graph.SerializeToString()})
            for index, entry in _entries(model, _readers(model)):
                tx.zadd(index, {entry: 0})
            tx.zadd(keys.MODEL_IDS, {model.id: 0})
            if model.owner:
                tx.set(keys.OWNED, 1)
            return model
        return self.redis.transaction(register, counter, meta, value_from_callable=True)

    def share(self, model: pb.Model, add, remove) -> pb.Model:
        """Share the model read-only with the users in `add`, and no longer with those in `remove`."""
        shared = (set(model.shared_with) | set(add)) - set(remove) - {model.owner}
        updated = pb.Model()
        updated.CopyFrom(model)
        updated.shared_with[:] = sorted(shared)
        del updated.aliases[:]
        with self.redis.pipeline() as tx:
            tx.set(keys.model_meta(model.id), updated.SerializeToString(), xx=True)
            for index, entry in _entries(model, set(model.shared_with) - shared):
                tx.zrem(index, entry)
            for index, entry in _entries(model, shared):
                tx.zadd(index, {entry: 0})
            tx.execute()
        return updated

    def get(self, model_id: str) -> pb.Model:
        model = self.find(model_id)
        if model is None:
            raise NotFound(f"model {model_id!r} not found")
        return model

    def find(self, model_id: str) -> pb.Model | None:
        """The model, or None (and its id leaves the prefix index) when there is none."""
        meta = self.redis.get(keys.model_meta(model_id))
        if meta is None:
            self.redis.zrem(keys.MODEL_IDS, model_id)
            return None
        return pb.Model.FromString(meta)

    def files(self, model_id: str) -> tuple[str, bytes]:
        """The checkpoint: (symbol JSON, params bytes)."""
        symbol, params = self.redis.hmget(keys.model(model_id), ["symbol", "params"])
        if symbol is None:
            raise NotFound(f"model {model_id!r} not found")
        return symbol.decode(), params

    def graph(self, model_id: str) -> pb.Graph:
        """The network drawing and layer table, computed by the worker that trained the model."""
        data = self.redis.hget(keys.model(model_id), "graph")
        if data is None:
            raise NotFound(f"model {model_id!r} not found")
        return pb.Graph.FromString(data)

    def page(self, user: str | None = None, page_size: int = 100, page_token: str = "",
             name: str = "") -> indexes.Page:
        """Models newest first that `user` may read (None: all); with `name`, that name's versions, highest
        first."""
        index = keys.model_versions(name, user) if name else keys.models_index(user)
        return indexes.page(self.redis, index, keys.model_meta, pb.Model.FromString, page_size, page_token)

    # -- lookups a model reference needs (services/gateway/service.py resolves references) ---------------------
    def with_prefix(self, prefix: str, most: int = 100) -> list[pb.Model]:
        """Up to `most` models whose id starts with `prefix`."""
        ids = self.redis.zrangebylex(keys.MODEL_IDS, f"[{prefix}", f"[{prefix}~", start=0, num=most)
        return [model for model in map(self.find, (i.decode() for i in ids)) if model is not None]

    def version_id(self, name: str, version: int) -> str | None:
        """The id of version `version` of `name`, or None."""
        low = version_member(version, "")
        found = self.redis.zrangebylex(keys.model_versions(name, None), f"[{low}", f"[{low}~", start=0, num=1)
        return member_version(found[0])[1] if found else None

    def alias_target(self, name: str, alias: str) -> tuple[int, str] | None:
        """(version, model id) that alias `alias` of `name` points at, or None."""
        member = self.redis.hget(keys.model_aliases(name), alias)
        return None if member is None else member_version(member)

    def named(self, name: str, user: str | None) -> tuple[tuple[int, str] | None, str | None]:
        """In one round trip: what the production alias of `name` points at (or None), and the id of the highest
        version of `name` that `user` may read (None: of all; None when there is none)."""
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.hget(keys.model_aliases(name), contract.PRODUCTION_ALIAS)
            pipe.zrevrangebylex(keys.model_versions(name, user), "+", "-", start=0, num=1)
            production, newest = pipe.execute()
        return (None if production is None else member_version(production),
                member_version(newest[0])[1] if newest else None)

    # -- aliases ------------------------------------------------------------------------------------------------
    def with_aliases(self, models: list[pb.Model]) -> list[pb.Model]:
        """Copies of the models with `aliases` filled in from their names' alias hashes as they are now (one
        round trip)."""
        names = sorted({model.name for model in models})
        with self.redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hgetall(keys.model_aliases(name))
            by_name = dict(zip(names, pipe.execute()))
        copies = []
        for model in models:
            copy = pb.Model()
            copy.CopyFrom(model)
            copy.aliases[:] = sorted(alias.decode() for alias, member in by_name[model.name].items()
                                     if member_version(member)[1] == model.id)
            copies.append(copy)
        return copies

    def set_alias(self, model: pb.Model, alias: str, expected: tuple[int, str] | None) -> None:
        """Point `alias` of the model's name at the model, if it still points at `expected` (None: nowhere) and
        the model still exists; else FailedPrecondition (someone changed it meanwhile) or NotFound."""
        aliases, meta = keys.model_aliases(model.name), keys.model_meta(model.id)

        def point(tx: redis.client.Pipeline) -> None:
            if not tx.exists(meta):
                raise NotFound(f"model {model.id!r} not found")
            _unchanged(tx, aliases, model.name, alias, expected)
            tx.multi()
            tx.hset(aliases, alias, version_member(model.version, model.id))
        self.redis.transaction(point, aliases, meta)

    def delete_alias(self, name: str, alias: str, expected: tuple[int, str]) -> None:
        """Remove `alias` of `name` if it still points at `expected`; else FailedPrecondition."""
        aliases = keys.model_aliases(name)

        def remove(tx: redis.client.Pipeline) -> None:
            _unchanged(tx, aliases, name, alias, expected)
            tx.multi()
            tx.hdel(aliases, alias)
        self.redis.transaction(remove, aliases)

    def delete(self, model: pb.Model) -> None:
        """Delete the model, its files and its index entries; FailedPrecondition naming the aliases that point
        at it (checked in the same transaction, so an alias set meanwhile is never left pointing at nothing)."""
        aliases = keys.model_aliases(model.name)

        def remove(tx: redis.client.Pipeline) -> None:
            member = version_member(model.version, model.id).encode()
            pointing = sorted(alias.decode() for alias, target in tx.hgetall(aliases).items() if target == member)
            if pointing:
                raise FailedPrecondition(
                    f"model {model.id} is {model.name}/{model.version}, which alias "
                    f"{', '.join(repr(a) for a in pointing)} points at: move or delete the alias first "
                    f"(lenet alias rm {model.name} {pointing[0]})")
            tx.multi()
            tx.delete(keys.model_meta(model.id), keys.model(model.id))
            for index, entry in _entries(model, _readers(model)):
                tx.zrem(index, entry)
            tx.zrem(keys.MODEL_IDS, model.id)
        self.redis.transaction(remove, aliases)


def _unchanged(tx: redis.client.Pipeline, aliases: str, name: str, alias: str,
               expected: tuple[int, str] | None) -> None:
    current = tx.hget(aliases, alias)
    if (None if current is None else member_version(current)) != expected:
        raise FailedPrecondition(f"alias {alias!r} of {name!r} changed meanwhile: try again")


def _readers(model: pb.Model) -> list[str | None]:
    """Whose indexes list the model: everyone's (None), its owner's, and each user's it is shared with."""
    return [None, model.owner, *model.shared_with]


def _entries(model: pb.Model, users) -> list[tuple[str, str]]:
    """(index, member) of every index that lists the model for `users`: the time-ordered models index and, for a
    versioned model, its name's version index."""
    created = indexes.member(model.created_at, model.id)
    version = version_member(model.version, model.id)
    return [entry for user in users
            for entry in [(keys.models_index(user), created),
                          *([(keys.model_versions(model.name, user), version)] if model.version else [])]]
