// Package compattests holds gokafka's end-to-end tests: the real gokafka
// binary on a real ZooKeeper (internal/testcluster), driven by real clients:
// franz-go (kgo, kadm; also pinned to the versions Kafka's Java tools use),
// sarama, kafka-go, librdkafka through Debian's kcat, kafka-python and
// confluent-kafka through Debian's /usr/bin/python3, and kafkajs from npm
// (node/). Each test checks what a user would check.
//
// TestMatrix (matrix_test.go) is the client compatibility matrix: one
// subtest per client and feature, on one shared broker; `make compat` writes
// MATRIX.md from its results.
//
// A missing client (kcat, a Python module) fails the test with the Debian
// package to install; .ci/run installs them. In TestMatrix a missing client
// skips its cells, saying what to install, unless GOKAFKA_COMPAT_REQUIRE_ALL=1
// (set by .ci/run) makes it fail them.
package compattests
