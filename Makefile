# Entry points for people and CI. `run`, `dev` and `test` install first when needed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# Run history and the embedded S3's data stay inside the project (both gitignored),
# so `make run` and `make dev` see the same runs.
export DAGSTER_HOME ?= $(CURDIR)/.local/dagster_home

.PHONY: install run dev test bench lock s3 clean

install: $(STAMP)

# Bytecode is compiled at install: imports then take ~3 s instead of ~8 s, even where
# PYTHONDONTWRITEBYTECODE keeps Python from caching it on first use.
$(STAMP): pyproject.toml requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv==0.13.9
	$(VENV)/bin/uv pip install --quiet --compile-bytecode --python $(PY) -r requirements.lock
	$(VENV)/bin/uv pip install --quiet --compile-bytecode --python $(PY) --no-deps -e .
	touch $(STAMP)

run: install
	$(PY) -m personalize_assets.cli run

dev: install
	$(PY) -m personalize_assets.cli dev

test: install
	$(PY) -m pytest

bench: install
	$(PY) benchmarks/notebook_vs_graph.py

# Start only the embedded S3 in the foreground (Ctrl+C stops it).
s3: install
	$(PY) -m personalize_assets.cli s3

lock: install
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --python-version 3.11 --no-header -q -o requirements.lock

clean:
	rm -rf $(VENV) .local
