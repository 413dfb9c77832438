# Every target bootstraps .venv on its own, so a fresh clone needs only Python 3.11+ and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
TEST_STAMP := $(VENV)/.test-installed-stamp
DB     ?= $(or $(MOEWH_DB),warehouse.duckdb)
PORT   ?= 8501

.PHONY: help ingest test fuzz dashboard bench lint clean

help:
	@echo "make ingest     create .venv, install, load the demo data into $(DB)"
	@echo "make test       create .venv, install, run the whole test suite"
	@echo "make fuzz       a long fuzz campaign over every input decoder (FUZZ_EXAMPLES=20000 per target)"
	@echo "make dashboard  start the Streamlit dashboard on port $(PORT)"
	@echo "make bench      run the benchmarks in bench/ (ONLY=views runs the matching ones)"
	@echo "make lint       ruff over the code"

# Running the warehouse needs only the runtime dependencies; the test extras (pyspark,
# playwright, hypothesis, ...) come with the first `make test` or `make bench`.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(TEST_STAMP)

ingest: $(STAMP)
	$(BIN)/moewh --db $(DB) ingest demo

test: $(TEST_STAMP)
	$(BIN)/python -m pytest -q

# The suite runs a fixed, fast fuzz budget; this is the long campaign with fresh randomness
# (failures are saved in .hypothesis/ and replayed first next time).
FUZZ_EXAMPLES ?= 20000
fuzz: $(STAMP)
	FUZZ_CAMPAIGN=1 FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest -q -s -p no:cacheprovider \
		tests/test_fuzz.py --hypothesis-show-statistics

dashboard: $(STAMP)
	$(BIN)/moewh --db $(DB) dashboard --port $(PORT)

bench: $(TEST_STAMP)
	$(BIN)/python -m bench $(ONLY)

lint: $(TEST_STAMP)
	$(BIN)/ruff check warehouse tests bench dashboards

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
