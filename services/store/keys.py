"""Every Redis key name the project uses. Nothing outside services/store builds a key."""

JOBS_BY_TIME = "lenet:jobs"                  # sorted set: job id → created time


def job(job_id: str) -> str:                  # Job protobuf bytes
    return f"lenet:job:{job_id}"


def job_events(job_id: str) -> str:           # stream of JobEvent protobuf bytes (field "pb")
    return f"lenet:job:{job_id}:events"


def job_checkpoint(job_id: str) -> str:       # hash: "meta" TrainingCheckpoint bytes, "params" MXNet params bytes
    return f"lenet:job:{job_id}:checkpoint"


def job_uploads(job_id: str) -> str:          # hash: dataset field name → Dataset bytes with the uploaded pixels
    return f"lenet:job:{job_id}:uploads"


def job_evaluation(job_id: str) -> str:       # Evaluation protobuf bytes
    return f"lenet:job:{job_id}:evaluation"


def job_requeue(job_id: str, attempt: int) -> str:  # string: set by the one gateway that re-queues this attempt
    return f"lenet:job:{job_id}:requeue:{attempt}"


def idempotency(key: str) -> str:             # string: job id first created under this key
    return f"lenet:idempotency:{key}"


MODELS_BY_TIME = "lenet:models"              # sorted set: model id → created time


def model(model_id: str) -> str:              # hash: "meta" Model, "graph" Graph, "symbol" JSON, "params" bytes
    return f"lenet:model:{model_id}"


def request_input(request_id: str) -> str:    # protobuf request bytes a worker reads; gone once the worker is done
    return f"lenet:request:{request_id}:input"


def request_reply(request_id: str) -> str:    # list: one WorkerReply for a synchronous request
    return f"lenet:request:{request_id}:reply"


def request_chunks(request_id: str) -> str:   # stream of TensorChunk bytes (field "pb"), or "end"/"error" entries
    return f"lenet:request:{request_id}:chunks"


def request_credits(request_id: str) -> str:  # list: one token per chunk the worker may still send
    return f"lenet:request:{request_id}:credits"


def request_cancel(request_id: str) -> str:   # string set when the client went away
    return f"lenet:request:{request_id}:cancel"


REQUEST_PATTERN = "lenet:request:*"


def request_of(key: str) -> tuple[str, str]:  # (request id, part) of a request key, e.g. (id, "chunks")
    _, _, request_id, part = key.split(":", 3)
    return request_id, part


def worker(name: str) -> str:                 # hash with a TTL: a live worker's device, queue, pid
    return f"lenet:worker:{name}"


WORKER_PATTERN = "lenet:worker:*"
