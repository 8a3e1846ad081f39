# One entry point for people and CI. `make demo` and `make test` are the README's Quick start.
VENV   ?= .venv
PYTHON ?= python3
BIN     = $(VENV)/bin
# MNIST: $LENET_DATA_DIR when set; else the shared development copy beside the checkout; else the user cache
# (where `lenet demo` downloads the official files when they are missing).
LENET_DATA_DIR ?= $(or $(wildcard $(abspath ../shared/mnist)),$(HOME)/.cache/lenet/mnist)
export LENET_DATA_DIR

.PHONY: demo test proto bench up clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[cpu,dev]'
	touch $@

demo: $(BIN)/.installed          ## the seed notebook through the service, on the embedded stack
	$(BIN)/lenet demo $(ARGS)

test: $(BIN)/.installed          ## unit + integration tests against real redis-server, Celery workers, gateway
	$(BIN)/pytest -q $(ARGS)

up: $(BIN)/.installed            ## run the embedded stack until Ctrl-C
	$(BIN)/lenet up $(ARGS)

proto: $(BIN)/.installed         ## regenerate protos/lenet/v1/*_pb2*.py and protos/inference/grpc_service.binpb
	$(BIN)/python -m protos.generate

bench: $(BIN)/.installed         ## benchmarks: print figures, keep them in out/bench/ (ARGS=--write: BENCHMARKS.md)
	$(BIN)/python -m bench $(ARGS)

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
