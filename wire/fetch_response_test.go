package wire

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fetchFixture is a Fetch response with three topics whose partitions cover
// what the encoder must get right: record sets in a file, in memory, empty
// and null; aborted transactions (null, empty, some); every partition tag;
// and, at v16+, node endpoints with and without a rack. filed[i] says
// whether partition i (in response order) takes its records from the file.
type fetchFixture struct {
	resp  *kmsg.FetchResponse
	data  [][]byte // each partition's record bytes, in response order
	filed []bool
}

func newFetchFixture(v int16) fetchFixture {
	resp := kmsg.NewPtrFetchResponse()
	resp.Version = v
	resp.ThrottleMillis = 7
	resp.ErrorCode = 0
	resp.SessionID = 0
	var fx fetchFixture
	for ti := range 3 {
		t := kmsg.NewFetchResponseTopic()
		t.Topic = fmt.Sprintf("topic-%d", ti)
		t.TopicID = [16]byte{byte(ti + 1), 9}
		for pi := range 3 {
			p := kmsg.NewFetchResponseTopicPartition()
			p.Partition = int32(pi)
			p.HighWatermark = int64(1000*ti + pi)
			p.LastStableOffset = p.HighWatermark
			p.LogStartOffset = 3
			n := len(fx.data)
			var recs []byte
			switch n % 4 {
			case 0, 1:
				recs = bytes.Repeat([]byte{byte(n + 1)}, 100+n*37)
			case 2:
				recs = []byte{}
			case 3:
				recs = nil // null record set (v4-11 and flexible differ)
			}
			switch n % 3 {
			case 1:
				p.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{}
			case 2:
				p.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{{ProducerID: 5, FirstOffset: 6}}
			}
			switch n {
			case 4:
				p.ErrorCode = kerr.NotLeaderForPartition.Code
				p.CurrentLeader.LeaderID, p.CurrentLeader.LeaderEpoch = 2, 9
			case 5:
				p.DivergingEpoch.Epoch, p.DivergingEpoch.EndOffset = 3, 77
				p.SnapshotID.EndOffset, p.SnapshotID.Epoch = 88, 4
			}
			p.PreferredReadReplica = -1
			p.RecordBatches = recs
			fx.data = append(fx.data, recs)
			fx.filed = append(fx.filed, len(recs) > 0 && n%4 == 0)
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	if v >= 16 {
		rack := "r1"
		resp.Brokers = []kmsg.FetchResponseBroker{{NodeID: 1, Host: "h1", Port: 9092, Rack: &rack}, {NodeID: 2, Host: "h2", Port: 9093}}
	}
	fx.resp = resp
	return fx
}

// fileBacked writes the filed partitions' records to a file and returns a
// copy of the fixture whose filed partitions hold FileRecords (and no
// bytes); every release adds one to released.
func (fx fetchFixture) fileBacked(t *testing.T, released *atomic.Int32) *FetchResponse {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "00000000000000000000.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	cp := *fx.resp
	cp.Topics = nil
	out := NewFetchResponse(&cp)
	n := 0
	var pos int64 = 11 // regions need not start at 0
	if _, err := f.WriteAt(make([]byte, pos), 0); err != nil {
		t.Fatal(err)
	}
	for ti, t0 := range fx.resp.Topics {
		t1 := t0
		t1.Partitions = append([]kmsg.FetchResponseTopicPartition(nil), t0.Partitions...)
		cp.Topics = append(cp.Topics, t1)
		for pi := range t1.Partitions {
			if fx.filed[n] {
				if _, err := f.WriteAt(fx.data[n], pos); err != nil {
					t.Fatal(err)
				}
				cp.Topics[ti].Partitions[pi].RecordBatches = []byte{}
				out.SetFileRecords(ti, pi, FileRecords{File: f, Offset: pos, Length: int64(len(fx.data[n])), Release: func() { released.Add(1) }})
				pos += int64(len(fx.data[n])) + 3
			}
			n++
		}
	}
	return out
}

// spliced joins an encoding with its file regions the way the socket sees it.
func spliced(t *testing.T, buf []byte, splices []splice) []byte {
	t.Helper()
	var out []byte
	prev := 0
	for _, sp := range splices {
		out = append(out, buf[prev:sp.at]...)
		b := make([]byte, sp.rec.Length)
		if _, err := sp.rec.File.ReadAt(b, sp.rec.Offset); err != nil {
			t.Fatal(err)
		}
		out = append(out, b...)
		prev = sp.at
	}
	return append(out, buf[prev:]...)
}

// TestFetchEncoderMatchesKmsg encodes the same response with kmsg (records
// in memory) and with the file-region encoder (records spliced in from the
// file) at every served version and compares the bytes.
func TestFetchEncoderMatchesKmsg(t *testing.T) {
	for v := int16(minFileFetchVersion); v <= maxFileFetchVersion; v++ {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			fx := newFetchFixture(v)
			want := fx.resp.AppendTo(nil)
			var released atomic.Int32
			fr := fx.fileBacked(t, &released)
			buf, splices := appendFetchBody(nil, nil, fr)
			if len(splices) == 0 {
				t.Fatal("fixture has no file-backed partition")
			}
			if got := spliced(t, buf, splices); !bytes.Equal(got, want) {
				t.Fatalf("encodings differ:\n got %x\nwant %x", got, want)
			}
			// The in-memory path (AppendTo) gives the same bytes and
			// releases the regions.
			if got := fr.AppendTo(nil); !bytes.Equal(got, want) {
				t.Fatalf("AppendTo differs:\n got %x\nwant %x", got, want)
			}
			if int(released.Load()) != len(splices) {
				t.Fatalf("%d regions released, want %d", released.Load(), len(splices))
			}
		})
	}
}

