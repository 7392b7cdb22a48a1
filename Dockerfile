# rowlog as a container: `docker build -t rowlog .` from the repository root.
#
# Build stage: the release binary. librdkafka is built from source by
# rdkafka-sys (bundled; never Debian's librdkafka, which is too old), so the
# stage needs a C toolchain, make, pkg-config and zlib headers.
FROM rust:1.89-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential pkg-config zlib1g-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p rowlog --bin rowlog \
 && strip target/release/rowlog

# Runtime stage: glibc (the binary links it), CA certificates for TLS
# connections, a non-root user.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --no-create-home --uid 10001 rowlog
COPY --from=build /src/target/release/rowlog /usr/local/bin/rowlog
USER rowlog
# The config is mounted here. In a container set `http.listen: 0.0.0.0:8080`
# (the default, 127.0.0.1:8080, is not reachable from outside) and point
# liveness/readiness probes at /healthz and /readyz.
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/rowlog"]
CMD ["run", "-c", "/etc/rowlog/rowlog.yaml"]
