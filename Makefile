# The two commands: `make run` (set up and serve the demo) and `make test` (set up, lint, all tests).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
SPA_INDEX := frontend/dist/index.html
HAS_FRONTEND := $(wildcard frontend/package.json)
PYTEST_ARGS ?=

.PHONY: run test install lint api-types check-api-types test-python test-frontend build chromium bench clean

run: install build
	$(BIN)/waymark run

test: install build chromium lint test-frontend test-python

install: $(PY_STAMP) $(if $(HAS_FRONTEND),$(NODE_STAMP))

$(PY_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

$(NODE_STAMP): package.json $(wildcard package-lock.json) $(wildcard frontend/package.json)
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

build: $(if $(HAS_FRONTEND),$(SPA_INDEX))

$(SPA_INDEX): $(NODE_STAMP) $(shell find frontend/src frontend/index.html frontend/vite.config.ts frontend/tsconfig*.json -type f 2>/dev/null)
	npm run build -w frontend

# End-to-end tests drive Debian's Chromium; never a downloaded browser.
chromium:
	@command -v chromium >/dev/null || { \
	  echo "installing Debian's chromium for the end-to-end tests"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; fi; }

lint: $(PY_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(if $(HAS_FRONTEND),npm run typecheck -w frontend)
	$(if $(HAS_FRONTEND),$(MAKE) --no-print-directory check-api-types)

# The SPA's API types are generated from the server's OpenAPI document; lint fails when they drift.
api-types: install
	$(BIN)/python scripts/openapi.py var/openapi.json
	npx --no-install openapi-typescript var/openapi.json -o frontend/src/api/schema.gen.ts --silent

check-api-types: install
	@tmp=$$(mktemp -d) && $(BIN)/python scripts/openapi.py $$tmp/openapi.json \
	  && npx --no-install openapi-typescript $$tmp/openapi.json -o $$tmp/schema.gen.ts --silent \
	  && { cmp -s $$tmp/schema.gen.ts frontend/src/api/schema.gen.ts \
	       || { echo "frontend/src/api/schema.gen.ts is not generated from the current API: run make api-types"; exit 1; }; }

test-frontend: $(if $(HAS_FRONTEND),$(NODE_STAMP))
	$(if $(HAS_FRONTEND),npm test -w frontend)

test-python: $(PY_STAMP)
	$(BIN)/pytest -q -n 2 $(PYTEST_ARGS)

bench: install
	$(BIN)/python bench/interpreter.py --contacts 100000

clean:
	rm -rf $(VENV) node_modules frontend/dist var .pytest_cache .ruff_cache
