package compattests

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/IBM/sarama"
)

// saramaMatrixClient is IBM/sarama speaking Kafka 2.8's protocol versions.
func saramaMatrixClient() matrixClient {
	return matrixClient{name: "sarama", absent: func() string { return "" }, run: runSarama}
}

// saramaMatrixConfig is the configuration every sarama client of the matrix
// starts from.
func saramaMatrixConfig() *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V2_8_0_0
	cfg.ClientID = "gokafka-matrix"
	cfg.Metadata.Retry.Backoff = 100 * time.Millisecond
	cfg.Producer.Return.Successes = true
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	cfg.Consumer.MaxWaitTime = 200 * time.Millisecond
	cfg.Consumer.Offsets.AutoCommit.Enable = false
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Group.Heartbeat.Interval = 500 * time.Millisecond
	cfg.Consumer.Group.Session.Timeout = 10 * time.Second
	return cfg
}

var saramaCodecs = map[string]sarama.CompressionCodec{
	"gzip": sarama.CompressionGZIP, "snappy": sarama.CompressionSnappy,
	"lz4": sarama.CompressionLZ4, "zstd": sarama.CompressionZSTD,
}

func runSarama(ctx context.Context, c matrixCase) ([]string, error) {
	cfg := saramaMatrixConfig()
	if codec, ok := saramaCodecs[c.Feature]; ok {
		cfg.Producer.Compression = codec
	}
	if c.Feature == "idempotent" {
		cfg.Producer.Idempotent = true
		cfg.Producer.RequiredAcks = sarama.WaitForAll
		cfg.Net.MaxOpenRequests = 1
	}
	client, err := sarama.NewClient([]string{c.Addr}, cfg)
	if err != nil {
		return nil, fmt.Errorf("new client: %w", err)
	}
	defer client.Close()
	admin := func() (sarama.ClusterAdmin, error) {
		adm, err := sarama.NewClusterAdminFromClient(client)
		if err != nil {
			return nil, fmt.Errorf("new admin: %w", err)
		}
		return adm, nil
	}
	switch f := c.Feature; {
	case f == "metadata":
		if err := client.RefreshMetadata(c.Topic); err != nil {
			return nil, fmt.Errorf("metadata: %w", err)
		}
		var lines []string
		for _, b := range client.Brokers() {
			lines = append(lines, fmt.Sprintf("broker %d %s", b.ID(), b.Addr()))
		}
		ps, err := client.Partitions(c.Topic)
		if err != nil {
			return lines, fmt.Errorf("partitions: %w", err)
		}
		for _, p := range ps {
			leader, err := client.Leader(c.Topic, p)
			if err != nil {
				return lines, fmt.Errorf("leader of %d: %w", p, err)
			}
			lines = append(lines, fmt.Sprintf("partition %s %d leader %d", c.Topic, p, leader.ID()))
		}
		return lines, nil
	case f == "create-delete-topics":
		adm, err := admin()
		if err != nil {
			return nil, err
		}
		if err := adm.CreateTopic(c.Topic, &sarama.TopicDetail{NumPartitions: 2, ReplicationFactor: 1}, false); err != nil {
			return nil, fmt.Errorf("create: %w", err)
		}
		lines := []string{"created " + c.Topic}
		if err := adm.DeleteTopic(c.Topic); err != nil {
			return lines, fmt.Errorf("delete: %w", err)
		}
		return append(lines, "deleted "+c.Topic), nil
	case isProduceFeature(f):
		p, err := sarama.NewSyncProducerFromClient(client)
		if err != nil {
			return nil, fmt.Errorf("new producer: %w", err)
		}
		defer p.Close()
		msgs := make([]*sarama.ProducerMessage, matrixProduced)
		for i := range msgs {
			r := matrixRecord(c.Topic, f, i)
			m := &sarama.ProducerMessage{Topic: c.Topic, Partition: 0, Key: sarama.ByteEncoder(r.Key), Value: sarama.ByteEncoder(r.Value), Timestamp: r.Timestamp}
			for _, h := range r.Headers {
				m.Headers = append(m.Headers, sarama.RecordHeader{Key: []byte(h.Key), Value: h.Value})
			}
			msgs[i] = m
		}
		if err := p.SendMessages(msgs); err != nil {
			return nil, fmt.Errorf("produce: %w", err)
		}
		return saramaRead(ctx, client, c, sarama.OffsetOldest, matrixProduced)
	case f == "from-offset":
		return saramaRead(ctx, client, c, matrixFromOffset, matrixPrepared-matrixFromOffset)
	case f == "from-timestamp":
		off, err := client.GetOffset(c.Topic, 0, matrixTimestamp(matrixFromOffset)-500)
		if err != nil {
			return nil, fmt.Errorf("offset for time: %w", err)
		}
		return saramaRead(ctx, client, c, off, matrixPrepared-matrixFromOffset)
	case f == "group-commit-resume":
		return groupCommitResume(ctx, c, saramaGroupRead)
	case f == "list-groups-offsets":
		adm, err := admin()
		if err != nil {
			return nil, err
		}
		groups, err := adm.ListConsumerGroups()
		if err != nil {
			return nil, fmt.Errorf("list groups: %w", err)
		}
		var lines []string
		if _, ok := groups[c.Group]; ok {
			lines = append(lines, "group "+c.Group)
		}
		resp, err := adm.ListConsumerGroupOffsets(c.Group, nil)
		if err != nil {
			return lines, fmt.Errorf("list offsets: %w", err)
		}
		for topic, ps := range resp.Blocks {
			for p, b := range ps {
				lines = append(lines, fmt.Sprintf("offset %s %d %d", topic, p, b.Offset))
			}
		}
		return lines, nil
	case f == "describe-configs":
		adm, err := admin()
		if err != nil {
			return nil, err
		}
		res, err := adm.DescribeConfigs([]*sarama.ConfigResource{{Type: sarama.TopicResource, Name: c.Topic, ConfigNames: []string{"retention.ms"}}}, sarama.DescribeConfigsOptions{})
		if err != nil {
			return nil, fmt.Errorf("describe configs: %w", err)
		}
		var lines []string
		for _, r := range res {
			if r.ErrorCode != sarama.ErrNoError {
				return lines, fmt.Errorf("describe configs of %s: %w: %s", r.Name, r.ErrorCode, r.ErrorMsg)
			}
			for _, e := range r.Configs {
				lines = append(lines, e.Name+"="+e.Value)
			}
		}
		return lines, nil
	case f == "alter-configs":
		adm, err := admin()
		if err != nil {
			return nil, err
		}
		v := matrixAltered
		if err := adm.IncrementalAlterConfig(sarama.TopicResource, c.Topic, map[string]sarama.IncrementalAlterConfigsEntry{
			"retention.ms": {Operation: sarama.IncrementalAlterConfigsOperationSet, Value: &v},
		}, false); err != nil {
			return nil, fmt.Errorf("incremental alter configs: %w", err)
		}
		return []string{"altered"}, nil
	}
	return nil, fmt.Errorf("sarama: no such feature %q", c.Feature)
}

