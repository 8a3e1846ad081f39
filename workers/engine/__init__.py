"""LeNet on MXNet, speaking numpy and MXNet only (no gRPC, Redis or Celery; the shared facts of lenet_protos.contract).
"""
