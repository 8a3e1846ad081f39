"""The result of each evaluation job (its confusion matrix, statistics and misclassified images), kept beside the
job record, which is read on every batch and listed with the others, and expiring with it."""
from __future__ import annotations

import redis

from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_services.errors import FailedPrecondition
from lenet_services.store import keys
from lenet_services.store.connection import guarded
from lenet_services.store.job_states import state_name


@guarded
class Evaluations:
    def __init__(self, client: redis.Redis):
        self.redis = client

    def save(self, job_id: str, evaluation: pb.Evaluation) -> None:
        self.redis.set(keys.job_evaluation(job_id), evaluation.SerializeToString())

    def get(self, job: pb.Job) -> pb.Evaluation:
        """The evaluation of a SUCCEEDED evaluation job; FailedPrecondition for any other job."""
        if job.kind != pb.EVALUATE:
            raise FailedPrecondition(f"job {job.id} is a {pb.JobKind.Name(job.kind)} job, not an evaluation")
        data = self.redis.get(keys.job_evaluation(job.id))
        if job.state != pb.SUCCEEDED or data is None:
            why = f": {job.error}" if job.error else ""
            raise FailedPrecondition(f"evaluation job {job.id} is {state_name(job.state)}, not SUCCEEDED{why}")
        return pb.Evaluation.FromString(data)
