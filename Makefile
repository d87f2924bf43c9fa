# Thin wrappers only: the logic lives in devtools/ and the test suite.
VENV ?= .venv
UPGRADE ?= 0
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# Elsewhere than our machines, point pip at PyTorch's CPU wheels so the pinned torch is not a CUDA build:
#   make test TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
TORCH_INDEX_URL ?=
PIP_TORCH := $(if $(TORCH_INDEX_URL),--extra-index-url $(TORCH_INDEX_URL),)

.PHONY: venv lock up down test test-fast lint screenshots dashboards system-deps clean

# Installs exactly what the locks say (scripts/lock.sh writes them; `make lock` after editing an input):
# requirements/lock.txt, then PyTorch's CPU build from services/trainer/torch.txt, both hash-checked, then
# the project itself, editable and without resolving anything again.
$(STAMP): requirements/lock.txt services/trainer/torch.txt pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes -r requirements/lock.txt
	$(PY) -m pip install --quiet --require-hashes --no-deps $(PIP_TORCH) -r services/trainer/torch.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	$(PY) -m pip check
	touch $(STAMP)

venv: $(STAMP)

# The main job: the whole stack on its embedded default runtime (local here; kind where kind, tilt and docker exist).
up: venv
	$(VENV)/bin/devtools up

down: venv
	$(VENV)/bin/devtools down

# Rewrites the locks from pyproject.toml and the requirements.in files (UPGRADE=1: every pin to the newest allowed).
lock: venv
	UPGRADE=$(UPGRADE) scripts/lock.sh

system-deps:
	scripts/install-system-deps.sh

# The linter and the formatter's check first (seconds, and CI holds them); then unit, static, service, image
# (when a Docker engine answers) and local end-to-end tests, the latter twice: on the local runtime's storage
# (SQLite, a models directory) and on the cluster's (PostgreSQL, S3); then the chaos suite on a stack of its own
# (kills, a PostgreSQL restart, a full replay bound; about three minutes).
# --durations: the slowest tests in every CI log, to keep .ci/run under its 30 minutes.
test: system-deps venv lint
	$(VENV)/bin/pytest tests e2e --target local --durations=25
	$(VENV)/bin/pytest e2e --target local --storage cluster
	$(VENV)/bin/pytest e2e --target local -m chaos

# The fast tiers: unit, static and service tests, without image builds, PostgreSQL or the slow ones. ci.yml runs
# them on every supported Python, newest-dependencies.yml on the newest versions pyproject allows.
test-fast: system-deps venv
	$(VENV)/bin/pytest tests -m "not slow and not docker and not postgres"

# ruff formats everything; a `# fmt: skip` only where an aligned table reads better, its reason after it
# (`# fmt: skip  # why`; tests/test_formatting.py counts them).
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# The README's two screenshots, taken again by the browser test over docs/images/ (a plain test run leaves them).
screenshots: system-deps venv
	UPDATE_SCREENSHOTS=1 $(VENV)/bin/pytest tests/frontend/test_browser.py

# The Grafana dashboards of k8s/components/monitoring/dashboards/, written again from devtools/dashboards.py.
dashboards: venv
	$(PY) -m devtools.dashboards

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
