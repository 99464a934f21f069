# gokafka: `make run` starts ZooKeeper and one broker locally, `make test`
# runs every test. See README.md.

GO       ?= go
BIN      := bin/gokafka
# Unit-test packages run with the race detector; the end-to-end packages run
# the broker as a separate process, so -race on the test binary buys nothing.
E2E_PKGS  := ./compat-tests/... ./internal/testcluster/... ./internal/clusterbench/...
UNIT_PKGS  = $(shell $(GO) list ./... | grep -v -e /compat-tests -e /internal/testcluster -e /internal/clusterbench)
FUZZTIME ?= 5s

.PHONY: all build run test vet unit e2e fuzz-short fuzz bench bench-cluster clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/gokafka

## run: ZooKeeper on 127.0.0.1:2181 and a broker on 127.0.0.1:9092; Ctrl-C stops both.
run: build
	scripts/run-local.sh

## test: vet, unit tests (race), end-to-end tests, a short run of every fuzz target.
test: vet unit e2e fuzz-short

vet:
	$(GO) vet ./...

unit:
	$(GO) test -race -p 2 -timeout 15m $(UNIT_PKGS)

# The end-to-end tests use the binary built here rather than building their own.
e2e: build
	GOKAFKA_BIN=$(CURDIR)/$(BIN) $(GO) test -p 1 -timeout 15m $(E2E_PKGS)

fuzz-short:
	FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

## fuzz: every fuzz target for FUZZTIME (default here: 2 minutes each).
fuzz: FUZZTIME = 2m
fuzz:
	FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

## bench: throughput of a local broker (scripts/bench.sh), then the
## replication benchmarks (bench-cluster) unless BENCH_CLUSTER=0.
bench: build
	scripts/bench.sh
	@if [ "$${BENCH_CLUSTER:-1}" = 0 ]; then \
		echo "bench: BENCH_CLUSTER=0: replication benchmarks skipped"; \
	else \
		$(MAKE) --no-print-directory bench-cluster; \
	fi

# The results file both write: bench.sh's BENCH_OUT, or BENCH_CLUSTER_OUT
# for bench-cluster alone. Absolute, because go test runs in the package dir.
CLUSTER_OUT = $(abspath $(or $(BENCH_CLUSTER_OUT),$(BENCH_OUT),bench/results.md))

## bench-cluster: three brokers: RF 3 acks=all produce vs RF 1, end-to-end p99,
## failover after SIGTERM and SIGKILL, follower catch-up (internal/clusterbench);
## writes the "Replication (three brokers)" section of bench/results.md. Each
## benchmark repeats its runs itself (BENCH_CLUSTER_REPEAT ...), so -benchtime 1x.
bench-cluster: build
	GOKAFKA_BIN=$(CURDIR)/$(BIN) BENCH_CLUSTER_OUT=$(CLUSTER_OUT) \
		$(GO) test -p 1 -run '^$$' -bench . -benchtime 1x -timeout 90m -v ./internal/clusterbench/

## clean: remove build output (not ./data: that is your local cluster's state).
clean:
	rm -rf bin