// fetchHandler answers every Fetch with the response made by mk.
type fetchHandler struct{ mk func() *FetchResponse }

func (h fetchHandler) Handle(ctx context.Context, hdr *RequestHeader, req kmsg.Request) (kmsg.Response, error) {
	return h.mk(), nil
}

// readFetch sends a Fetch request at version v and decodes the answer.
func readFetch(t *testing.T, c net.Conn, v int16) (*kmsg.FetchResponse, []byte, error) {
	t.Helper()
	if _, err := c.Write(frameOf(encodeRequest(kmsg.NewPtrFetchRequest(), v, 42, strp("c")))); err != nil {
		t.Fatal(err)
	}
	var size [4]byte
	if _, err := io.ReadFull(c, size[:]); err != nil {
		return nil, nil, err
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(c, body); err != nil {
		return nil, nil, err
	}
	if cid := int32(binary.BigEndian.Uint32(body)); cid != 42 {
		t.Fatalf("correlation id %d", cid)
	}
	body = body[4:]
	if v >= firstFlexibleFetch {
		body = body[1:]
	}
	resp := kmsg.NewPtrFetchResponse()
	resp.Version = v
	return resp, body, resp.ReadFrom(body)
}

// TestServeConnFetchFromFile serves file-backed Fetch responses over TCP
// (sendfile) and over an in-memory pipe (read into memory) and checks that
// the client reads exactly what kmsg would have encoded and that every
// region is released.
func TestServeConnFetchFromFile(t *testing.T) {
	for _, v := range []int16{4, 11, 12, 16, 17} {
		for _, transport := range []string{"tcp", "pipe"} {
			t.Run(fmt.Sprintf("v%d-%s", v, transport), func(t *testing.T) {
				fx := newFetchFixture(v)
				want := fx.resp.AppendTo(nil)
				var released atomic.Int32
				h := fetchHandler{mk: func() *FetchResponse { return fx.fileBacked(t, &released) }}
				var client net.Conn
				if transport == "tcp" {
					client = serve(t, ConnConfig{}, h).client
				} else {
					c, srv := net.Pipe()
					client = c
					ctx, cancel := context.WithCancel(context.Background())
					done := make(chan struct{})
					go func() { ServeConn(ctx, srv, ConnConfig{Versions: testVersions}, h); close(done) }()
					t.Cleanup(func() { cancel(); c.Close(); <-done })
					c.SetDeadline(time.Now().Add(10 * time.Second))
				}
				regions := 0
				for _, filed := range fx.filed {
					if filed {
						regions++
					}
				}
				for i := range 2 { // the reused buffers must not leak into the next answer
					_, body, err := readFetch(t, client, v)
					if err != nil {
						t.Fatalf("read response: %v", err)
					}
					if !bytes.Equal(body, want) {
						t.Fatalf("body differs from kmsg's encoding:\n got %x\nwant %x", body, want)
					}
					// The server releases right after its last write,
					// which may be just after the client read it.
					wantReleased := int32((i + 1) * regions)
					deadline := time.Now().Add(10 * time.Second)
					for released.Load() != wantReleased {
						if time.Now().After(deadline) {
							t.Fatalf("%d regions released, want %d", released.Load(), wantReleased)
						}
						time.Sleep(time.Millisecond)
					}
				}
			})
		}
	}
}

// TestServeConnFetchTruncatedRegion checks that a region whose file is
// shorter than announced closes the connection instead of sending a frame
// shorter than its size or hanging.
func TestServeConnFetchTruncatedRegion(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "short.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	var released atomic.Int32
	h := fetchHandler{mk: func() *FetchResponse {
		resp := kmsg.NewPtrFetchResponse()
		tp := kmsg.NewFetchResponseTopic()
		tp.Topic = "t"
		tp.Partitions = append(tp.Partitions, kmsg.NewFetchResponseTopicPartition())
		resp.Topics = append(resp.Topics, tp)
		fr := NewFetchResponse(resp)
		fr.SetFileRecords(0, 0, FileRecords{File: f, Offset: 50, Length: 1000, Release: func() { released.Add(1) }})
		return fr
	}}
	s := serve(t, ConnConfig{}, h)
	if _, _, err := readFetch(t, s.client, 12); err == nil {
		t.Fatal("a response announcing more bytes than the file holds was read whole")
	}
	expectClosed(t, s.client)
	if err := s.wait(t); err == nil {
		t.Fatal("ServeConn returned nil after a failed sendfile")
	}
	// ServeConn has returned, so the deferred release has run.
	if released.Load() != 1 {
		t.Fatalf("region released %d times, want 1", released.Load())
	}
}
