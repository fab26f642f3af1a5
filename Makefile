# Two entry points for a new machine (Python 3.11, pip and git):
#   make demo   - create .venv, install the package, run `sklearn-dsc demo`
#   make test   - create .venv, install the test extras, run ruff and the test suite
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
# The CPU build of torch; set TORCH_SPEC to another requirement for another platform.
TORCH_SPEC ?= torch==2.13.0
PYTEST_ARGS ?=

.PHONY: demo test docs bench clean

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
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis docs/_build docs/generated docs/auto_examples
