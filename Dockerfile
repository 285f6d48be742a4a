# syntax=docker/dockerfile:1
# pgq worker image: `pgq run --config /etc/pgq/config.yaml`.
#
#   docker build -t pgq:0.2.0 .        (or: buildah bud; see docs/deployment.md, "The image")
#   docker run --rm --read-only -v $PWD/config:/etc/pgq:ro pgq:0.2.0
#
# Three stages. `build` (Debian bookworm) compiles the `pgq` binary with Debian's -dev
# packages (the same ones ci/deps installs). `rootfs` gathers exactly what the binary loads:
# the shared libraries `ldd` names (with the dynamic loader), the CA bundle, a passwd entry for
# 65532 and an empty /tmp. `runtime` is FROM scratch with that tree: no shell, no package
# manager, nothing the worker does not load (tests/scripts/image.sh checks the library set
# against the binary, the size and the absence of a shell). It runs as the numeric non-root
# user 65532, writes nothing outside /tmp, and so works with a read-only root filesystem.
# Debugging a running pod: `kubectl debug -it POD --image=debian:bookworm-slim
# --target=worker` (an ephemeral container sharing the worker's process namespace).

# Pin the base by digest for a release build (docs/deployment.md shows how to look it up):
#   --build-arg DEBIAN_IMAGE=debian:bookworm-slim@sha256:<digest>
# The default stays a tag. tests/scripts/image.sh builds on a base it makes itself with
# debootstrap (a local name passed as DEBIAN_IMAGE); a locally made image has no digest.
ARG DEBIAN_IMAGE=debian:bookworm-slim

# ---- build ---------------------------------------------------------------------------------
FROM ${DEBIAN_IMAGE} AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config \
      libpqxx-dev libpq-dev prometheus-cpp-dev libspdlog-dev libyaml-cpp-dev libcli11-dev \
      nlohmann-json3-dev libcurl4-openssl-dev ca-certificates \
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

# ---- rootfs: exactly what the binary loads ------------------------------------------------
FROM build AS rootfs
RUN set -eu; \
    install -d -m 0755 /rootfs/etc/pgq/secrets /rootfs/etc/ssl/certs; \
    install -d -m 1777 /rootfs/tmp; \
    cp -a /out/. /rootfs/; \
    ldd /rootfs/usr/local/bin/pgq | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' \
      | sort -u > /libraries; \
    while read -r lib; do cp -L --parents "$lib" /rootfs/; done < /libraries; \
    cp -L /etc/ssl/certs/ca-certificates.crt /rootfs/etc/ssl/certs/; \
    echo 'nonroot:x:65532:65532:nonroot:/tmp:/nonexistent' > /rootfs/etc/passwd; \
    echo 'nonroot:x:65532:' > /rootfs/etc/group; \
    printf 'passwd: files\ngroup: files\nhosts: files dns\n' > /rootfs/etc/nsswitch.conf

# ---- runtime -------------------------------------------------------------------------------
FROM scratch AS runtime
# OCI annotations: where the image comes from and which commit it is.
ARG PGQ_VERSION=0.2.0
ARG PGQ_REVISION=unknown
ARG PGQ_SOURCE=""
LABEL org.opencontainers.image.title="pgq" \
      org.opencontainers.image.description="PgQueuer-compatible PostgreSQL job queue worker" \
      org.opencontainers.image.source="${PGQ_SOURCE}" \
      org.opencontainers.image.version="${PGQ_VERSION}" \
      org.opencontainers.image.revision="${PGQ_REVISION}"
COPY --from=rootfs /rootfs/ /
ENV PATH=/usr/local/bin
# 65532: the conventional "nonroot" uid/gid; numeric so that Kubernetes can verify
# runAsNonRoot without reading /etc/passwd.
USER 65532:65532
WORKDIR /tmp
# /metrics, /livez, /readyz
EXPOSE 9090
ENTRYPOINT ["pgq", "run", "--config", "/etc/pgq/config.yaml"]