// saramaLine is the matrix line of a consumed message.
func saramaLine(feature string, m *sarama.ConsumerMessage) string {
	var hs []string
	for _, h := range m.Headers {
		hs = append(hs, string(h.Key)+"="+string(h.Value))
	}
	ts := ""
	if feature == "timestamps" {
		ts = strconv.FormatInt(m.Timestamp.UnixMilli(), 10)
	}
	return matrixLine(m.Offset, string(m.Key), string(m.Value), hs, ts)
}

// saramaRead consumes n messages of partition 0 from offset.
func saramaRead(ctx context.Context, client sarama.Client, c matrixCase, offset int64, n int) ([]string, error) {
	cons, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		return nil, fmt.Errorf("new consumer: %w", err)
	}
	defer cons.Close()
	pc, err := cons.ConsumePartition(c.Topic, 0, offset)
	if err != nil {
		return nil, fmt.Errorf("consume partition from %d: %w", offset, err)
	}
	defer pc.Close()
	var lines []string
	for len(lines) < n {
		select {
		case m := <-pc.Messages():
			lines = append(lines, saramaLine(c.Feature, m))
		case err := <-pc.Errors():
			return lines, fmt.Errorf("consume: %w", err)
		case <-ctx.Done():
			return lines, fmt.Errorf("read %d of %d: %w", len(lines), n, ctx.Err())
		}
	}
	return lines, nil
}

// saramaGroupHandler collects n messages of a group session, then commits
// the offset after the last (if commit) and says it is done.
type saramaGroupHandler struct {
	feature string
	n       int
	commit  bool
	done    chan struct{}

	mu    sync.Mutex
	lines []string
}

func (*saramaGroupHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (*saramaGroupHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (h *saramaGroupHandler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for m := range claim.Messages() {
		h.mu.Lock()
		full := len(h.lines) == h.n
		if !full {
			h.lines = append(h.lines, saramaLine(h.feature, m))
			full = len(h.lines) == h.n
			if full {
				if h.commit {
					sess.MarkMessage(m, "")
					sess.Commit()
				}
				close(h.done)
			}
		}
		h.mu.Unlock()
		if full {
			return nil
		}
	}
	return nil
}

// saramaGroupRead joins c.Group, reads n messages and leaves.
func saramaGroupRead(ctx context.Context, c matrixCase, n int, commit bool) ([]string, error) {
	g, err := sarama.NewConsumerGroup([]string{c.Addr}, c.Group, saramaMatrixConfig())
	if err != nil {
		return nil, fmt.Errorf("new consumer group: %w", err)
	}
	h := &saramaGroupHandler{feature: c.Feature, n: n, commit: commit, done: make(chan struct{})}
	gctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() {
		var errs []error
		for gctx.Err() == nil {
			if err := g.Consume(gctx, []string{c.Topic}, h); err != nil && gctx.Err() == nil {
				errs = append(errs, err)
			}
		}
		errc <- errors.Join(errs...)
	}()
	select {
	case <-h.done:
	case <-ctx.Done():
	}
	cancel()
	consumeErr := <-errc
	closeErr := g.Close()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.lines) < n {
		return h.lines, fmt.Errorf("group read %d of %d: %w", len(h.lines), n, errors.Join(ctx.Err(), consumeErr))
	}
	if closeErr != nil {
		return h.lines, fmt.Errorf("close group: %w", closeErr)
	}
	return h.lines, nil
}
