# Two images from one file, chosen by target (docker-compose.yml builds both):
#   gateway  the gRPC gateway, also used for the one-shot MNIST download: `.[server]`, no MXNet
#   worker   Celery workers with MXNet: `.[cpu]`, or with build arg DEVICE=gpu `.[gpu]` (mxnet-cu112, which carries
#            its CUDA libraries: the host needs only the NVIDIA driver and container toolkit)
# Dependencies come from pyproject.toml alone, in a layer of their own built before any source is copied, so a code
# change rebuilds only the small layer holding the project's own wheel. Both images run as the user "lenet".
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS python
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH

# Third-party dependencies of the gateway: `python deploy/requirements.py pyproject.toml server` (lenet-client's
# own come from its pyproject.toml, beside the root's as in the repository).
FROM python AS gateway-deps
COPY pyproject.toml deploy/requirements.py /build/
COPY packaging/lenet-client/pyproject.toml /build/packaging/lenet-client/
RUN python -m venv /opt/venv \
 && python /build/requirements.py /build/pyproject.toml server > /build/requirements.txt \
 && pip install -r /build/requirements.txt

# Third-party dependencies of a worker: the extra named by DEVICE (cpu or gpu).
FROM python AS worker-deps
ARG DEVICE=cpu
COPY pyproject.toml deploy/requirements.py /build/
COPY packaging/lenet-client/pyproject.toml /build/packaging/lenet-client/
RUN python -m venv /opt/venv \
 && python /build/requirements.py /build/pyproject.toml "$DEVICE" > /build/requirements.txt \
 && pip install -r /build/requirements.txt

# The project's own packages as two wheels, lenet-service and lenet-client: the only stage a code change invalidates.
FROM python AS wheel
WORKDIR /src
COPY pyproject.toml ./
COPY packaging packaging
COPY protos protos
COPY services services
COPY workers workers
COPY clients clients
RUN pip wheel --no-deps --wheel-dir /wheels . ./packaging/lenet-client

# What both images share: the unprivileged user and the MNIST folder, owned by that user so that a new named volume
# mounted there (Docker copies the folder's ownership into it) is writable by the `data` service.
FROM python AS runtime
RUN groupadd --system --gid 10001 lenet \
 && useradd --system --uid 10001 --gid lenet --create-home --home-dir /home/lenet lenet \
 && mkdir -p /data/mnist \
 && chown lenet:lenet /data/mnist
ENV LENET_DATA_DIR=/data/mnist
WORKDIR /home/lenet

FROM runtime AS gateway
COPY --from=gateway-deps /opt/venv /opt/venv
COPY --from=wheel /wheels /wheels
RUN pip install --no-deps /wheels/*.whl && rm -rf /wheels
USER lenet
EXPOSE 50051 8080 9464
CMD ["lenet", "gateway", "--host", "0.0.0.0", "--port", "50051"]

FROM runtime AS worker
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=worker-deps /opt/venv /opt/venv
COPY --from=wheel /wheels /wheels
RUN pip install --no-deps /wheels/*.whl && rm -rf /wheels
USER lenet
EXPOSE 9464
CMD ["lenet", "worker", "--device", "cpu", "--role", "both"]
