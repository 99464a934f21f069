package broker

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gokafka/gokafka/wire"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// batchesIn returns the lengths of the whole batches in data, failing on a
// partial one.
func batchesIn(t *testing.T, data []byte) []int {
	t.Helper()
	var out []int
	for len(data) > 0 {
		h, err := wire.ParseBatchHeader(data)
		if err != nil {
			t.Fatalf("batch header: %v", err)
		}
		n := 12 + int(h.BatchLength)
		if n > len(data) {
			t.Fatalf("partial batch: %d of %d bytes", len(data), n)
		}
		out = append(out, n)
		data = data[n:]
	}
	return out
}

// TestFetchMaxBytesCapsResponse checks that fetch.max.bytes caps a
// response whatever the request's max_bytes, at a heap-read version (v8)
// and a sendfile version (v12), and that the first batch still comes whole
// when it alone is larger (KIP-74).
func TestFetchMaxBytesCapsResponse(t *testing.T) {
	const capBytes = 1024
	s := newDataServer(t)
	s.cfg.FetchMaxBytes = capBytes
	id := [16]byte{3}
	addTopic(t, s, "small", id, 2, testTopicConfig())
	small := plainBatch(20, 100)
	for range 40 {
		doProduce(t, s, produceReq(9, 1, "small", small, small))
	}
	addTopic(t, s, "big", [16]byte{4}, 2, testTopicConfig())
	big := plainBatch(300, 100)
	if len(big) <= capBytes {
		t.Fatalf("big batch of %d bytes is not above the cap", len(big))
	}
	doProduce(t, s, produceReq(9, 1, "big", big, small))

	for _, v := range []int16{8, 12} {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			req := fetchReq(v, "small", id, 1<<30, 0, 0)
			for i := range req.Topics[0].Partitions {
				req.Topics[0].Partitions[i].PartitionMaxBytes = 1 << 30
			}
			resp := doFetch(t, context.Background(), s, req)
			total := 0
			for _, p := range resp.Topics[0].Partitions {
				if p.ErrorCode != 0 {
					t.Fatalf("partition %d: code %d", p.Partition, p.ErrorCode)
				}
				for _, n := range batchesIn(t, p.RecordBatches) {
					total += n
				}
			}
			if total == 0 || total > capBytes {
				t.Fatalf("response holds %d record bytes; want some, at most fetch.max.bytes %d", total, capBytes)
			}
			if total+len(small) <= capBytes {
				t.Fatalf("response holds %d record bytes; another %d-byte batch fits under %d", total, len(small), capBytes)
			}

			req = fetchReq(v, "big", [16]byte{4}, 1<<30, 0, 0)
			for i := range req.Topics[0].Partitions {
				req.Topics[0].Partitions[i].PartitionMaxBytes = 1 << 30
			}
			resp = doFetch(t, context.Background(), s, req)
			p0, p1 := resp.Topics[0].Partitions[0], resp.Topics[0].Partitions[1]
			if got := batchesIn(t, p0.RecordBatches); len(got) != 1 || got[0] != len(big) || len(p1.RecordBatches) != 0 {
				t.Fatalf("first batch larger than the cap: got batches %v and %d more bytes; want the %d-byte batch alone", got, len(p1.RecordBatches), len(big))
			}
		})
	}
}

// TestFetchMinBytesCappedByMaxBytes checks that min_bytes above the
// response's max bytes does not make a fetch wait once the capped response
// is as full as it gets (Kafka's fetchMinBytes = min(min_bytes,
// fetchMaxBytes)): when the cap leaves batches out, and when the first
// batch alone is over the cap.
func TestFetchMinBytesCappedByMaxBytes(t *testing.T) {
	small, big := plainBatch(20, 100), plainBatch(300, 100)
	tests := []struct {
		name    string
		batches [][]byte
	}{
		{"cap leaves batches out", [][]byte{small, small, small, small, small, small, small, small}},
		{"first batch over the cap", [][]byte{big}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newDataServer(t)
			s.cfg.FetchMaxBytes = 1024
			id := [16]byte{5}
			addTopic(t, s, "t", id, 1, testTopicConfig())
			for _, b := range tt.batches {
				doProduce(t, s, produceReq(9, 1, "t", b))
			}
			req := fetchReq(12, "t", id, 1<<30, 0)
			req.MinBytes = 1 << 30
			req.MaxWaitMillis = 1 << 30 // days: only the cap can end the wait
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan *kmsg.FetchResponse, 1)
			go func() {
				resp, err := s.handleFetch(ctx, &wire.RequestHeader{APIKey: 1, APIVersion: req.Version}, req)
				if err != nil {
					t.Errorf("fetch: %v", err)
				}
				done <- fetchBody(resp)
			}()
			select {
			case resp := <-done:
				if len(resp.Topics[0].Partitions[0].RecordBatches) == 0 {
					t.Fatal("no records")
				}
			case <-time.After(30 * time.Second):
				cancel()
				<-done
				t.Fatal("fetch kept waiting for min_bytes above fetch.max.bytes")
			}
		})
	}
}
