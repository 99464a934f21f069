# gokafka: `make run` starts ZooKeeper and one broker locally, `make test`
# runs every test. See README.md.

GO       ?= go
BIN      := bin/gokafka
# Unit-test packages run with the race detector; the end-to-end packages run
# the broker as a separate process, so -race on the test binary buys nothing.
E2E_PKGS  := ./compat-tests/... ./internal/testcluster/...
UNIT_PKGS  = $(shell $(GO) list ./... | grep -v -e /compat-tests -e /internal/testcluster)
FUZZTIME ?= 5s

.PHONY: all build run test vet lint unit e2e fuzz-short fuzz bench chaos clean

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
	GOKAFKA_BIN=$(CURDIR)/$(BIN) $(GO) test -p 1 -timeout 15m $(E2E_PKGS)

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
	CHAOS_ROUNDS=$(CHAOS_ROUNDS) GOKAFKA_BIN=$(CURDIR)/$(BIN) $(GO) test -p 1 -count=$(CHAOS_COUNT) -timeout 90m -run 'TestReplication' -v ./compat-tests/

## bench: throughput of a local broker (scripts/bench.sh).
bench: build
	scripts/bench.sh

## clean: remove build output (not ./data: that is your local cluster's state).
clean:
	rm -rf bin
