# kerasimg developer entry points. `make demo` and `make test` work on a fresh machine:
# each creates .venv from nothing (python3 -m venv, pip install -e ".[test,demo]") first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.kerasimg-installed
export TF_CPP_MIN_LOG_LEVEL ?= 2
# Modules whose docstring examples run as doctests (the data modules show examples on user folders).
DOCTESTED := kerasimg/__init__.py kerasimg/layers kerasimg/export.py kerasimg/_litert.py kerasimg/demo.py kerasimg/cli.py \
             kerasimg/_validate.py kerasimg/_seeds.py kerasimg/_compat.py kerasimg/data/decode.py kerasimg/data/errors.py \
             kerasimg/data/_headers.py kerasimg/data/_exif.py

.PHONY: venv test test-tf test-jax test-torch lint demo bench nightly clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test,demo]"
	touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check kerasimg tests examples benchmarks

# Two pytest workers (pytest-xdist), one test file each at a time: the CI machine has 2 cores.
# Tests marked `nightly` (end-to-end runs that repeat what `make demo` / `make bench` show) are
# left to `make nightly`.
XDIST := -n 2 --dist loadfile

test-tf: $(STAMP)
	KERAS_BACKEND=tensorflow $(BIN)/python -m pytest -q $(XDIST) -m "not nightly" --doctest-modules $(DOCTESTED) tests

# The layer tests again under the JAX backend (the layers are written with keras.ops only).
# In CI: the backend-sensitive part (the contract table for every layer and the TensorFlow-free
# process); `make nightly` runs every layer test under JAX (CI time: 7.5 min for all of them,
# 5.2 min with the properties too, against a 20-minute budget with the install).
JAX_CI := tests/layers/test_contract.py tests/test_layers_without_tensorflow.py
test-jax: $(STAMP)
	KERAS_BACKEND=jax $(BIN)/python -m pytest -q $(XDIST) -m "not nightly" --doctest-modules kerasimg/layers $(JAX_CI)

# The layer tests again under the PyTorch backend. Not part of `make test` (nor CI): the torch
# wheel is large. TORCH names the pip requirement (on Linux, PyPI's torch pulls CUDA libraries:
# point pip at a CPU-only wheel with PIP_INDEX_URL / PIP_FIND_LINKS where you have one).
TORCH ?= torch==2.13.0
test-torch: $(STAMP)
	$(BIN)/python -m pip install -q "$(TORCH)"
	KERAS_BACKEND=torch $(BIN)/python -m pytest -q --doctest-modules kerasimg/layers tests/layers tests/test_torch_backend.py

test: lint test-tf test-jax

# Hypothesis with the large profile (>=5,000 examples per property, >=100,000 fuzz inputs).
nightly: $(STAMP)
	HYPOTHESIS_PROFILE=nightly KERAS_BACKEND=tensorflow $(BIN)/python -m pytest -q $(XDIST) --doctest-modules $(DOCTESTED) tests
	HYPOTHESIS_PROFILE=nightly KERAS_BACKEND=jax $(BIN)/python -m pytest -q $(XDIST) --doctest-modules kerasimg/layers tests/layers tests/test_layers_without_tensorflow.py

# TF_CPP_MIN_LOG_LEVEL=2 keeps TensorFlow's C++ info/warning lines (one per skipped file) off the progress bars
demo: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/kerasimg demo --out kerasimg-demo

bench: $(STAMP)
	$(BIN)/python -m pip install -q -e ".[bench]"
	$(BIN)/python benchmarks/layers.py
	$(BIN)/python benchmarks/pipeline.py

clean:
	rm -rf $(VENV) kerasimg-demo .pytest_cache .hypothesis .ruff_cache
