"""How many threads MXNet computes with, and on which cores: `use_cores` must run before `import mxnet`.

MXNet 1.9.1 fixes its OpenMP thread count once, when it is imported: with OMP_NUM_THREADS unset it takes half the
processors the process may run on (it assumes two hyper-threads per core), so one thread on a 2-core machine.
Nothing raises it afterwards: `MXSetNumOMPThreads` only changes the OpenMP default of the thread that calls it,
while MXNet's operators and its engine threads keep the count fixed at import. The wheel links GNU OpenMP
(libgomp), which ignores Intel's KMP_AFFINITY; pinning is done here with the process's CPU affinity instead,
which every thread MXNet starts inherits (and which libgomp counts as its processors).

Measured on 2 cores (BENCHMARKS.md): one OpenMP thread per allotted core is the setting that pays. MXNet's engine
options did not (interleaved A/B runs of the engine, 10,000 images): NaiveEngine ran about 5x slower, two engine
worker threads (MXNET_CPU_WORKER_NTHREADS=2) no faster, and binding OpenMP threads to cores (OMP_PROC_BIND) slower
on a shared machine; so they keep their defaults. `python -m bench train` also runs the engine with bulk execution
off, and `python -m bench threads` the splits of a node's cores between a training and a serving process.
"""
import os
import sys
from collections.abc import Iterable

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MXNET_OMP_MAX_THREADS")


def use_cores(cores: int | Iterable[int] | None = None) -> dict[str, str]:
    """Give MXNet one OpenMP thread per core: `cores` is how many (an int), or which CPU ids (the process is then
    pinned to them), or None for every CPU this process may run on. Returns what was set, for the worker's
    start-up line and heartbeat, e.g. {"cpus": "0,1", "pinned": "false", "OMP_NUM_THREADS": "2", …}.

    Raises RuntimeError once mxnet is imported (its thread count is fixed by then) and ValueError for a count
    below 1 or CPU ids this process may not use."""
    if "mxnet" in sys.modules:
        raise RuntimeError("use_cores must run before `import mxnet`: MXNet fixes its thread count when imported")
    allowed = sorted(os.sched_getaffinity(0))
    pinned = cores is not None and not isinstance(cores, int)
    if pinned:
        cpus = sorted(set(cores))
        if not cpus or not set(cpus) <= set(allowed):
            raise ValueError(f"cores must be CPU ids among {allowed}, got {cpus}")
        os.sched_setaffinity(0, cpus)
        threads = len(cpus)
    else:
        threads = len(allowed) if cores is None else cores
        if threads < 1:
            raise ValueError(f"cores must be at least 1, got {cores}")
    settings = {name: str(threads) for name in THREAD_VARIABLES}
    os.environ.update(settings)
    return {"cpus": ",".join(map(str, cpus if pinned else allowed)), "pinned": str(pinned).lower(), **settings}
