"""Let processes that stream activations reuse freed buffers instead of faulting in fresh pages for each chunk.

Inspect moves activations through the worker, Redis and the gateway in chunks of a few MiB. With glibc's default
malloc settings such buffers come and go as fresh mmaps or are trimmed from the heap, and every reuse then
page-faults its memory in again, which on VMs costs more than copying the bytes (bench/transport_bench.py
measures both ways; figures in BENCHMARKS.md). They keep up to KEEP_FREE_BYTES of
freed memory per process for reuse. Only glibc knows them; elsewhere they do nothing.
"""
import ctypes

MMAP_ABOVE_BYTES = 32 << 20   # allocations below this come from the heap, so chunks reuse freed memory
KEEP_FREE_BYTES = 512 << 20   # freed heap memory kept for reuse rather than returned to the kernel
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters

# The same settings for a child process (e.g. redis-server), read by glibc at its start.
ENVIRONMENT = {"MALLOC_MMAP_THRESHOLD_": str(MMAP_ABOVE_BYTES), "MALLOC_TRIM_THRESHOLD_": str(KEEP_FREE_BYTES)}


def reuse_freed_memory() -> bool:
    """Apply the settings to this process; False where malloc is not glibc's."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_ABOVE_BYTES)) and bool(mallopt(_M_TRIM_THRESHOLD, KEEP_FREE_BYTES))
