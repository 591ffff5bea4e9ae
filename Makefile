# Helhet — two commands on a fresh machine: `make run` and `make test`.
# Everything downloaded (uv, Python packages, Kafka and mongo-java-server jars, Chromium) is cached;
# re-running is fast and idempotent.

SHELL := /bin/bash
.DEFAULT_GOAL := help

export HELHET_CACHE_DIR ?= $(HOME)/.cache/helhet
UV_VERSION := 0.13.9
UV_HOME := $(HELHET_CACHE_DIR)/uv-$(UV_VERSION)
UV := $(UV_HOME)/bin/uv
export UV_CACHE_DIR ?= $(HELHET_CACHE_DIR)/uv-cache
export UV_PYTHON_DOWNLOADS := never
PY := .venv/bin/python
# HTTP load generator (bench/loadgen, Go standard library only): a different body per request at a fixed
# arrival rate. Rebuilt only when its source changes.
LOADGEN := $(HELHET_CACHE_DIR)/tools/loadgen-$(shell cat bench/loadgen/main.go bench/loadgen/go.mod | sha256sum | cut -c1-12)
STACK := $(PY) -m deploy.local.stack
# Page tests drive Debian's Chromium through Playwright (Playwright's own browser download is not reachable
# here). Installed once; apt keeps the packages in its cache.
CHROMIUM := /usr/bin/chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
# Chart checks, offline: helm and kubectl-validate built from the Go module proxy (cached by version),
# the custom resources' CRDs (KEDA, Prometheus Operator, Strimzi) fetched from package registries.
HELM_VERSION := v3.22.0
HELM := $(HELHET_CACHE_DIR)/tools/helm-$(HELM_VERSION)/helm
KUBECTL_VALIDATE_VERSION := v0.0.4
KUBECTL_VALIDATE := $(HELHET_CACHE_DIR)/tools/kubectl-validate-$(KUBECTL_VALIDATE_VERSION)/kubectl-validate
CRDS := $(HELHET_CACHE_DIR)/crds-$(shell sha256sum deploy/k8s/fetch-crds.sh | cut -c1-12)
CHART := deploy/k8s/helhet

# Tests get their own ports and data folder, so a running `make run` stack is left alone.
TEST_ENV := HELHET_KAFKA_PORT=39092 HELHET_KAFKA_CONTROLLER_PORT=39093 HELHET_MONGODB_PORT=37017 \
	HELHET_SMTP_SINK_PORT=31025 HELHET_DEV_ISSUER_PORT=38000 HELHET_SMTP_LISTEN_PORT=0 HELHET_INGEST_PORT=38001 HELHET_VAR_DIR=$(CURDIR)/var/test \
	HELHET_KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:39092 \
	HELHET_MONGODB_URI='mongodb://127.0.0.1:37017/?directConnection=true' HELHET_HELM=$(HELM)

.PHONY: help setup run test test-unit chart-check infra-up infra-down lint format schemas bench images clean

help:
	@echo "make run        set up and run the whole local stack with demo data (Ctrl-C stops it)"
	@echo "make test       set up, start what the tests need, run unit + integration + e2e tests, stop"
	@echo "make infra-up   start Kafka + the MongoDB-wire server, provision topics and indexes"
	@echo "make infra-down stop them"
	@echo "make lint       ruff, mypy (strict) and the contract drift check"
	@echo "make chart-check helm lint, every example rendered and validated (Kubernetes 1.30), chart tests"
	@echo "make bench      print this machine's physical-limit figures (bench/results/)"
	@echo "make images     build and smoke-test the OCI image var/images/helhet-<version>.oci.tar (root)"
	@echo "make schemas    regenerate JSON Schema + AsyncAPI from the models"
	@echo "make clean      stop everything and remove local state and the virtualenv"

$(UV):
	python3 -m venv $(UV_HOME)
	$(UV_HOME)/bin/pip install --quiet uv==$(UV_VERSION)

.venv/.synced: pyproject.toml uv.lock | $(UV)
	@# Compiled once here: this environment sets PYTHONDONTWRITEBYTECODE, so every process would
	@# otherwise compile ~1,000 modules (≈ 2 s) at start.
	UV_COMPILE_BYTECODE=1 $(UV) sync --frozen --python python3
	touch $@

