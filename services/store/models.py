"""The model registry: each trained model's metadata with its MXNet checkpoint (symbol JSON + params bytes).

Models are listed newest first through time-ordered indexes (one for everyone's, one per owner) and found by a
unique prefix of their id through a lexicographic index of ids.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable

import redis

from protos import contract
from protos.lenet.v1 import lenet_pb2 as pb
from services.errors import InvalidArgument, NotFound
from services.store import indexes, keys
from services.store.connection import guarded
from services.store.indexes import now


@guarded
class Models:
    def __init__(self, client: redis.Redis):
        self.redis = client

    def save(self, model: pb.Model, symbol_json: str, params: bytes, graph: pb.Graph) -> pb.Model:
        model.id = model.id or uuid.uuid4().hex[:16]
        model.created_at = model.created_at or now()
        entry = indexes.member(model.created_at, model.id)
        with self.redis.pipeline() as tx:
            tx.set(keys.model_meta(model.id), model.SerializeToString())
            tx.hset(keys.model(model.id), mapping={"symbol": symbol_json, "params": params,
                                                   "graph": graph.SerializeToString()})
            for index in _indexes(model):
                tx.zadd(index, {entry: 0})
            tx.zadd(keys.MODEL_IDS, {model.id: 0})
            if model.owner:
                tx.set(keys.OWNED, 1)
            tx.execute()
        return model

    def share(self, model: pb.Model, add, remove) -> pb.Model:
        """Share the model read-only with the users in `add`, and no longer with those in `remove`."""
        shared = (set(model.shared_with) | set(add)) - set(remove) - {model.owner}
        entry = indexes.member(model.created_at, model.id)
        updated = pb.Model()
        updated.CopyFrom(model)
        updated.shared_with[:] = sorted(shared)
        with self.redis.pipeline() as tx:
            tx.set(keys.model_meta(model.id), updated.SerializeToString(), xx=True)
            for user in set(model.shared_with) - shared:
                tx.zrem(keys.models_index(user), entry)
            for user in shared:
                tx.zadd(keys.models_index(user), {entry: 0})
            tx.execute()
        return updated

    def get(self, model_id: str) -> pb.Model:
        meta = self.redis.get(keys.model_meta(model_id))
        if meta is None:
            raise NotFound(f"model {model_id!r} not found")
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

    def page(self, user: str | None = None, page_size: int = 100, page_token: str = "") -> indexes.Page:
        """Models newest first that `user` may read (None: all)."""
        return indexes.page(self.redis, keys.models_index(user), keys.model_meta, pb.Model.FromString,
                            page_size, page_token)

    def resolve(self, reference: str, visible: Callable[[pb.Model], bool], user: str | None) -> pb.Model:
        """The model a reference names among those `visible` to the caller: an id, a unique prefix of one, or
        "latest" (the newest that `user` may read, None: of all)."""
        if reference == contract.LATEST:
            newest = self.page(user, page_size=1).items
            if not newest:
                raise NotFound("no model yet: train one first")
            return newest[0]
        if contract.ID.fullmatch(reference):
            model = self.get(reference)
            if not visible(model):
                raise NotFound(f"model {reference!r} not found")
            return model
        ids = [i.decode() for i in self.redis.zrangebylex(keys.MODEL_IDS, f"[{reference}", f"[{reference}~",
                                                          start=0, num=100)]
        models = [model for model in map(self._maybe, ids) if model is not None and visible(model)]
        if not models:
            raise NotFound(f"no model id starts with {reference!r}")
        if len(models) > 1:
            raise InvalidArgument("model_id", f"{reference!r} starts {len(models)} model ids "
                                              f"({', '.join(m.id for m in models[:3])}…): give more digits")
        return models[0]

    def _maybe(self, model_id: str) -> pb.Model | None:
        meta = self.redis.get(keys.model_meta(model_id))
        if meta is None:
            self.redis.zrem(keys.MODEL_IDS, model_id)
            return None
        return pb.Model.FromString(meta)

    def delete(self, model: pb.Model) -> None:
        entry = indexes.member(model.created_at, model.id)
        with self.redis.pipeline() as tx:
            tx.delete(keys.model_meta(model.id), keys.model(model.id))
            for index in _indexes(model):
                tx.zrem(index, entry)
            tx.zrem(keys.MODEL_IDS, model.id)
            tx.execute()


def _indexes(model: pb.Model) -> list[str]:
    """Every index that lists the model: everyone's, its owner's, and each user's it is shared with."""
    return [keys.models_index(None), keys.models_index(model.owner),
            *(keys.models_index(user) for user in model.shared_with)]
