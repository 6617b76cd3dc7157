# Tickwire: the two commands are `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest bench clean venv

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

venv: $(STAMP)

# make demo GAME=shooter (or tag, rts, arena, or a definition's path)
# make demo WORKERS=2: a cluster (Redis, 2 nodes, an nginx front, bots on every node)
demo: $(STAMP)
ifdef WORKERS
	$(PY) -m server.cluster.demo --workers $(WORKERS) $(if $(GAME),--game $(GAME))
else
	$(PY) -m server.demo $(if $(GAME),--game $(GAME))
endif

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

pytest: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

test: lint typecheck pytest

bench: $(STAMP)
	$(PY) -m benchmarks tick

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
