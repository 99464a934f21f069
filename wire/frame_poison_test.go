package wire

import (
	"bytes"
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// keepingHandler answers Produce and keeps the first partition's record
// bytes: the bug that poisoning is there to expose.
type keepingHandler struct{ kept chan []byte }

func (h keepingHandler) Handle(ctx context.Context, hdr *RequestHeader, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.ProduceRequest)
	h.kept <- r.Topics[0].Partitions[0].Records
	return r.ResponseKind(), nil
}

// TestReleasedFramePoisoned: in race and framepoison builds, request bytes
// a handler keeps past its response read as poison once the frame is
// released, instead of silently turning into the next request's bytes.
func TestReleasedFramePoisoned(t *testing.T) {
	if !poisonReleasedFrames {
		t.Skip("frames are poisoned only in race and framepoison builds")
	}
	h := keepingHandler{kept: make(chan []byte, 2)}
	s := serve(t, ConnConfig{}, h)
	// The second frame is too large for the first one's buffer, so that
	// buffer stays poisoned in the pool rather than being reused.
	var frames []byte
	for i, size := range []int{1000, 300 << 10} {
		cid := int32(i + 1)
		records := bytes.Repeat([]byte{0x42}, size)
		r := kmsg.NewPtrProduceRequest()
		r.Acks = 1
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "t"
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = records
		rt.Partitions = append(rt.Partitions, rp)
		r.Topics = append(r.Topics, rt)
		frames = append(frames, frameOf(encodeRequest(r, 7, cid, strp("p")))...)
	}
	if _, err := s.client.Write(frames); err != nil {
		t.Fatal(err)
	}
	first := <-h.kept
	if cid, _ := readResponse(t, s.client); cid != 1 {
		t.Fatalf("got correlation id %d, want 1", cid)
	}
	// The first frame was released before the second was read, so before
	// the second reached the handler.
	<-h.kept
	if !bytes.Equal(first, bytes.Repeat([]byte{poisonByte}, len(first))) {
		t.Fatalf("kept request bytes after release: % x..., want all %#x", first[:8], poisonByte)
	}
}
