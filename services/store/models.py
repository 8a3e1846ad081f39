"""The model registry: each trained model's metadata with its MXNet checkpoint (symbol JSON + params bytes)."""
from __future__ import annotations

import time
import uuid

import redis

from protos.lenet.v1 import lenet_pb2 as pb
from services.errors import NotFound
from services.store import keys


class Models:
    def __init__(self, client: redis.Redis):
        self.redis = client

    def save(self, model: pb.Model, symbol_json: str, params: bytes, graph: pb.Graph) -> pb.Model:
        model.id = model.id or uuid.uuid4().hex[:16]
        with self.redis.pipeline() as tx:
            tx.hset(keys.model(model.id), mapping={"meta": model.SerializeToString(), "symbol": symbol_json,
                                                   "params": params, "graph": graph.SerializeToString()})
            tx.zadd(keys.MODELS_BY_TIME, {model.id: time.time()})
            tx.execute()
        return model

    def get(self, model_id: str) -> pb.Model:
        meta = self.redis.hget(keys.model(model_id), "meta")
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

    def list(self, limit: int = 100) -> list[pb.Model]:
        ids = self.redis.zrevrange(keys.MODELS_BY_TIME, 0, limit - 1)
        with self.redis.pipeline(transaction=False) as pipe:
            for model_id in ids:
                pipe.hget(keys.model(model_id.decode()), "meta")
            return [pb.Model.FromString(meta) for meta in pipe.execute() if meta is not None]
