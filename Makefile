# gokafka: `make run` starts ZooKeeper and one broker locally, `make test`
# runs every test. See README.md.

GO       ?= go
BIN      := bin/gokafka
# The binary the end-to-end and chaos tests run: released request frames
# are poisoned (wire/frame_poison.go), so a handler keeping request bytes
# past its response fails those tests.
E2E_BIN  := bin/gokafka-e2e
# Unit-test packages run with the race detector; the end-to-end packages run
# the broker as a separate process, so -race on the test binary buys nothing.
E2E_PKGS  := ./compat-tests/... ./internal/testcluster/... ./internal/clusterbench/...
UNIT_PKGS  = $(shell $(GO) list ./... | grep -v -e /compat-tests -e /internal/testcluster -e /internal/clusterbench)
FUZZTIME ?= 5s

.PHONY: all build run test vet lint unit e2e compat fuzz-short fuzz bench bench-cluster chaos clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/gokafka

## run: ZooKeeper on 127.0.0.1:2181 and a broker on 127.0.0.1:9092; Ctrl-C stops both.
run: build
	scripts/run-local.sh

.PHONY: cluster cluster-kill cluster-stop cluster-start cluster-status

## cluster: a ZooKeeper ensemble on 127.0.0.1:2181-2183 and brokers 1-3 on
## 127.0.0.1:9092-9094, data in ./data/cluster; Ctrl-C stops them all.
cluster: build
	scripts/run-cluster.sh

## cluster-kill BROKER=n: SIGKILL broker n of `make cluster` (a crash).
cluster-kill:
	scripts/run-cluster.sh kill $(BROKER)

## cluster-stop BROKER=n: SIGTERM broker n (orderly shutdown) and wait for it.
cluster-stop:
	scripts/run-cluster.sh stop $(BROKER)

## cluster-start BROKER=n: start broker n again in the background.
cluster-start:
	scripts/run-cluster.sh start $(BROKER)

## cluster-status: which ZooKeeper nodes and brokers of `make cluster` run.
cluster-status:
	scripts/run-cluster.sh status

## test: vet, staticcheck, unit tests (race), end-to-end tests, a short run of every fuzz target.
test: vet lint unit e2e fuzz-short

vet:
	$(GO) vet ./...

# staticcheck is installed from the Go module proxy into bin/ at a pinned
# version (a no-op once it is there); staticcheck.conf says which checks.
STATICCHECK_VERSION ?= v0.8.2
lint:
	GOBIN=$(CURDIR)/bin $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	bin/staticcheck ./...

unit:
	$(GO) test -race -p 2 -timeout 15m $(UNIT_PKGS)

# The end-to-end tests use the binary built here rather than building their own.
e2e: build
	$(GO) build -tags framepoison -o $(E2E_BIN) ./cmd/gokafka
	GOKAFKA_BIN=$(CURDIR)/$(E2E_BIN) $(GO) test -p 1 -timeout 15m $(E2E_PKGS)

## compat: the client compatibility matrix (TestMatrix in compat-tests/,
## also part of e2e), then compat-tests/MATRIX.md rewritten from its results;
## fails when a cell failed, after writing the matrix.
COMPAT_JSON := bin/compat-matrix.json
compat: build
	GOKAFKA_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -json -timeout 15m -run '^TestMatrix$$' ./compat-tests/ > $(COMPAT_JSON); \
		status=$$?; \
		$(GO) run ./internal/compatmatrix -in $(COMPAT_JSON) -out compat-tests/MATRIX.md || exit 1; \
		exit $$status

fuzz-short:
	FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

## fuzz: every fuzz target for FUZZTIME (default here: 2 minutes each).
fuzz: FUZZTIME = 2m
fuzz:
	FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

## chaos: the replication robustness tests (kills, pauses, network
## partitions) with CHAOS_ROUNDS kills in the kill test (make test runs 3),
## each test CHAOS_COUNT times.
CHAOS_ROUNDS ?= 20
CHAOS_COUNT ?= 3
chaos: build
	$(GO) build -tags framepoison -o $(E2E_BIN) ./cmd/gokafka
	CHAOS_ROUNDS=$(CHAOS_ROUNDS) GOKAFKA_BIN=$(CURDIR)/$(E2E_BIN) $(GO) test -p 1 -count=$(CHAOS_COUNT) -timeout 90m -run 'TestReplication' -v ./compat-tests/

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
