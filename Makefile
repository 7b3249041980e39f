# Two commands do all the set-up on a fresh machine with python3 and make:
#   make train   train a model on the built-in synthetic sample (or DATA=path.csv)
#   make test    lint (ruff check, ruff format --check) and run the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
ARGS   ?=

.PHONY: train test lint bench extras clean notebooks pages lab

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

train: $(STAMP)
	$(BIN)/nnscratch train $(if $(DATA),--data $(DATA)) $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check src tests benchmarks notebooks docs/*.py

# the notebooks' .ipynb from their jupytext sources (notebooks/*.py)
notebooks: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[learn]'
	$(BIN)/jupytext --to ipynb --quiet notebooks/[0-9]*.py

# the stage pages as HTML in the package, for the playground's links (after editing one)
pages: $(STAMP)
	$(BIN)/python docs/render_pages.py

# the course in JupyterLab: the notebooks, and a workspace (mynet/) if there is none yet
lab: notebooks
	test -d mynet || $(BIN)/nnscratch learn start mynet
	$(BIN)/jupyter lab notebooks/01_data.ipynb $(ARGS)

# the suite, and every notebook run with its exercises' answers filled in and checked
test: lint notebooks
	NNSCRATCH_SOLUTIONS=1 NNSCRATCH_CHECK_STRICT=1 $(BIN)/python -m pytest -q -n auto \
		--dist worksteal --nbmake tests notebooks $(ARGS)

# the optional extras whose tests skip without them: Dask, the web server, its browser tests
# and the clients its tests drive (Triton's, schemathesis), ONNX export, Parquet, dask-ml's
# Incremental, the search (Optuna)
extras: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[cluster,incremental,serve,web-tests,serve-tests,onnx,parquet,tune]'

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/train_throughput.py $(ARGS)

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache .hypothesis
