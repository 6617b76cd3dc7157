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

# The suite in two passes: first the tests that may share the machine, on every core
# (pytest-xdist: JOBS workers, whole files each), then the exclusive ones -- rates against
# the wall clock, Chromium, benchmark commands -- alone in one process (tests/conftest.py
# lists them). PYTEST_ARGS narrows both passes; a pass that selects nothing is fine (exit 5).
JOBS ?= auto
# Both passes run even when the first fails, and the target fails if either did.
pytest: $(STAMP)
	status=0; \
	$(PY) -m pytest -n $(JOBS) --dist loadfile -m "not exclusive" $(PYTEST_ARGS) \
		|| [ $$? -eq 5 ] || status=1; \
	$(PY) -m pytest -m exclusive $(PYTEST_ARGS) || [ $$? -eq 5 ] || status=1; \
	exit $$status

test: lint typecheck pytest

bench: $(STAMP)
	$(PY) -m benchmarks tick

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
