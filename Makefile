# Two commands for a new machine: `make demo` and `make test`. Both create the virtual
# environment on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# A CPU build of torch that pip finds on local disk here; an unpinned torch would pull a
# multi-GB CUDA build. Override on a GPU machine: make install TORCH_SPEC=torch
TORCH_SPEC ?= torch==2.13.0
# Real photos for the tests that need them; those tests skip, saying why, when unset.
SKFKD_DATA ?= $(abspath $(wildcard ../shared/data))
export SKFKD_DATA

STAMP := $(VENV)/.installed

.PHONY: install demo test lint docs pretrained clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

# The main job, under two minutes (74 s measured): the pretrained landmarker's 68 points on
# skimage.data.astronaut() (astronaut_keypoints.png, in seconds), then the mean shape,
# PCA + ridge and a short CNN run trained and compared on held-out synthetic faces.
# Real photos: make demo DATA=youtube; the CNN's full training: make demo DEMO_ARGS=--full.
DATA ?= synthetic
DATA_PATH ?=
DEMO_ARGS ?=
demo: $(STAMP)
	$(BIN)/skfkd demo --data $(DATA) $(if $(DATA_PATH),--path $(DATA_PATH)) $(DEMO_ARGS)

# Train the pretrained landmarker shipped in skfkd/_data (and its model card) on the shared
# photos, with its held-out figures. Its training, on RGB 128x128 crops, took a median of
# 310 s an epoch on one 2-core CPU (190 to 393 s alone; 144 batches of 64), about 3 h 20 min
# for the 40 epochs; the grey recipe before it took 58 min on the fastest 2-core machine seen
# here and 121 min on another, and colour costs 1.05-1.08 times per batch. Scoring adds a few
# minutes with dlib's predictor cached, and training dlib's 29 to 53 min on a fresh machine. The benchmarks extra
# brings dlib, whose shape predictor the model card compares on the same faces; without it
# the script would leave dlib's rows out. A run that dies resumes from its last epoch when
# started again (its training state is kept in the benchmark cache).
pretrained: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[benchmarks]"
	$(BIN)/python benchmarks/train_pretrained.py

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check skfkd tests benchmarks examples docs
	$(BIN)/ruff format --check skfkd tests benchmarks examples docs

# The documentation site in docs/_build/html: Sphinx with numpydoc and autosummary; warnings
# fail the build, and -E re-reads every page so that a rebuild reports them too. The docs
# extra comes with the dev extra that $(STAMP) installs. The docstring examples are not run
# here: `make test` runs them (pytest --doctest-modules), and tests/test_examples.py runs
# examples/, which the site only shows.
docs: $(STAMP)
	$(BIN)/sphinx-build -W --keep-going -E -b html docs docs/_build/html

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis docs/_build docs/generated docs/auto_examples
