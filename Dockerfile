# syntax=docker/dockerfile:1
# pgq worker image: `pgq run --config /etc/pgq/config.yaml`.
#
#   docker build -t pgq:0.2.0 .        (or: buildah bud; see docs/deployment.md, "The image")
#   docker run --rm --read-only -v $PWD/config:/etc/pgq:ro pgq:0.2.0
#
# Two stages on Debian bookworm: the build stage compiles the `pgq` binary with Debian's
# -dev packages (the same ones ci/deps installs); the runtime stage holds only the shared
# libraries the binary links against (checked against the binary by tests/scripts/deploy_image_static.sh)
# and the binary. It runs as the numeric non-root user 65532, writes nothing outside /tmp,
# and so works with a read-only root filesystem.

# Pin the base by digest for a release build (docs/deployment.md shows how to look it up):
#   --build-arg DEBIAN_IMAGE=debian:bookworm-slim@sha256:<digest>
# The default stays a tag: tests/scripts/image.sh builds on a base it makes itself with
# debootstrap and commits under this name, and a locally made image has no registry digest.
ARG DEBIAN_IMAGE=debian:bookworm-slim

# ---- build ---------------------------------------------------------------------------------
FROM ${DEBIAN_IMAGE} AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config \
      libpqxx-dev libpq-dev prometheus-cpp-dev libspdlog-dev libyaml-cpp-dev libcli11-dev \
      nlohmann-json3-dev libcurl4-openssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY cmake/ cmake/
COPY include/ include/
COPY src/ src/
COPY worker/ worker/
COPY examples/ examples/
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DPGQ_BUILD_TESTS=OFF -DPGQ_BUILD_BENCH=OFF \
 && cmake --build /build --target pgq \
 && install -D -s -m 0755 /build/worker/pgq /out/usr/local/bin/pgq

# ---- runtime -------------------------------------------------------------------------------
FROM ${DEBIAN_IMAGE} AS runtime
# OCI annotations: where the image comes from and which commit it is.
ARG PGQ_VERSION=0.2.0
ARG PGQ_REVISION=unknown
ARG PGQ_SOURCE=""
LABEL org.opencontainers.image.title="pgq" \
      org.opencontainers.image.description="PgQueuer-compatible PostgreSQL job queue worker" \
      org.opencontainers.image.source="${PGQ_SOURCE}" \
      org.opencontainers.image.version="${PGQ_VERSION}" \
      org.opencontainers.image.revision="${PGQ_REVISION}"
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libpqxx-6.4 libpq5 libspdlog1.10 libfmt9 libyaml-cpp0.7 \
      libprometheus-cpp-core1.0 libprometheus-cpp-pull1.0 libcivetweb1 libcurl4 \
      ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /etc/pgq/secrets
COPY --from=build /out/ /
# 65532: the conventional "nonroot" uid/gid; numeric so that Kubernetes can verify
# runAsNonRoot without reading /etc/passwd.
USER 65532:65532
WORKDIR /tmp
# /metrics, /livez, /readyz
EXPOSE 9090
ENTRYPOINT ["pgq", "run", "--config", "/etc/pgq/config.yaml"]
