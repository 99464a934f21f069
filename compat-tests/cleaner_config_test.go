package compattests

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestDynamicCleanerConfig changes the log cleaner of a running broker
// with AlterConfigs, as kafka-configs.sh --alter --entity-type brokers
// does: with log.cleaner.backoff.ms at an hour in server.properties, a
// compacted topic written after the cleaner's first pass is cleaned only
// because a dynamic log.cleaner.backoff.ms of 100 reaches the cleaner at
// once; a log.cleaner.threads change beyond double the current count is
// refused with Kafka's message, and one within it is described as a
// dynamic broker config.
func TestDynamicCleanerConfig(t *testing.T) {
	_, b := startBroker(t, map[string]string{"log.cleaner.backoff.ms": "3600000"})
	ctx := testCtx(t)
	adm := newAdmin(t, b)
	const topic = "cleaned-dynamically"
	createTopic(t, adm, topic, 1, compactTopicConfigs())
	cl := newClient(t, b, kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(0))
	_, last := produceUpdates(t, cl, 20, 30)
	if got := cleanerCheckpoint(b, topic, 0); got > 0 {
		t.Fatalf("cleaned before the change, to offset %d: the hour-long backoff did not hold", got)
	}

	rs, err := adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "log.cleaner.backoff.ms", Value: kadm.StringPtr("100")}}, b.ID)
	if err != nil || rs[0].Err != nil {
		t.Fatalf("alter log.cleaner.backoff.ms: %v %+v", err, rs)
	}
	waitUntil(t, time.Minute, "the cleaner to clean after the dynamic change", func() bool { return cleanerCheckpoint(b, topic, 0) > last/2 })

	rs, err = adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "log.cleaner.threads", Value: kadm.StringPtr("3")}}, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	const want = "Log cleaner threads cannot be increased to more than double the current value 1"
	if !errors.Is(rs[0].Err, kerr.InvalidRequest) || !strings.Contains(rs[0].ErrMessage, want) {
		t.Fatalf("threads 1 -> 3: %v %q, want INVALID_REQUEST %q", rs[0].Err, rs[0].ErrMessage, want)
	}
	rs, err = adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "log.cleaner.threads", Value: kadm.StringPtr("2")}}, b.ID)
	if err != nil || rs[0].Err != nil {
		t.Fatalf("threads 1 -> 2: %v %+v", err, rs)
	}
	described, err := adm.DescribeBrokerConfigs(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := described.On(strconv.Itoa(int(b.ID)), nil)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range rc.Configs {
		if c.Key == "log.cleaner.threads" {
			found = true
			if c.MaybeValue() != "2" || c.Source.String() != "DYNAMIC_BROKER_CONFIG" {
				t.Errorf("described log.cleaner.threads: %q from %v", c.MaybeValue(), c.Source)
			}
		}
	}
	if !found {
		t.Error("log.cleaner.threads not described")
	}
}
