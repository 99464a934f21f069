package compattests

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// kafkaGoMatrixClient is segmentio/kafka-go (its Client, Writer and Reader).
func kafkaGoMatrixClient() matrixClient {
	return matrixClient{
		name:   "kafka-go",
		absent: func() string { return "" },
		lacks:  map[string]string{"idempotent": "kafka-go's Writer has no idempotent mode"},
		run:    runKafkaGo,
	}
}

var kafkaGoCodecs = map[string]kafkago.Compression{
	"gzip": kafkago.Gzip, "snappy": kafkago.Snappy, "lz4": kafkago.Lz4, "zstd": kafkago.Zstd,
}

func runKafkaGo(ctx context.Context, c matrixCase) ([]string, error) {
	client := &kafkago.Client{Addr: kafkago.TCP(c.Addr), Timeout: 30 * time.Second}
	switch f := c.Feature; {
	case f == "metadata":
		md, err := client.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{c.Topic}})
		if err != nil {
			return nil, fmt.Errorf("metadata: %w", err)
		}
		var lines []string
		for _, b := range md.Brokers {
			lines = append(lines, fmt.Sprintf("broker %d %s:%d", b.ID, b.Host, b.Port))
		}
		for _, tp := range md.Topics {
			if tp.Error != nil {
				return lines, fmt.Errorf("metadata of %s: %w", tp.Name, tp.Error)
			}
			for _, p := range tp.Partitions {
				lines = append(lines, fmt.Sprintf("partition %s %d leader %d", tp.Name, p.ID, p.Leader.ID))
			}
		}
		return lines, nil
	case f == "create-delete-topics":
		cr, err := client.CreateTopics(ctx, &kafkago.CreateTopicsRequest{Topics: []kafkago.TopicConfig{{Topic: c.Topic, NumPartitions: 2, ReplicationFactor: 1}}})
		if err == nil {
			err = cr.Errors[c.Topic]
		}
		if err != nil {
			return nil, fmt.Errorf("create: %w", err)
		}
		lines := []string{"created " + c.Topic}
		dr, err := client.DeleteTopics(ctx, &kafkago.DeleteTopicsRequest{Topics: []string{c.Topic}})
		if err == nil {
			err = dr.Errors[c.Topic]
		}
		if err != nil {
			return lines, fmt.Errorf("delete: %w", err)
		}
		return append(lines, "deleted "+c.Topic), nil
	case isProduceFeature(f):
		// A Writer of its own Transport: the shared default one caches
		// metadata for 6 s and fails a topic created since with
		// UNKNOWN_TOPIC_OR_PARTITION (as with any Kafka broker).
		tr := &kafkago.Transport{}
		defer tr.CloseIdleConnections()
		w := &kafkago.Writer{Addr: kafkago.TCP(c.Addr), Topic: c.Topic, Transport: tr, BatchTimeout: 10 * time.Millisecond, RequiredAcks: kafkago.RequireAll, Compression: kafkaGoCodecs[f]}
		msgs := make([]kafkago.Message, matrixProduced)
		for i := range msgs {
			r := matrixRecord(c.Topic, f, i)
			msgs[i] = kafkago.Message{Key: r.Key, Value: r.Value, Time: r.Timestamp}
			for _, h := range r.Headers {
				msgs[i].Headers = append(msgs[i].Headers, kafkago.Header{Key: h.Key, Value: h.Value})
			}
		}
		err := w.WriteMessages(ctx, msgs...)
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("write: %w", err)
		}
		return kafkaGoRead(ctx, c, func(r *kafkago.Reader) error { return r.SetOffset(kafkago.FirstOffset) }, matrixProduced)
	case f == "from-offset":
		return kafkaGoRead(ctx, c, func(r *kafkago.Reader) error { return r.SetOffset(matrixFromOffset) }, matrixPrepared-matrixFromOffset)
	case f == "from-timestamp":
		at := time.UnixMilli(matrixTimestamp(matrixFromOffset) - 500)
		return kafkaGoRead(ctx, c, func(r *kafkago.Reader) error { return r.SetOffsetAt(ctx, at) }, matrixPrepared-matrixFromOffset)
	case f == "group-commit-resume":
		return groupCommitResume(ctx, c, kafkaGoGroupRead)
	case f == "list-groups-offsets":
		gr, err := client.ListGroups(ctx, &kafkago.ListGroupsRequest{})
		if err == nil {
			err = gr.Error
		}
		if err != nil {
			return nil, fmt.Errorf("list groups: %w", err)
		}
		var lines []string
		for _, g := range gr.Groups {
			if g.GroupID == c.Group {
				lines = append(lines, "group "+c.Group)
			}
		}
		or, err := client.OffsetFetch(ctx, &kafkago.OffsetFetchRequest{GroupID: c.Group, Topics: map[string][]int{c.Topic: {0}}})
		if err == nil {
			err = or.Error
		}
		if err != nil {
			return lines, fmt.Errorf("offset fetch: %w", err)
		}
		for topic, ps := range or.Topics {
			for _, p := range ps {
				if p.Error != nil {
					return lines, fmt.Errorf("offset fetch %s-%d: %w", topic, p.Partition, p.Error)
				}
				lines = append(lines, fmt.Sprintf("offset %s %d %d", topic, p.Partition, p.CommittedOffset))
			}
		}
		return lines, nil
	case f == "describe-configs":
		dr, err := client.DescribeConfigs(ctx, &kafkago.DescribeConfigsRequest{Resources: []kafkago.DescribeConfigRequestResource{
			{ResourceType: kafkago.ResourceTypeTopic, ResourceName: c.Topic, ConfigNames: []string{"retention.ms"}},
		}})
		if err != nil {
			return nil, fmt.Errorf("describe configs: %w", err)
		}
		var lines []string
		for _, r := range dr.Resources {
			if r.Error != nil {
				return lines, fmt.Errorf("describe configs of %s: %w", r.ResourceName, r.Error)
			}
			for _, e := range r.ConfigEntries {
				lines = append(lines, e.ConfigName+"="+e.ConfigValue)
			}
		}
		return lines, nil
	case f == "alter-configs":
		ar, err := client.IncrementalAlterConfigs(ctx, &kafkago.IncrementalAlterConfigsRequest{Resources: []kafkago.IncrementalAlterConfigsRequestResource{{
			ResourceType: kafkago.ResourceTypeTopic, ResourceName: c.Topic,
			Configs: []kafkago.IncrementalAlterConfigsRequestConfig{{Name: "retention.ms", Value: matrixAltered, ConfigOperation: kafkago.ConfigOperationSet}},
		}}})
		if err != nil {
			return nil, fmt.Errorf("incremental alter configs: %w", err)
		}
		for _, r := range ar.Resources {
			if r.Error != nil {
				return nil, fmt.Errorf("incremental alter configs of %s: %w", r.ResourceName, r.Error)
			}
		}
		return []string{"altered"}, nil
	}
	return nil, fmt.Errorf("kafka-go: no such feature %q", c.Feature)
}

