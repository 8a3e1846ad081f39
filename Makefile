# One entry point for people and CI. `make demo` and `make test` are the README's Quick start.
VENV   ?= .venv
PYTHON ?= python3
BIN     = $(VENV)/bin
# MNIST: $LENET_DATA_DIR when set; else the shared development copy beside the checkout; else the user cache
# (where `lenet demo` downloads the official files when they are missing). The choice is kept in
# $(VENV)/lenet.env, which every `lenet` (and pytest) of the environment reads, so a new shell needs nothing set.
LENET_DATA_DIR ?= $(or $(wildcard $(abspath ../shared/mnist)),$(HOME)/.cache/lenet/mnist)
SETTINGS = $(VENV)/lenet.env

.PHONY: install demo test proto bench up sweep clean

install: $(BIN)/.installed $(SETTINGS)   ## the environment and its settings file (`make` alone)

$(SETTINGS): | $(BIN)/.installed
	printf '%s\n' '# Settings of this environment, written by make: edit them here; a variable set in the' \
	    '# environment wins. See the README'"'"'s Configuration.' 'LENET_DATA_DIR=$(LENET_DATA_DIR)' > $@

# Two distributions from one checkout, both editable: lenet-client (packaging/lenet-client: protos/ and clients/)
# and lenet-service (services/ and workers/), which depends on it.
$(BIN)/.installed: pyproject.toml packaging/lenet-client/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ./packaging/lenet-client -e '.[cpu,dev]'
	touch $@

demo: $(BIN)/.installed $(SETTINGS)   ## the seed notebook through the service, on the embedded stack
	$(BIN)/lenet demo $(ARGS)

test: $(BIN)/.installed $(SETTINGS)   ## unit + integration tests against real redis-server, Celery workers, gateway
	$(BIN)/pytest -q $(ARGS)

sweep: $(BIN)/.installed $(SETTINGS)  ## the recipe search (lenet sweep --preset better) on $$LENET_GATEWAY's service
	$(BIN)/lenet sweep --preset better --wait $(ARGS)

up: $(BIN)/.installed $(SETTINGS)     ## run the embedded stack until Ctrl-C
	$(BIN)/lenet up $(ARGS)

proto: $(BIN)/.installed            ## regenerate protos/lenet/v1/*_pb2*.py and protos/inference/grpc_service.binpb
	$(BIN)/python -m lenet_protos.generate

bench: $(BIN)/.installed $(SETTINGS)  ## benchmarks: print figures, keep them in out/bench/ (ARGS=--write: BENCHMARKS.md)
	$(BIN)/python -m bench $(ARGS)

clean:
	rm -rf $(VENV) *.egg-info packaging/*/*.egg-info .pytest_cache
