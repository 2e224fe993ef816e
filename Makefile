# One-command set-up: `make demo` and `make test` create .venv on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-slow test-props lint install clean bench results fuzz reliability golden

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# Pin the CPU build of torch: an unpinned torch pulls a multi-GB CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev,eval]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m ncodec.demo

lint: $(STAMP)
	$(BIN)/ruff check ncodec tests
	$(BIN)/mypy ncodec

test: $(STAMP) lint
	$(BIN)/pytest -q --durations=10

test-slow: $(STAMP)
	$(BIN)/pytest -q -m slow

# Property tests with a random seed and 30x the examples (make test runs them derandomized):
# for finding new counterexamples, which then go into the tests as explicit @example cases.
test-props: $(STAMP)
	NCODEC_HYPOTHESIS_PROFILE=explore NCODEC_PROPS_SCALE=30 $(BIN)/pytest -q -p no:cacheprovider \
		tests/test_entropy_props.py tests/test_container.py

# The documented fuzz run: 100,000 coverage-guided inputs per registered model (atheris, a
# development tool installed here only), findings and figures in runs/fuzz (docs/RELIABILITY.md).
FUZZ_RUNS ?= 100000
fuzz: $(STAMP)
	$(BIN)/pip install --quiet 'atheris>=2.3'
	$(BIN)/python -m ncodec.fuzz --engine atheris --runs $(FUZZ_RUNS) --out runs/fuzz

# The reliability suite in full: every truncation and every bit flip of each model's largest
# golden file and 5,000 mutants per model (make test runs a sample of each), with the golden,
# thread-count, limits, edge-input, kill and full-disk tests.
reliability: $(STAMP)
	NCODEC_RELIABILITY_FULL=1 $(BIN)/pytest -q tests/test_reliability.py tests/test_nothing_lost.py \
		tests/test_edge_inputs.py

# Regenerate the golden files after a deliberate change (new weights or a new model).
golden: $(STAMP)
	$(BIN)/python -m ncodec.fuzz.seeds --write tests/golden/models

bench: $(STAMP)
	$(BIN)/ncodec bench

results: $(STAMP)
	$(BIN)/python -m ncodec.eval.results

clean:
	rm -rf $(VENV) build *.egg-info