// kafkaGoLine is the matrix line of a consumed message.
func kafkaGoLine(feature string, m kafkago.Message) string {
	var hs []string
	for _, h := range m.Headers {
		hs = append(hs, h.Key+"="+string(h.Value))
	}
	ts := ""
	if feature == "timestamps" {
		ts = strconv.FormatInt(m.Time.UnixMilli(), 10)
	}
	return matrixLine(m.Offset, string(m.Key), string(m.Value), hs, ts)
}

// kafkaGoRead reads n messages of partition 0 with a Reader positioned by seek.
func kafkaGoRead(ctx context.Context, c matrixCase, seek func(*kafkago.Reader) error, n int) ([]string, error) {
	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: []string{c.Addr}, Topic: c.Topic, Partition: 0, MaxWait: 200 * time.Millisecond})
	defer r.Close()
	if err := seek(r); err != nil {
		return nil, fmt.Errorf("seek: %w", err)
	}
	var lines []string
	for len(lines) < n {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			return lines, fmt.Errorf("read %d of %d: %w", len(lines), n, err)
		}
		lines = append(lines, kafkaGoLine(c.Feature, m))
	}
	return lines, nil
}

// kafkaGoGroupRead joins c.Group with a Reader, fetches n messages, commits
// the last if commit, and leaves.
func kafkaGoGroupRead(ctx context.Context, c matrixCase, n int, commit bool) (lines []string, err error) {
	r := kafkago.NewReader(kafkago.ReaderConfig{
		Brokers: []string{c.Addr}, GroupID: c.Group, Topic: c.Topic, StartOffset: kafkago.FirstOffset,
		MaxWait: 200 * time.Millisecond, HeartbeatInterval: 500 * time.Millisecond, SessionTimeout: 10 * time.Second,
	})
	defer func() { err = errors.Join(err, r.Close()) }()
	var last kafkago.Message
	for len(lines) < n {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			return lines, fmt.Errorf("group fetch %d of %d: %w", len(lines), n, err)
		}
		lines = append(lines, kafkaGoLine(c.Feature, m))
		last = m
	}
	if commit {
		if err := r.CommitMessages(ctx, last); err != nil {
			return lines, fmt.Errorf("commit: %w", err)
		}
	}
	return lines, nil
}
