"""Service side of LeNet-as-a-service: the Redis store, the gRPC gateway and the embedded stack."""
