# Thin wrappers only: the logic lives in devtools/ and the test suite.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# Elsewhere than our machines, point pip at PyTorch's CPU wheels so the pinned torch is not a CUDA build:
#   make test TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
TORCH_INDEX_URL ?=
PIP_TORCH := $(if $(TORCH_INDEX_URL),--extra-index-url $(TORCH_INDEX_URL),)

.PHONY: venv up down test lint system-deps clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(PIP_TORCH) torch==2.13.0
	$(PY) -m pip install --quiet $(PIP_TORCH) -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# The main job: the whole stack on its embedded default runtime (local here; kind where kind, tilt and docker exist).
up: venv
	$(VENV)/bin/devtools up

down: venv
	$(VENV)/bin/devtools down

system-deps:
	scripts/install-system-deps.sh

# Unit, static, service, image (when a Docker engine answers) and local end-to-end tests, the latter twice:
# on the local runtime's storage (SQLite, a models directory) and on the cluster's (PostgreSQL, S3); then the
# chaos suite on a stack of its own (kills, a PostgreSQL restart, a full replay bound; about three minutes).
test: system-deps venv
	$(VENV)/bin/pytest tests e2e --target local
	$(VENV)/bin/pytest e2e --target local --storage cluster
	$(VENV)/bin/pytest e2e --target local -m chaos

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
