package compattests

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// franzMatrixClient is franz-go (kgo and kadm), the client the harness
// itself uses.
func franzMatrixClient() matrixClient {
	return matrixClient{name: "franz-go", absent: func() string { return "" }, run: runFranz}
}

func runFranz(ctx context.Context, c matrixCase) ([]string, error) {
	newCl := func(opts ...kgo.Opt) (*kgo.Client, error) {
		cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.Addr), kgo.FetchMaxWait(200 * time.Millisecond)}, opts...)...)
		if err != nil {
			return nil, fmt.Errorf("new client: %w", err)
		}
		return cl, nil
	}
	cl, err := newCl()
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	switch f := c.Feature; {
	case f == "metadata":
		md, err := adm.Metadata(ctx, c.Topic)
		if err != nil {
			return nil, fmt.Errorf("metadata: %w", err)
		}
		var lines []string
		for _, b := range md.Brokers {
			lines = append(lines, fmt.Sprintf("broker %d %s:%d", b.NodeID, b.Host, b.Port))
		}
		for _, p := range md.Topics[c.Topic].Partitions.Sorted() {
			lines = append(lines, fmt.Sprintf("partition %s %d leader %d", c.Topic, p.Partition, p.Leader))
		}
		return lines, nil
	case f == "create-delete-topics":
		if _, err := adm.CreateTopic(ctx, 2, 1, nil, c.Topic); err != nil {
			return nil, fmt.Errorf("create: %w", err)
		}
		lines := []string{"created " + c.Topic}
		if _, err := adm.DeleteTopic(ctx, c.Topic); err != nil {
			return lines, fmt.Errorf("delete: %w", err)
		}
		return append(lines, "deleted "+c.Topic), nil
	case isProduceFeature(f):
		var opts []kgo.Opt
		switch f {
		case "gzip":
			opts = append(opts, kgo.ProducerBatchCompression(kgo.GzipCompression()))
		case "snappy":
			opts = append(opts, kgo.ProducerBatchCompression(kgo.SnappyCompression()))
		case "lz4":
			opts = append(opts, kgo.ProducerBatchCompression(kgo.Lz4Compression()))
		case "zstd":
			opts = append(opts, kgo.ProducerBatchCompression(kgo.ZstdCompression()))
		}
		// kgo is idempotent by default; the other features turn it off so
		// that idempotence is tested on its own.
		if f != "idempotent" {
			opts = append(opts, kgo.DisableIdempotentWrite(), kgo.RequiredAcks(kgo.LeaderAck()))
		}
		pcl, err := newCl(append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
		if err != nil {
			return nil, err
		}
		defer pcl.Close()
		recs := make([]*kgo.Record, matrixProduced)
		for i := range recs {
			recs[i] = matrixRecord(c.Topic, f, i)
		}
		if err := pcl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			return nil, fmt.Errorf("produce: %w", err)
		}
		return franzRead(ctx, c, matrixProduced, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{c.Topic: {0: kgo.NewOffset().AtStart()}}))
	case f == "from-offset":
		return franzRead(ctx, c, matrixPrepared-matrixFromOffset, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{c.Topic: {0: kgo.NewOffset().At(matrixFromOffset)}}))
	case f == "from-timestamp":
		at := matrixTimestamp(matrixFromOffset) - 500
		lo, err := adm.ListOffsetsAfterMilli(ctx, at, c.Topic)
		if err != nil {
			return nil, fmt.Errorf("list offsets after %d: %w", at, err)
		}
		o, ok := lo.Lookup(c.Topic, 0)
		if !ok || o.Err != nil {
			return nil, fmt.Errorf("list offsets after %d: %+v", at, o)
		}
		return franzRead(ctx, c, matrixPrepared-matrixFromOffset, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{c.Topic: {0: kgo.NewOffset().At(o.Offset)}}))
	case f == "group-commit-resume":
		return groupCommitResume(ctx, c, franzGroupRead)
	case f == "list-groups-offsets":
		groups, err := adm.ListGroups(ctx)
		if err != nil {
			return nil, fmt.Errorf("list groups: %w", err)
		}
		var lines []string
		if _, ok := groups[c.Group]; ok {
			lines = append(lines, "group "+c.Group)
		}
		offs, err := adm.FetchOffsets(ctx, c.Group)
		if err != nil {
			return lines, fmt.Errorf("fetch offsets: %w", err)
		}
		offs.Each(func(o kadm.OffsetResponse) {
			lines = append(lines, fmt.Sprintf("offset %s %d %d", o.Topic, o.Partition, o.At))
		})
		return lines, nil
	case f == "describe-configs":
		rcs, err := adm.DescribeTopicConfigs(ctx, c.Topic)
		if err != nil {
			return nil, fmt.Errorf("describe configs: %w", err)
		}
		rc, err := rcs.On(c.Topic, nil)
		if err != nil {
			return nil, fmt.Errorf("describe configs: %w", err)
		}
		for _, cfg := range rc.Configs {
			if cfg.Key == "retention.ms" {
				return []string{"retention.ms=" + cfg.MaybeValue()}, nil
			}
		}
		return nil, errors.New("no retention.ms described")
	case f == "alter-configs":
		resp, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "retention.ms", Value: kadm.StringPtr(matrixAltered)}}, c.Topic)
		if err == nil {
			_, err = resp.On(c.Topic, nil)
		}
		if err != nil {
			return nil, fmt.Errorf("alter configs: %w", err)
		}
		return []string{"altered"}, nil
	}
	return nil, fmt.Errorf("franz-go: no such feature %q", c.Feature)
}

// franzRead consumes n records with a client made of opts and returns their lines.
func franzRead(ctx context.Context, c matrixCase, n int, opts ...kgo.Opt) ([]string, error) {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.Addr), kgo.FetchMaxWait(200 * time.Millisecond)}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("new consumer: %w", err)
	}
	defer cl.Close()
	lines, _, err := franzPoll(ctx, cl, c.Feature, n)
	return lines, err
}

// franzGroupRead joins c.Group, reads n records, commits the offset after
// the last if commit, and leaves.
func franzGroupRead(ctx context.Context, c matrixCase, n int, commit bool) ([]string, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addr), kgo.FetchMaxWait(200*time.Millisecond),
		kgo.ConsumerGroup(c.Group), kgo.ConsumeTopics(c.Topic), kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return nil, fmt.Errorf("new group consumer: %w", err)
	}
	defer cl.Close()
	lines, last, err := franzPoll(ctx, cl, c.Feature, n)
	if err != nil || !commit {
		return lines, err
	}
	if err := cl.CommitRecords(ctx, last); err != nil {
		return lines, fmt.Errorf("commit: %w", err)
	}
	return lines, nil
}

// franzPoll polls n records from cl and returns their lines and the last.
func franzPoll(ctx context.Context, cl *kgo.Client, feature string, n int) ([]string, *kgo.Record, error) {
	var lines []string
	var last *kgo.Record
	for len(lines) < n {
		fs := cl.PollRecords(ctx, n-len(lines))
		if err := ctx.Err(); err != nil {
			return lines, last, fmt.Errorf("read %d of %d records: %w", len(lines), n, err)
		}
		if err := fs.Err(); err != nil {
			return lines, last, fmt.Errorf("fetch: %w", err)
		}
		for _, r := range fs.Records() {
			ts := ""
			if feature == "timestamps" {
				ts = strconv.FormatInt(r.Timestamp.UnixMilli(), 10)
			}
			lines = append(lines, matrixLine(r.Offset, string(r.Key), string(r.Value), headerPairs(r.Headers), ts))
			last = r
		}
	}
	return lines, last, nil
}
