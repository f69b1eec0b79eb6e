# syntax=docker/dockerfile:1
#
# Tessera's container image: the `tessera` binary on distroless (no shell, no package manager),
# running as the non-root user 65532, serving HTTP on 0.0.0.0:8080.
#
#   docker build -t tessera .
#   docker run --rm -p 8080:8080 -v tessera-data:/data tessera        # SQLite in /data/tessera.db
#   docker run --rm -p 8080:8080 -e TESSERA_DATABASE_URL=postgres://user:pass@host:5432/tessera tessera
#
# Needs BuildKit (the default builder of Docker 23+, and `docker buildx`) for the cache mounts.
#
# NETWORK AT BUILD TIME: the build script of crates/tessera-http fetches the pages' scripts (htmx,
# Chart.js, jsQR; crates/tessera-http/web/vendor.txt) as npm tarballs with curl from
# https://registry.npmjs.org (or $TESSERA_NPM_REGISTRY) and checks their pinned sha512 integrity,
# and cargo fetches crates from crates.io. A build without the npm registry still succeeds, with a
# warning, but its pages have no scripts. For an offline build, put the files in a directory and
# pass it with TESSERA_WEB_VENDOR_DIR (see vendor.txt).

ARG RUST_IMAGE=rust:1-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

# ---------------------------------------------------------------------------------------------
FROM ${RUST_IMAGE} AS builder
ARG TARGETPLATFORM
ARG TESSERA_NPM_REGISTRY=https://registry.npmjs.org
ENV TESSERA_NPM_REGISTRY=${TESSERA_NPM_REGISTRY} \
    CARGO_TERM_COLOR=never \
    CARGO_INCREMENTAL=0

# curl and tar for the build script's npm fetch (already in rust:*-bookworm, listed to say so);
# fonts-noto-cjk for the one font file printable tickets are set in (copied to the runtime image).
# Unpinned: bookworm's versions only change with security/point releases.
# hadolint ignore=DL3008
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates curl tar fonts-noto-cjk \
 && rm -rf /var/lib/apt/lists/* \
 && test -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc

WORKDIR /src
# Only what the build reads (the workspace's members; .cargo/config.toml sets the SQLite flags):
# a change to docs/, infra/ or the workflows does not invalidate the build layer.
COPY Cargo.toml Cargo.lock ./
COPY .cargo .cargo
COPY crates crates
COPY bench bench

# The registry and target directories are BuildKit cache mounts: kept between builds on the same
# builder, never part of an image layer. The binary is copied out of the cached target directory.
RUN --mount=type=cache,id=tessera-cargo-registry,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,id=tessera-cargo-git,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,id=tessera-target-${TARGETPLATFORM},target=/src/target,sharing=locked \
    cargo build --profile dist -p tessera --locked \
 && install -D -m 0755 target/dist/tessera /out/tessera \
 && /out/tessera --version

# The working directory of the runtime image, where the defaults put the SQLite database
# (sqlite://tessera.db), the mail outbox (outbox/) and uploaded files (files/).
RUN install -d -m 0750 /out/data

# ---------------------------------------------------------------------------------------------
FROM ${RUNTIME_IMAGE}

COPY --from=builder /out/tessera /usr/local/bin/tessera
# Where Tessera looks for the printable tickets' font by default (TESSERA_PDF_FONT overrides it).
COPY --from=builder /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc \
                    /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
COPY --from=builder --chown=65532:65532 /out/data /data

# The defaults are relative to the working directory: with no configuration, `tessera serve`
# keeps /data/tessera.db, /data/outbox and /data/files, which the non-root user owns. Mount a
# volume there to keep them (a new named volume starts as a copy of this directory, owner included).
WORKDIR /data
VOLUME ["/data"]

USER 65532:65532
ENV TESSERA_LISTEN=0.0.0.0:8080 \
    TESSERA_LOG_FORMAT=json
EXPOSE 8080

# Distroless has no shell or curl: the binary checks http://127.0.0.1:8080/health itself and exits 0
# on 200. (`--start-interval` needs Docker Engine 25+; older engines ignore it.)
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --start-interval=2s --retries=3 \
  CMD ["/usr/local/bin/tessera", "healthcheck"]

# `serve` runs the migrations at start-up and the background work itself (waiting-room admission,
# expiring holds, e-mail and bulk-send jobs); SIGTERM drains in-flight requests (up to 20 s).
ENTRYPOINT ["/usr/local/bin/tessera"]
CMD ["serve"]
