// Package compattests holds gokafka's end-to-end tests: the real gokafka
// binary on a real ZooKeeper (internal/testcluster), driven by real clients:
// franz-go (kgo, kadm; also pinned to the versions Kafka's Java tools use),
// librdkafka through Debian's kcat, kafka-python and confluent-kafka through
// Debian's /usr/bin/python3. Each test checks what a user would check.
//
// A missing client (kcat, a Python module) fails the test with the Debian
// package to install; .ci/run installs them.
package compattests
