# Penstock build and test entry points.
#   make deps   install test dependencies (kcat, zincsearch, versitygw; see scripts/deps.sh)
#   make test   deps + go vet + go test -race (see scripts/test.sh)
#   make build  build bin/penstock

.PHONY: test build deps

test:
	scripts/test.sh

build:
	go build -o bin/penstock ./cmd/penstock

deps:
	scripts/deps.sh
