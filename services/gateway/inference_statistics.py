"""Per-model counts and times of this gateway's Open Inference Protocol inferences, for Triton's ModelStatistics.

The gateway sees a call whole (its wait on the serve lane and the worker's computation), so each inference's time
counts as compute_infer and its queue time is not told apart (0)."""
import threading
import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, replace


@dataclass
class Counts:
    success: int = 0
    success_ns: int = 0
    fail: int = 0
    fail_ns: int = 0
    images: int = 0        # images of the successful calls
    last_ms: int = 0       # Unix time of the last call, in milliseconds


class InferenceStatistics:
    def __init__(self):
        self._lock = threading.Lock()
        self._models: dict[str, Counts] = defaultdict(Counts)

    def __contains__(self, model_id: str) -> bool:
        return model_id in self._models

    @contextmanager
    def timing(self, model_id: str, images: int):
        """Count the block as one inference of `images` images, successful unless it raises."""
        started, ok = time.perf_counter_ns(), False
        try:
            yield
            ok = True
        finally:
            elapsed = time.perf_counter_ns() - started
            with self._lock:
                counts = self._models[model_id]
                if ok:
                    counts.success, counts.success_ns = counts.success + 1, counts.success_ns + elapsed
                    counts.images += images
                else:
                    counts.fail, counts.fail_ns = counts.fail + 1, counts.fail_ns + elapsed
                counts.last_ms = int(time.time() * 1000)

    def of(self, model_id: str, name: str, version: str) -> dict:
        """ModelStatistics in the protocol's JSON shape (zero for a model not served yet)."""
        with self._lock:
            counts = replace(self._models.get(model_id, Counts()))
        success = {"count": counts.success, "ns": counts.success_ns}
        zero = {"count": 0, "ns": 0}
        return {"name": name, "version": version, "last_inference": counts.last_ms,
                "inference_count": counts.images, "execution_count": counts.success,
                "inference_stats": {"success": success, "fail": {"count": counts.fail, "ns": counts.fail_ns},
                                    "queue": zero, "compute_input": zero, "compute_infer": success,
                                    "compute_output": zero}}
