# The Python suite: pip-install the package (C core + thin binding, built
# by setup.py against the system libssl), then pytest against real servers
# on 127.0.0.1.  Run from the repo root: `make test-python`.
PYTHON ?= python3

# Builds and installs the package for $(PYTHON) (the demo uses it too).
python-install:
	$(PYTHON) -m pip install -q --disable-pip-version-check \
	    --root-user-action=ignore .

test-python: python-install
	TLSR_ROOT=$(CURDIR) $(PYTHON) -m pytest -q -p no:cacheprovider tests/python

TEST_TARGETS += test-python

# Python bench (figures only): binding overhead vs raw i2d/d2i, and a new
# process resuming vs not.  PY_BENCH_ARGS="--seconds 0.5 --runs 5": quick.
bench-python:
	@mkdir -p $(BENCH_OUT)
	@$(MAKE) --no-print-directory python-install
	$(PYTHON) bench/python_bench.py $(PY_BENCH_ARGS) | tee $(BENCH_OUT)/python.txt

BENCH_TARGETS += bench-python
.PHONY: bench-python python-install test-python
