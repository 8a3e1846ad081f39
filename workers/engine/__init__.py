"""LeNet on MXNet, speaking numpy and MXNet only (no gRPC, protobuf, Redis or Celery).

Kept free of imports so that `workers.engine.mnist` loads without MXNet.
"""
