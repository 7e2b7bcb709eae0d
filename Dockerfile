# syntax=docker/dockerfile:1
#
# The penstock image: one static binary that is broker, worker and CLI.
#
#   docker build -t penstock --build-arg VERSION=v0.1.0 --build-arg COMMIT=$(git rev-parse --short HEAD) .
#   docker run --rm penstock version
#
# Build stage: compiles for the target platform on the build platform's Go
# (no emulation for multi-platform builds), CGO off so the binary is static.
FROM --platform=$BUILDPLATFORM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=0.1.0-dev
ARG COMMIT=unknown
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/penstock ./cmd/penstock \
 && mkdir -p /out/data

# Final stage: distroless static (CA certificates, tzdata, /etc/passwd with
# the nonroot user, no shell), running as uid 65532.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/penstock /usr/local/bin/penstock
# /data is where `penstock broker --data /data` keeps its log; owned by the
# nonroot user so a named volume mounted there starts writable.
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
WORKDIR /data
EXPOSE 8083 9092
ENTRYPOINT ["/usr/local/bin/penstock"]
CMD ["--help"]
