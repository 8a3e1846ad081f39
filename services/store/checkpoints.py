"""A training job's last epoch checkpoint (its parameters and history so far), from which the next worker resumes
a job whose worker stopped or was lost; dropped when the job succeeds, and expiring with the job otherwise."""
from __future__ import annotations

import redis

from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_services.store import keys
from lenet_services.store.connection import guarded


@guarded
class Checkpoints:
    def __init__(self, client: redis.Redis):
        self.redis = client

    def save(self, job_id: str, checkpoint: pb.TrainingCheckpoint, params: bytes,
             tx: redis.client.Pipeline | None = None) -> None:
        """In `tx` when given (Jobs.record_epoch: the epoch's figures, event and checkpoint together)."""
        (tx or self.redis).hset(keys.job_checkpoint(job_id),
                                mapping={"meta": checkpoint.SerializeToString(), "params": params})

    def get(self, job_id: str) -> tuple[pb.TrainingCheckpoint, bytes] | None:
        meta, params = self.redis.hmget(keys.job_checkpoint(job_id), ["meta", "params"])
        if meta is None:
            return None
        return pb.TrainingCheckpoint.FromString(meta), params

    def drop(self, job_id: str) -> None:
        self.redis.delete(keys.job_checkpoint(job_id))
