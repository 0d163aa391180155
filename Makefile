# Two entry points (see README): `make report` (campaign + book) and `make test`.
PYTHON   ?= python3
VENV     ?= .venv
PY       := $(VENV)/bin/python
CAMPAIGN ?= quick
DATASET  ?=
EXTRA    ?=

.PHONY: install report campaign book test test-fast lint bench clean-book lab explore

# uv, when it is on PATH, installs the same packages from its cache in seconds; pip unpacks torch's 5.5 GB
# again on every fresh clone (about 3.5 minutes here).
UV       ?= $(shell command -v uv 2>/dev/null)
# Every process started from here writes the bytecode of the modules it imports, as Python does by default:
# where PYTHONDONTWRITEBYTECODE is set (as on these machines) each kernel would compile torch and timm again
# (10-15 CPU-s), and compiling the whole venv at install (uv --compile-bytecode: 19,000 modules, most never
# imported) costs about 55 CPU-s; the modules a run imports take about 10 once. (A live notebook's stop button
# once landed while a kernel compiled matplotlib and left it half-imported: the live display now imports its
# plotting before training, and a stop inside that import removes the half, tests/test_progress.py.)
export PYTHONDONTWRITEBYTECODE :=

# rfc3987-syntax, jsonschema's optional IRI format checker (its format-nongpl extra, which jupyter-events asks
# for), compiles 38 Earley grammars when jsonschema is imported (nbformat imports it): 1.6 CPU-s in every kernel,
# papermill and jupyter-book process (papermill running a 2-step train notebook from a fresh process: 12.7 CPU-s
# with it, 9.8 without), for a format no notebook schema uses (python-jsonschema/jsonschema#1428). jsonschema skips
# that checker when the package is absent.
$(VENV)/.installed: pyproject.toml
ifneq ($(UV),)
	$(UV) venv -q --seed --allow-existing --python $(PYTHON) $(VENV)
	$(UV) pip install -q --python $(PY) -e ".[dev]"
else
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -e ".[dev]"
endif
	$(PY) -m pip uninstall -y -q rfc3987-syntax
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (cifar100lab)" >/dev/null
	touch $@

install: $(VENV)/.installed

campaign: install
	$(PY) -m cifar100lab campaign params/$(CAMPAIGN).yaml $(if $(DATASET),--dataset $(DATASET)) $(EXTRA)

book: install
	$(PY) -m cifar100lab book

# The main job: run the campaign (skipping finished runs), analyse it, build the bilingual book.
# Exit status 2 is bad input (no data, a bad campaign file): nothing ran, so no book is built and the
# error stays the last thing printed.
report: install
	$(PY) -m cifar100lab campaign params/$(CAMPAIGN).yaml $(if $(DATASET),--dataset $(DATASET)) $(EXTRA); \
	  status=$$?; [ $$status -eq 2 ] && exit 2; $(PY) -m cifar100lab book && exit $$status

# Four workers (pytest-xdist) on these two cores, each taking whole modules, so a module's shared fixtures (a
# campaign, a cluster, a built book) are made once. Much of the suite waits (on kernels starting, Slurm's
# scheduler, a browser), and the extra workers fill those waits: on an AMD EPYC here, 597 s and 634 s with four
# against 697 s with three (a stray kernel trained beside that one), and 473 s with six against 470 s with four
# on 2026-12-05, both cores busy throughout (/proc/stat; `time` misses the Slurm jobs, browsers and servers); on an
# Intel Xeon earlier, 548 s with three against 785 s with two. xdist hands the modules out most tests first, which
# mixes long and short ones; handing out the longest first (--no-loadscope-reorder) was slower: the heaviest ran
# side by side, each about 1.5 times as long. TEST_WORKERS=0 runs the suite in this one process.
TEST_WORKERS ?= 4
xdist = $(if $(filter 0,$(1)),-p no:xdist,-n $(1) --dist loadfile)

test: install
	$(PY) -m pytest -q $(call xdist,$(TEST_WORKERS)) $(PYTEST_ARGS)

# The inner loop: everything but the tests marked slow (kernels, clusters, browsers, seconds of training). Its
# tests compute and wait on nothing, so one worker per core keeps both busy; more would each import torch and
# collect the suite again (README, Timings).
FAST_WORKERS ?= 2
test-fast: install
	$(PY) -m pytest -q -m "not slow" $(call xdist,$(FAST_WORKERS)) $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .

# Speed records for the Performance page (CPU; a GPU machine runs benchmarks/gpu_check.sh instead).
# Each writes its record when it ends; run them on an otherwise idle machine.
bench: install
	$(PY) -m cifar100lab bench --models resnet_20 --compile --steps 30 --repeats 3 \
	  --out benchmarks/records/cpu-resnet_20.json
	$(PY) -m cifar100lab timed-runs benchmarks/fashion_check.yaml --out benchmarks/records/cpu-fashion-check.json
	$(PY) -m cifar100lab bench --campaign params/quick.yaml --dataset fashion-mnist --steps 4 --warmup 1 \
	  --out benchmarks/records/cpu-quick-epoch-times.json
	$(PY) benchmarks/checkpoint_write.py --out benchmarks/records/cpu-checkpoint-write.json
	$(PY) benchmarks/cpu_precision.py --threads 2 --out benchmarks/records/cpu-precision.json
	$(PY) benchmarks/eval_batch.py --threads 2 --out benchmarks/records/cpu-eval-batch.json

# Working interactively: JupyterLab on notebooks/ with the project's kernel, which works in the project folder
# (so runs/ and params/ are where a campaign has them); it prints the URL with its token.
LAB_PORT ?= 8888
# a container's root user (JupyterLab refuses root without it)
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)
lab: install
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks --MappingKernelManager.root_dir=$(CURDIR) \
	  --port=$(LAB_PORT) --no-browser $(ALLOW_ROOT)

# The run explorer as an app without code cells (Voila), reading the run records under runs/. A page's kernel is
# shut down when it is left, if Voila's shutdown call gets through (with jupyter_server 2.21 it is refused: no
# _xsrf); the culler stops a kernel no page has been connected to for 5 minutes, so visits do not pile up.
explore: install
	$(VENV)/bin/voila $(CURDIR)/notebooks/explore.ipynb --Voila.root_dir=$(CURDIR)/notebooks \
	  --MappingKernelManager.root_dir=$(CURDIR) --MappingKernelManager.cull_idle_timeout=300 \
	  --MappingKernelManager.cull_interval=60 --port=$(LAB_PORT) --no-browser
