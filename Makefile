# Two entry points for a new machine (Python 3.11, pip and git):
#   make demo   - create .venv, install the package, run `sklearn-dsc demo`
#   make test   - create .venv, install the test extras, run ruff and the test suite
# and `make test-oldest`: the test suite in .venv-oldest, under the oldest
# releases that pyproject.toml admits (.ci/oldest.txt).
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
OLDEST_VENV ?= .venv-oldest
OLDEST = $(OLDEST_VENV)/bin
# The CPU build of torch; set TORCH_SPEC to another requirement for another platform.
TORCH_SPEC ?= torch==2.13.0
PYTEST_ARGS ?=

.PHONY: demo test test-oldest docs bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

demo: $(VENV)/.installed
	$(BIN)/sklearn-dsc demo

test: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

$(OLDEST)/python:
	$(PYTHON) -m venv $(OLDEST_VENV)
	$(OLDEST)/python -m pip install --quiet --upgrade pip

$(OLDEST_VENV)/.installed: $(OLDEST)/python pyproject.toml .ci/oldest.txt
	$(OLDEST)/python -m pip install --quiet "$(TORCH_SPEC)" -r .ci/oldest.txt
	$(OLDEST)/python -m pip install --quiet --no-deps -e .
	touch $@

test-oldest: $(OLDEST_VENV)/.installed
	$(OLDEST)/python -m pytest $(PYTEST_ARGS)

# The documentation site, with the example gallery executed; warnings are
# errors. Links to other projects' docs are left out where their sites cannot
# be reached (SKLEARN_DSC_DOCS_OFFLINE=1: without trying); MathJax is copied
# from Debian's libjs-mathjax where installed (docs/conf.py).
docs: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e ".[docs]"
	MPLBACKEND=Agg $(BIN)/sphinx-build -W --keep-going -b html docs docs/_build/html
	$(BIN)/python docs/check_html.py

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/bench_loss.py

clean:
	rm -rf $(VENV) $(OLDEST_VENV) build *.egg-info .pytest_cache .hypothesis docs/_build docs/generated docs/auto_examples
