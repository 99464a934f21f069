package wire

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// BenchmarkFetchEncode encodes a Fetch v16 response of N partitions with
// 64 KiB of records each: "regions" is the sendfile path (headers only, the
// records stay in the file), "kmsg" the in-memory encoding of the same
// response with the records copied into the frame. Bytes/s counts the
// records.
func BenchmarkFetchEncode(b *testing.B) {
	const recordSet = 64 << 10
	f, err := os.Create(filepath.Join(b.TempDir(), "seg.log"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	for _, n := range []int{1, 100, 1000} {
		resp := kmsg.NewPtrFetchResponse()
		resp.Version = 16
		t := kmsg.NewFetchResponseTopic()
		t.TopicID = [16]byte{1}
		for i := range n {
			p := kmsg.NewFetchResponseTopicPartition()
			p.Partition = int32(i)
			p.RecordBatches = make([]byte, recordSet)
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = []kmsg.FetchResponseTopic{t}
		b.Run(fmt.Sprintf("regions/partitions=%d", n), func(b *testing.B) {
			fr := NewFetchResponse(resp)
			for i := range n {
				fr.SetFileRecords(0, i, FileRecords{File: f, Offset: int64(i) * recordSet, Length: recordSet})
			}
			var buf []byte
			var splices []splice
			b.SetBytes(int64(n) * recordSet)
			b.ReportAllocs()
			for b.Loop() {
				buf, splices = appendFetchBody(buf[:0], splices[:0], fr)
			}
		})
		b.Run(fmt.Sprintf("kmsg/partitions=%d", n), func(b *testing.B) {
			var buf []byte
			b.SetBytes(int64(n) * recordSet)
			b.ReportAllocs()
			for b.Loop() {
				buf = resp.AppendTo(buf[:0])
			}
		})
	}
}
