package broker

import (
	"context"
	"fmt"
	"testing"

	"github.com/gokafka/gokafka/wire"
)

// BenchmarkFetchAssembly measures building a Fetch v16 answer for N
// partitions that each hold one batch: resolving the partitions, locating
// the batches and collecting their file regions (no bytes are copied; the
// encoding and the sendfile are wire's, see wire.BenchmarkFetchEncode).
func BenchmarkFetchAssembly(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("partitions=%d", n), func(b *testing.B) {
			s := newDataServer(b)
			addTopic(b, s, "t", [16]byte{1}, int32(n), testTopicConfig())
			batches := make([][]byte, n)
			for i := range batches {
				batches[i] = plainBatch(10, 1)
			}
			for _, p := range doProduce(b, s, produceReq(9, 1, "t", batches...)) {
				if p.ErrorCode != 0 {
					b.Fatalf("produce: partition %d error %d", p.Partition, p.ErrorCode)
				}
			}
			req := fetchReq(16, "t", [16]byte{1}, 1<<30, make([]int64, n)...)
			hdr := &wire.RequestHeader{APIKey: 1, APIVersion: 16}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				resp, err := s.handleFetch(context.Background(), hdr, req)
				if err != nil {
					b.Fatal(err)
				}
				fr := resp.(*wire.FetchResponse)
				if fr.FileBytes() == 0 {
					b.Fatal("no records")
				}
				fr.ReleaseFiles()
			}
		})
	}
}
