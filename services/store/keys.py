"""Every Redis key name the project uses. Nothing outside services/store builds a key."""

JOBS_EXPIRING = "lenet:jobs:expiring"        # sorted set: "MEMBER|owner|kind|state" of ended jobs → expiry time


def jobs_index(owner: str | None, kind: int, state: int) -> str:
    """Sorted set of the jobs of `owner` (None: everyone's), `kind` and `state` (0: any): members
    "CREATED_MICROSECONDS:ID", all scored 0, so they sort by creation time."""
    return f"lenet:jobs:{'*' if owner is None else 'owner=' + owner}:{kind}:{state}"


def jobs_indexes(owner: str, kind: int, state: int) -> list[str]:
    """Every index a job of this owner, kind and state belongs to."""
    return [jobs_index(who, k, s) for who in (owner, None) for k in (kind, 0) for s in (state, 0)]


def job(job_id: str) -> str:                  # Job protobuf bytes
    return f"lenet:job:{job_id}"


def job_events(job_id: str) -> str:           # stream of JobEvent protobuf bytes (field "pb")
    return f"lenet:job:{job_id}:events"


def job_sent(job_id: str) -> str:             # string: when (Unix time) the job's task was last put on its queue
    return f"lenet:job:{job_id}:sent"


def job_writers(job_id: str) -> str:          # hash: writer → the sequence number of its last numbered event
    return f"lenet:job:{job_id}:writers"


def job_checkpoint(job_id: str) -> str:       # hash: "meta" TrainingCheckpoint bytes, "params" MXNet params bytes
    return f"lenet:job:{job_id}:checkpoint"


def job_datasets(job_id: str) -> str:         # hash: dataset field name → Dataset bytes: indices, uploaded pixels
    return f"lenet:job:{job_id}:datasets"


def job_evaluation(job_id: str) -> str:       # Evaluation protobuf bytes
    return f"lenet:job:{job_id}:evaluation"


def job_keys(job_id: str) -> list[str]:        # everything a job leaves, but its index entries
    return [job(job_id), job_events(job_id), job_writers(job_id), job_checkpoint(job_id), job_datasets(job_id),
            job_evaluation(job_id), job_lease(job_id), job_cancel(job_id), job_sent(job_id)]


def job_requeue(job_id: str, attempt: int) -> str:  # string: set by the one gateway that re-queues this attempt
    return f"lenet:job:{job_id}:requeue:{attempt}"


def idempotency(owner: str, rpc: str, key: str) -> str:  # hash: "job" first created, "request" its hash
    return f"lenet:idempotency:{rpc}:owner={owner}:{key}"


MODEL_IDS = "lenet:models:ids"               # sorted set: every model id, scored 0, for prefix lookups (BYLEX)


def models_index(user: str | None) -> str:    # sorted set of the models `user` may read, their own and those
    return f"lenet:models:{'*' if user is None else 'user=' + user}"  # shared with them (None: all), as jobs_index


OWNED = "lenet:owned"                        # string: set once any job or model has an owner (a secured gateway)
REPLICATION_MARK = "lenet:replication-mark"   # counter: written before a WAIT, so replicas confirm all before it


def model_meta(model_id: str) -> str:         # Model protobuf bytes
    return f"lenet:model:{model_id}"


def model(model_id: str) -> str:              # hash: "graph" Graph bytes, "symbol" JSON, "params" MXNet params bytes
    return f"lenet:model:{model_id}:files"


def model_versions(name: str, user: str | None) -> str:
    """Sorted set of the versions of model name `name` that `user` may read (None: all): members
    "VERSION:ID", VERSION zero-padded to 16 digits, all scored 0, so they sort by version (as models_index)."""
    return f"lenet:name:{name}:versions:{'*' if user is None else 'user=' + user}"


def model_version_counter(name: str) -> str:  # string: the last version given under `name` (never decreases)
    return f"lenet:name:{name}:counter"


def model_aliases(name: str) -> str:          # hash: alias → the "VERSION:ID" member of the version it points at
    return f"lenet:name:{name}:aliases"


def lane_requests(lane: str) -> str:        # list of LaneRequest bytes waiting on a serve lane, oldest first
    return f"lenet:lane:{lane}:requests"


def request_claim(request_id: str) -> str:    # string: the worker that took the request; gone once it is answered
    return f"lenet:request:{request_id}:claim"


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


WORKERS = "lenet:workers"                     # sorted set: live worker name → when its heartbeat expires


def worker(name: str) -> str:                 # Worker protobuf bytes, expiring with the heartbeat
    return f"lenet:worker:{name}"


def celery_queue(lane: str) -> str:           # Celery's Redis transport keeps a queue's waiting messages in a list
    return lane                               # named after the queue


def celery_queues(lane: str) -> list[str]:    # … one list per priority step: the queue's name, then QUEUE\x06\x16P
    return [lane, *(f"{lane}\x06\x16{priority}" for priority in CELERY_PRIORITY_STEPS[1:])]


CELERY_PRIORITY_STEPS = (0, 3, 6, 9)          # kombu's Redis transport: a message of priority P waits in the list of
                                              # the highest step ≤ P; lower steps are served first


def job_lease(job_id: str) -> str:            # string with a TTL: the worker running the job, renewed while it lives
    return f"lenet:job:{job_id}:lease"


def job_cancel(job_id: str) -> str:           # string: set when a cancel was asked for the running job
    return f"lenet:job:{job_id}:cancel"


def sweeps_index(owner: str | None) -> str:   # sorted set of the sweeps of `owner` (None: everyone's), as jobs_index
    return f"lenet:sweeps:{'*' if owner is None else 'owner=' + owner}"


SWEEPS_ACTIVE = "lenet:sweeps:active"         # set: ids of the sweeps not in a final state, for recovery


def sweep(sweep_id: str) -> str:              # Sweep protobuf bytes (its trials without their jobs' figures)
    return f"lenet:sweep:{sweep_id}"


def sweep_lock(sweep_id: str) -> str:         # string with a TTL: the token of whoever advances the sweep now
    return f"lenet:sweep:{sweep_id}:lock"


def sweep_study(sweep_id: str) -> str:        # the prefix of the sweep's Optuna journal (JournalRedisBackend's keys:
    return f"lenet:sweep:{sweep_id}:study"    # PREFIX:log_number, PREFIX:log:N)


def sweep_study_keys(sweep_id: str, log_number: int) -> list[str]:   # every key of the journal
    prefix = sweep_study(sweep_id)
    return [f"{prefix}:log_number", *(f"{prefix}:log:{n}" for n in range(log_number + 1))]