setup: .venv/.synced
	$(STACK) fetch

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

run: setup
	$(STACK) run

infra-up: setup
	$(STACK) up

infra-down:
	@if [ -x $(PY) ]; then $(STACK) down; $(TEST_ENV) $(STACK) down; fi

test: setup lint chart-check $(CHROMIUM)
	@# A fresh broker and database each run: tests read topics from the start, so old data only slows them.
	$(TEST_ENV) $(STACK) down >/dev/null
	rm -rf var/test
	$(TEST_ENV) $(STACK) up
	$(TEST_ENV) $(PY) -m pytest; status=$$?; $(TEST_ENV) $(STACK) down; exit $$status

test-unit: .venv/.synced
	$(PY) -m pytest -m "not integration and not e2e"

lint: .venv/.synced
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy .
	$(PY) -m schemas.generate --check

format: .venv/.synced
	.venv/bin/ruff check --fix .
	.venv/bin/ruff format .

schemas: .venv/.synced
	$(PY) -m schemas.generate

$(HELM):
	GOBIN=$(dir $@) GOFLAGS=-mod=mod go install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)

$(KUBECTL_VALIDATE):
	GOBIN=$(dir $@) GOFLAGS=-mod=mod go install sigs.k8s.io/kubectl-validate@$(KUBECTL_VALIDATE_VERSION)

$(CRDS)/.fetched: deploy/k8s/fetch-crds.sh
	deploy/k8s/fetch-crds.sh $(CRDS)
	touch $@

# kubectl-validate knows Kubernetes <= 1.30 offline (1.31+ would be fetched).
chart-check: .venv/.synced $(HELM) $(KUBECTL_VALIDATE) $(CRDS)/.fetched
	@mkdir -p var
	@for values in default $(CHART)/examples/*.yaml; do \
		args=$$([ $$values = default ] || echo "-f $$values"); \
		echo "lint and validate: $$values values"; \
		$(HELM) lint --strict --quiet --kube-version 1.30.0 $(CHART) $$args || exit 1; \
		$(HELM) template helhet $(CHART) --kube-version 1.30.0 $$args > var/chart-rendered.yaml || exit 1; \
		$(KUBECTL_VALIDATE) --version 1.30 --local-crds $(CRDS) var/chart-rendered.yaml || exit 1; \
	done
	HELHET_HELM=$(HELM) $(PY) -m pytest -q tests/chart

$(LOADGEN): bench/loadgen/main.go bench/loadgen/go.mod
	cd bench/loadgen && GOFLAGS=-mod=mod go build -o $@ .

# The test ports, but a data directory of its own: a benchmark leaves 100k customers and their events
# behind, which tests' new consumer groups would otherwise read through first. Emptied before each run:
# what earlier runs left changes the figures (scans read every earlier run's customers).
BENCH_ENV := $(TEST_ENV) HELHET_VAR_DIR=$(CURDIR)/var/bench

bench: setup $(LOADGEN)
	$(BENCH_ENV) $(STACK) down
	rm -rf $(CURDIR)/var/bench
	$(BENCH_ENV) $(STACK) up
	$(BENCH_ENV) $(PY) -m bench --loadgen $(LOADGEN); status=$$?; $(BENCH_ENV) $(STACK) down; exit $$status

# One OCI image for every service (deploy/images/): a debootstrap rootfs instead of a pulled base image, then
# unpacked and run under chroot as a smoke test. Needs root; the rootfs and buildah's storage are cached.
IMAGE_TOOLS := /usr/sbin/debootstrap /usr/bin/buildah /usr/bin/umoci
$(IMAGE_TOOLS) &:
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap buildah umoci

images: $(IMAGE_TOOLS) | $(UV)
	$(SUDO) env UV=$(UV) HELHET_CACHE_DIR=$(HELHET_CACHE_DIR) UV_CACHE_DIR=$(UV_CACHE_DIR) deploy/images/build.sh
	$(SUDO) deploy/images/smoke.sh

clean: infra-down
	rm -rf var .venv bench/results .mypy_cache .ruff_cache .pytest_cache .hypothesis
