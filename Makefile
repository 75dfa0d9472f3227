# `make demo`: set up .venv and run the default job.  `make test`: set up .venv and run the tests.
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH ?= torch==2.13.0

.PHONY: setup demo test test-kernels test-all test-gpu lint golden docs clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q "$(TORCH)" || $(PY) -m pip install -q "torch>=2.2"
	$(PY) -m pip install -q -e ".[dev,data]"
	touch $@

setup: $(VENV)/.installed

demo: setup
	$(VENV)/bin/arena run tournament_ring8

test: setup
	$(PY) -m pytest -q -n auto --dist worksteal

# The tests that compare two computation paths, and the golden runs, again at a second kernel level
# (ATen without vector instructions, oneDNN capped at SSE4.1; tests/golden.py SECOND_LEVEL), with a
# compiler cache of its own (inductor's precompiled header is built for one level).
KERNEL_LEVEL := ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=SSE41
# Of the golden runs, one config of each code path ATen's kernels compute (a pair, a toy tournament
# with selection, GMAN and MAD-GAN on the toy data, GMAN's stacked team on PacGAN's convolutional
# agents), to keep the suite within its time; `make golden` records all. The tests of compiled
# rounds are left to `make test`: inductor generates their kernels for the processor itself
# (-march=native), whatever ATen's level.
PATH_TESTS := tests/arena/engine/test_batched.py tests/arena/engine/test_team.py tests/arena/engine/test_packing.py \
	tests/test_golden_runs.py
KERNEL_GOLDEN := pair_ring8 or tournament_ring8 or gman or madgan
test-kernels: setup
	cache=$$(mktemp -d) && $(KERNEL_LEVEL) TORCHINDUCTOR_CACHE_DIR=$$cache $(PY) -m pytest -q -n auto --dist worksteal $(PATH_TESTS) \
		-k "not compiled and (not test_a_short_run_gives_the_recorded_numbers or $(KERNEL_GOLDEN))"; \
	status=$$?; rm -rf $$cache; exit $$status

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

# Re-record the golden runs of NAMES (all shipped configs where empty) here and at the second kernel level.
golden: setup
	$(PY) -m tests.golden $(NAMES)
	$(KERNEL_LEVEL) $(PY) -m tests.golden --add-platform $(NAMES)

test-all: setup
	$(PY) -m pytest -q -n auto -m ""

test-gpu: setup
	$(PY) -m pytest -q -m gpu -rs

docs: setup
	$(PY) -m arena.config.reference > docs/configs.md

clean:
	rm -rf $(VENV) runs
