# Set-up commands: each creates .venv if missing and installs with constraints.txt.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DATA ?= ../shared/data/multi30k
CONFIG ?= training/configs/default.json
OUTPUT ?= runs/default
STAMP := $(VENV)/.installed

.PHONY: install train test bench clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

train: $(STAMP)
	$(PY) training/train.py $(CONFIG) --data_dir $(DATA) --output_dir $(OUTPUT)

test: $(STAMP)
	HF_ONELAYER_DATA=$(abspath $(DATA)) $(PY) -m pytest -n 2 --dist loadgroup

bench: $(STAMP)
	$(PY) benchmarks/bench_analysis.py

clean:
	rm -rf $(VENV) runs .pytest_cache
