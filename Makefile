# `make demo`: set up .venv and run the default job.  `make test`: set up .venv and run the tests.
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH ?= torch==2.13.0

.PHONY: setup demo test test-all test-gpu docs clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q "$(TORCH)" || $(PY) -m pip install -q "torch>=2.2"
	$(PY) -m pip install -q -e ".[dev,data]"
	touch $@

setup: $(VENV)/.installed

demo: setup
	$(VENV)/bin/arena run configs/tournament_ring8.yaml

test: setup
	$(PY) -m pytest -q -n auto

test-all: setup
	$(PY) -m pytest -q -n auto -m ""

test-gpu: setup
	$(PY) -m pytest -q -m gpu -rs

docs: setup
	$(PY) -m arena.config.reference > docs/configs.md

clean:
	rm -rf $(VENV) runs
