# One image for the gateway, the dashboard and the workers. MXNET selects the MXNet build: "cpu" (default) or "gpu"
# (mxnet-cu112, which carries its CUDA libraries; the host needs the NVIDIA driver and container toolkit).
FROM python:3.11-slim
ARG MXNET=cpu
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY protos protos
COPY services services
COPY workers workers
COPY clients clients
RUN pip install --no-cache-dir ".[${MXNET}]"
ENV LENET_DATA_DIR=/data/mnist
EXPOSE 50051 8080
CMD ["lenet", "gateway", "--host", "0.0.0.0", "--port", "50051"]
