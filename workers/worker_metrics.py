"""A worker's Prometheus metrics: tasks by kind and outcome, training speed, epoch times, the model cache, and the
serving batcher's batch sizes.

A worker node's supervisor (`--role both`) serves both of its processes' metrics on one port: they write them to
a shared folder (prometheus_client's multiprocess mode, PROMETHEUS_MULTIPROC_DIR, set by the supervisor for its
children) and the supervisor reads them when scraped. A process started alone serves its own.
"""
from prometheus_client import Counter, Gauge, Histogram

TASKS = Counter("lenet_worker_tasks", "Work finished by this worker, by kind and outcome", ["kind", "outcome"])
TRAINING_SPEED = Gauge("lenet_training_images_per_second", "Training images per second over the latest batches",
                       multiprocess_mode="livesum")
EPOCH_SECONDS = Histogram("lenet_epoch_seconds", "Wall time of a training epoch, its evaluation included",
                          buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300, 600))
MODEL_CACHE = Counter("lenet_model_cache", "Model loads asked of the cache, by result", ["result"])
BATCH_IMAGES = Histogram("lenet_serving_batch_images", "Images per forward pass of the dynamic batcher",
                         buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 1024, 10_000))
