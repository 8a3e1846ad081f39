"""The gRPC gateway: validates requests, queues work on Celery, and serves results from the store.

It never imports MXNet: anything that needs the network runs on a worker.
"""
