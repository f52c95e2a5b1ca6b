# Two commands do everything on a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup system-deps lint demo test test-fast lab lab-release lab-demo bench build check clean

# The virtual environment is (re)built when pyproject.toml changes.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required, found " + sys.version.split()[0]' \
	  || { echo "error: set PYTHON=/path/to/python3.11 (make PYTHON=python3.11 ...)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first and alone, pinned, so pip takes the CPU wheel and never the CUDA build
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e .
	touch $(STAMP)

setup: $(STAMP)

# Real components the tests start themselves: Chromium (browser tests) and
# PostgreSQL (gradebook test). Installed from Debian when missing and we may.
system-deps:
	@bash tools/system_deps.sh

demo: setup
	$(BIN)/course demo

# Two test workers on two cores: one BLAS thread each, or tiny matmuls in the
# notebooks' kernels oversubscribe the CPU and run ten times slower.
TEST_ENV := OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1

# The linter (rules in pyproject.toml) over the code and its tests.
lint: setup
	$(BIN)/ruff check autograder course_lib tests bench tools
	$(BIN)/mypy

test: setup system-deps lint
	$(BIN)/course build --check
	$(TEST_ENV) $(BIN)/python -m pytest -n 2 --dist loadfile --durations=25

test-fast: setup
	$(TEST_ENV) $(BIN)/python -m pytest -n 2 --dist loadfile -m "not slow and not browser and not postgres"

# JupyterLab at the repo root (where nbgrader_config.py is), opening on
# notebooks/; the venv's bin on PATH because nbgrader runs its `alembic`.
lab: setup lab-release
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)" --ServerApp.default_url=/lab/tree/notebooks

# The Assignments tab lists what is in nbgrader's exchange (instance/exchange,
# course dl-course, from nbgrader_config.py): put the committed release of every
# unit there, replacing an older copy, so a student can fetch it.
lab-release:
	@$(BIN)/python -c "from autograder.commands.build import release_to_exchange; release_to_exchange()"

# nbgrader's formgrader on the demo instance (run `make demo` first).
lab-demo: setup
	cd instance/demo && PATH="$(CURDIR)/$(BIN):$$PATH" $(CURDIR)/$(BIN)/jupyter lab

bench: setup
	$(BIN)/python -m bench

build: setup
	$(BIN)/course build

clean:
	rm -rf instance .pytest_cache bench/results.json tests/artifacts
