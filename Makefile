# One place for every command the README and CI run, so they cannot drift.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
GRADER  := $(BIN)/grader

.PHONY: load hostile selftest schema setup setup-all venv wheelhouse runtime docker image weights redis services chromium lint check test ci demo clean load-celery

# The embedded default: process sandbox only. setup-all adds the Docker engine and images.
setup: venv runtime weights
setup-all: setup image

venv: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $@

wheelhouse:
	scripts/make-wheelhouse.sh

runtime: wheelhouse
	scripts/make-runtime.sh

weights: venv runtime
	$(GRADER) weights standins

docker:
	scripts/install-docker.sh

# The Celery broker for the scale-out tests and load script: redis-server on 127.0.0.1:6379.
redis:
	scripts/install-redis.sh

# Debian's chromium for the LTI pages' headless-browser test (playwright drives it; it never
# downloads a browser). Idempotent; needs root to install.
chromium:
	scripts/install-chromium.sh

# The servers the tests and load runs prove the production setup on: PostgreSQL (the store),
# Redis and RabbitMQ (the brokers). Each must answer on 127.0.0.1; one installed but stopped is
# started, one missing fails here (never a second server on a taken port). Idempotent.
services:
	scripts/services.sh

# A host where the engine cannot start still tests everything else: the Docker tests then skip
# and print why (pytest -rs). The reason is printed here too, never swallowed.
image: venv wheelhouse
	scripts/install-docker.sh && $(GRADER) image build \
	  || echo "warning: Docker backend unavailable on this host; its tests will skip (see above)"

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The contributor's loop, a few minutes on 2 cores: lint, types, and every test that needs
# neither Docker nor Redis (the process sandbox's warm path only; no slow tests).
check: setup
	$(MAKE) lint
	GRADER_TEST_BACKENDS=process-warm $(BIN)/pytest -q -m "not docker and not slow" \
	  --deselect tests/service/test_celery.py

test: setup-all services chromium
	$(BIN)/pytest --durations=30

# The main job on the embedded default: validate the bank, then grade every reference and wrong
# solution, verify snippet and predict key through the process sandbox.
demo: setup
	$(GRADER) validate
	$(GRADER) selftest --backend process

# The bank's self-test on both backends; where the Docker engine cannot run, say so and go on.
# Varying items: 20 seeds each on the warm process path (GRADER_SELFTEST_VARIANTS); the cold
# path and Docker prove 3. Each seed past the first adds about 3 s warm, 15 s on Docker and
# 26 s cold (the shipped bank, 2 cores), so 20 there would add 5 and 8 minutes.
selftest: setup-all
	GRADER_WARM=1 $(GRADER) selftest --backend process
	GRADER_WARM=0 $(GRADER) selftest --backend process --variants 3
	$(GRADER) selftest --backend docker --variants 3; rc=$$?; \
	  if [ $$rc -eq 3 ]; then echo "docker selftest skipped: backend unavailable (reason above)"; \
	  else exit $$rc; fi

# Attacks tried, contained, host damage and lost, per backend (an unavailable one says why).
hostile: setup-all
	GRADER_WARM=1 $(GRADER) hostile
	GRADER_WARM=0 $(GRADER) hostile --backend process

# The course server under load with a SIGKILL mid-grading: sent, delivered, lost, graded twice
# (the last two must be 0, or it exits 1) and throughput, on each store: SQLite, then a scratch
# database on the machine's PostgreSQL.
load: setup services
	$(BIN)/python scripts/load.py --store sqlite
	$(BIN)/python scripts/load.py --store postgres

# GRADER_TEST_STRICT=1: a test that would skip because the runtime, Docker, Redis, PostgreSQL or
# RabbitMQ is missing fails instead (only GPU tests may skip), so a host that lost a backend
# cannot go green.
ci: venv
	$(MAKE) lint
	GRADER_TEST_STRICT=1 $(MAKE) test
	$(MAKE) hostile
	$(MAKE) selftest
	$(MAKE) load
	$(MAKE) load-celery

# Scale-out figures: submissions, reports, lost, duplicated, throughput with one worker vs two
# and with one SIGKILLed, on each broker: Redis (store SQLite), then RabbitMQ (store PostgreSQL).
load-celery: venv services
	$(BIN)/python scripts/load_celery.py --broker redis --store sqlite
	$(BIN)/python scripts/load_celery.py --broker rabbitmq --store postgres

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

schema: venv
	$(GRADER) schema > questions/question.schema.json
	$(GRADER) schema --assignment > assignments/assignment.schema.json
	$(GRADER) schema --expect > solutions/expect.schema.json
