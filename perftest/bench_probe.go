package perftest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The probes here are make bench's measurements that need a Kafka client
// but are not user tools: how long a broker takes to serve again, how long
// creating many partitions takes, and how fast Metadata answers.

// WaitServing polls the broker at bootstrap until an ApiVersions and a
// Metadata request succeed and a record produced with acks=all to topic is
// acknowledged, the point at which a restarted broker "serves". It returns
// how long that took from since.
func WaitServing(ctx context.Context, bootstrap, topic string, since time.Time) (time.Duration, error) {
	var last error
	for {
		if err := probeOnce(ctx, bootstrap, topic); err == nil {
			return time.Since(since), nil
		} else {
			last = err
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("broker at %s not serving: %w (last attempt: %v)", bootstrap, ctx.Err(), last)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// probeOnce makes one attempt with a fresh client, so that no state from a
// failed attempt (a dead connection, stale metadata) carries over.
func probeOnce(ctx context.Context, bootstrap, topic string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.DefaultProduceTopic(topic),
		kgo.DialTimeout(500*time.Millisecond), kgo.RequestRetries(0), kgo.ProducerLinger(0),
		kgo.RecordRetries(1), kgo.MetadataMinAge(10*time.Millisecond))
	if err != nil {
		return fmt.Errorf("create client: %w", err)
	}
	defer cl.Close()
	actx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := kmsg.NewPtrApiVersionsRequest().RequestWith(actx, cl); err != nil {
		return fmt.Errorf("api versions: %w", err)
	}
	mreq := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	mreq.Topics = append(mreq.Topics, mt)
	if _, err := mreq.RequestWith(actx, cl); err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	if err := cl.ProduceSync(actx, &kgo.Record{Value: []byte("probe")}).FirstErr(); err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	return nil
}

// CreateTopics creates topics prefix-0 .. prefix-(n-1) with partitions
// partitions each and replication factor 1, perBatch topics per request,
// and returns how long it took. Topics that already exist count as created.
func CreateTopics(ctx context.Context, bootstrap, prefix string, n, partitions, perBatch int) (time.Duration, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap))
	if err != nil {
		return 0, fmt.Errorf("create client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	adm.SetTimeoutMillis(120_000)
	start := time.Now()
	for first := 0; first < n; first += perBatch {
		var names []string
		for i := first; i < min(first+perBatch, n); i++ {
			names = append(names, fmt.Sprintf("%s-%d", prefix, i))
		}
		resps, err := adm.CreateTopics(ctx, int32(partitions), 1, nil, names...)
		if err != nil {
			return 0, fmt.Errorf("create topics %s..: %w", names[0], err)
		}
		for _, r := range resps.Sorted() {
			if r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
				return 0, fmt.Errorf("create topic %s: %w", r.Topic, r.Err)
			}
		}
	}
	return time.Since(start), nil
}

// MetadataLatency times count Metadata requests for all topics, one at a
// time, and returns the sorted latencies and the topic and partition
// counts of the last answer.
func MetadataLatency(ctx context.Context, bootstrap string, count int) (lat []time.Duration, topics, partitions int, err error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap))
	if err != nil {
		return nil, 0, 0, fmt.Errorf("create client: %w", err)
	}
	defer cl.Close()
	// A first request opens the connection, so that dialing is not timed.
	if _, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, cl); err != nil {
		return nil, 0, 0, fmt.Errorf("api versions: %w", err)
	}
	for range count {
		req := kmsg.NewPtrMetadataRequest() // nil Topics: all topics
		t0 := time.Now()
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return nil, 0, 0, fmt.Errorf("metadata: %w", err)
		}
		lat = append(lat, time.Since(t0))
		topics, partitions = len(resp.Topics), 0
		for _, t := range resp.Topics {
			partitions += len(t.Partitions)
		}
	}
	slices.Sort(lat)
	return lat, topics, partitions, nil
}

// DeleteTopics deletes the topics and waits for the broker's answer, which
// gokafka (like Kafka) sends once the topics are gone. Topics that do not
// exist count as deleted.
func DeleteTopics(ctx context.Context, bootstrap string, topics ...string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap))
	if err != nil {
		return fmt.Errorf("create client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	adm.SetTimeoutMillis(120_000)
	resps, err := adm.DeleteTopics(ctx, topics...)
	if err != nil {
		return fmt.Errorf("delete topics %v: %w", topics, err)
	}
	for _, r := range resps.Sorted() {
		if r.Err != nil && !errors.Is(r.Err, kerr.UnknownTopicOrPartition) {
			return fmt.Errorf("delete topic %s: %w", r.Topic, r.Err)
		}
	}
	return nil
}
