package wire

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// testVersions is a broker table for tests: a few APIs, ApiVersions 0-4.
var testVersions = Versions{
	0:  {Min: 0, Max: 11}, // Produce
	1:  {Min: 4, Max: 17}, // Fetch
	3:  {Min: 0, Max: 12}, // Metadata
	18: {Min: 0, Max: 4},  // ApiVersions
}

// encodeRequest frames req the way a client does: header v1 (or v2 with an
// empty tag section for flexible versions) then the body, without the size.
func encodeRequest(req kmsg.Request, version int16, correlationID int32, clientID *string) []byte {
	req.SetVersion(version)
	b := binary.BigEndian.AppendUint16(nil, uint16(req.Key()))
	b = binary.BigEndian.AppendUint16(b, uint16(version))
	b = binary.BigEndian.AppendUint32(b, uint32(correlationID))
	if clientID == nil {
		b = binary.BigEndian.AppendUint16(b, 0xffff)
	} else {
		b = binary.BigEndian.AppendUint16(b, uint16(len(*clientID)))
		b = append(b, *clientID...)
	}
	if req.IsFlexible() {
		b = append(b, 0)
	}
	return req.AppendTo(b)
}

func strp(s string) *string { return &s }

func TestParseRequestHeaders(t *testing.T) {
	meta := kmsg.NewPtrMetadataRequest()
	topic := kmsg.NewMetadataRequestTopic()
	topic.Topic = strp("orders")
	meta.Topics = append(meta.Topics, topic)

	tests := []struct {
		name     string
		frame    []byte
		key, ver int16
		clientID *string
	}{
		{"metadata v1 (header v1)", encodeRequest(meta, 1, 7, strp("kafka-python")), 3, 1, strp("kafka-python")},
		{"metadata v9 (flexible, header v2)", encodeRequest(meta, 9, 8, strp("franz")), 3, 9, strp("franz")},
		{"metadata v12 null client id", encodeRequest(meta, 12, 9, nil), 3, 12, nil},
		{"api versions v3 flexible", encodeRequest(kmsg.NewPtrApiVersionsRequest(), 3, 10, strp("")), 18, 3, strp("")},
		{"flexible header with tags", func() []byte {
			b := encodeRequest(meta, 12, 11, strp("x"))
			// Replace the empty tag section (one 0 byte after the
			// client id) with two tags that must be skipped.
			pos := 8 + 2 + 1
			tags := []byte{2, 5, 3, 'a', 'b', 'c', 9, 0}
			return append(append(append([]byte{}, b[:pos]...), tags...), b[pos+1:]...)
		}(), 3, 12, strp("x")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr, req, err := ParseRequest(tt.frame, testVersions)
			if err != nil {
				t.Fatal(err)
			}
			if hdr.APIKey != tt.key || hdr.APIVersion != tt.ver || req.Key() != tt.key || req.GetVersion() != tt.ver {
				t.Fatalf("header %+v, request key %d v%d", hdr, req.Key(), req.GetVersion())
			}
			if (hdr.ClientID == nil) != (tt.clientID == nil) || (hdr.ClientID != nil && *hdr.ClientID != *tt.clientID) {
				t.Fatalf("client id %v, want %v", hdr.ClientID, tt.clientID)
			}
			if m, ok := req.(*kmsg.MetadataRequest); ok {
				if len(m.Topics) != 1 || m.Topics[0].Topic == nil || *m.Topics[0].Topic != "orders" {
					t.Fatalf("metadata topics decoded as %+v", m.Topics)
				}
			}
		})
	}
}

func TestParseRequestErrors(t *testing.T) {
	meta := kmsg.NewPtrMetadataRequest()
	good := encodeRequest(meta, 12, 5, strp("c"))
	tests := []struct {
		name        string
		frame       []byte
		unsupported bool
	}{
		{"empty", nil, false},
		{"short header", good[:6], false},
		{"client id overruns", func() []byte { b := append([]byte{}, good[:10]...); b[8], b[9] = 0, 50; return b }(), false},
		{"negative client id", func() []byte { b := append([]byte{}, good...); b[8], b[9] = 0xff, 0xfe; return b }(), false},
		{"body truncated", good[:len(good)-2], false},
		{"bad tag section", func() []byte { b := append([]byte{}, good[:11]...); return append(b, 1, 1, 200) }(), false},
		{"version above table", encodeRequest(kmsg.NewPtrMetadataRequest(), 13, 5, nil), true},
		{"version below table", encodeRequest(kmsg.NewPtrFetchRequest(), 3, 5, nil), true},
		{"key not in table", encodeRequest(kmsg.NewPtrListOffsetsRequest(), 1, 5, nil), true},
		{"unknown key", []byte{0x7f, 0, 0, 0, 0, 0, 0, 5, 0xff, 0xff}, true},
		{"negative version", []byte{0, 3, 0xff, 0xff, 0, 0, 0, 5, 0xff, 0xff}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr, req, err := ParseRequest(tt.frame, testVersions)
			if err == nil || req != nil {
				t.Fatalf("got request %v, err %v", req, err)
			}
			var unsup *UnsupportedError
			if errors.As(err, &unsup) != tt.unsupported {
				t.Fatalf("unsupported = %v for %v", !tt.unsupported, err)
			}
			if tt.unsupported {
				if unsup.APIKey != hdr.APIKey || unsup.APIVersion != hdr.APIVersion || hdr.CorrelationID != 5 {
					t.Fatalf("header %+v, error %+v", hdr, unsup)
				}
			} else if !errors.Is(err, ErrMalformedRequest) {
				t.Fatalf("got %v, want ErrMalformedRequest", err)
			}
		})
	}
}

func TestAppendResponseHeaders(t *testing.T) {
	tests := []struct {
		name       string
		resp       kmsg.Response
		version    int16
		wantTagged bool
	}{
		{"metadata v8 header v0", kmsg.NewPtrMetadataResponse(), 8, false},
		{"metadata v9 header v1", kmsg.NewPtrMetadataResponse(), 9, true},
		{"api versions v3 still header v0", kmsg.NewPtrApiVersionsResponse(), 3, false},
		{"api versions v0", kmsg.NewPtrApiVersionsResponse(), 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.resp.SetVersion(tt.version)
			prefix := []byte("keep")
			out := AppendResponse(append([]byte{}, prefix...), 99, tt.resp)
			if string(out[:4]) != "keep" {
				t.Fatal("dst prefix overwritten")
			}
			frame := out[4:]
			if size := binary.BigEndian.Uint32(frame); int(size) != len(frame)-4 {
				t.Fatalf("size %d, frame body %d", size, len(frame)-4)
			}
			if cid := int32(binary.BigEndian.Uint32(frame[4:])); cid != 99 {
				t.Fatalf("correlation id %d", cid)
			}
			body := frame[8:]
			if tt.wantTagged {
				if body[0] != 0 {
					t.Fatalf("tag section byte %d", body[0])
				}
				body = body[1:]
			}
			dec := tt.resp.RequestKind().ResponseKind()
			dec.SetVersion(tt.version)
			if err := dec.ReadFrom(body); err != nil {
				t.Fatalf("body does not decode: %v", err)
			}
		})
	}
}

func TestVersionsAPIKeysSorted(t *testing.T) {
	keys := testVersions.APIKeys()
	if len(keys) != len(testVersions) {
		t.Fatalf("%d keys", len(keys))
	}
	for i, k := range keys {
		if i > 0 && keys[i-1].ApiKey >= k.ApiKey {
			t.Fatalf("not sorted: %+v", keys)
		}
		if r := testVersions[k.ApiKey]; r.Min != k.MinVersion || r.Max != k.MaxVersion {
			t.Fatalf("key %d: %+v vs %+v", k.ApiKey, k, r)
		}
	}
}

// produceFrame is a Produce request carrying one batch of n records of
// size bytes each.
func produceFrame(tb testing.TB, version int16, n, size int) []byte {
	req := kmsg.NewPtrProduceRequest()
	req.Acks = -1
	req.TimeoutMillis = 30000
	topic := kmsg.NewProduceRequestTopic()
	topic.Topic = "bench"
	p := kmsg.NewProduceRequestTopicPartition()
	p.Records = buildBatch(tb, batchSpec{recs: testRecords(n, size)})
	topic.Partitions = append(topic.Partitions, p)
	req.Topics = append(req.Topics, topic)
	return encodeRequest(req, version, 1, strp("producer"))
}

// FuzzParseRequest decodes arbitrary frames. Run it with a short
// -fuzzminimizetime (e.g. 200ms): minimizing the large produce-shaped inputs
// it finds otherwise stalls for minutes. The forged-count frames of
// header_dos_test.go are seeds (the array one at 64 KiB, same shape).
func FuzzParseRequest(f *testing.F) {
	full := Versions{}
	for k := int16(0); k < 100; k++ {
		if r := kmsg.RequestForKey(k); r != nil {
			full[k] = VersionRange{Min: 0, Max: r.MaxVersion()}
		}
	}
	meta := kmsg.NewPtrMetadataRequest()
	meta.Topics = append(meta.Topics, kmsg.MetadataRequestTopic{Topic: strp("t")})
	for _, v := range []int16{0, 1, 9, 12} {
		f.Add(encodeRequest(meta, v, 1, strp("c")))
	}
	for _, v := range []int16{3, 9, 11} {
		f.Add(produceFrame(f, v, 2, 5)) // small seeds keep minimization fast
	}
	for _, v := range []int16{0, 3, 4} {
		f.Add(encodeRequest(kmsg.NewPtrApiVersionsRequest(), v, 1, strp("c")))
	}
	fetch := kmsg.NewPtrFetchRequest()
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = "t"
	ft.Partitions = append(ft.Partitions, kmsg.NewFetchRequestTopicPartition())
	fetch.Topics = append(fetch.Topics, ft)
	for _, v := range []int16{4, 12, 13, 17} {
		f.Add(encodeRequest(fetch, v, 1, nil))
	}
	ct := kmsg.NewPtrCreateTopicsRequest()
	ct.Topics = append(ct.Topics, kmsg.CreateTopicsRequestTopic{Topic: "t", NumPartitions: 3, ReplicationFactor: 1})
	f.Add(encodeRequest(ct, 7, 1, nil))
	f.Add(encodeRequest(kmsg.NewPtrInitProducerIDRequest(), 5, 1, nil))
	f.Add(encodeRequest(kmsg.NewPtrListOffsetsRequest(), 9, 1, nil))
	// The inter-broker requests of replication, as the controller and the
	// followers send them.
	lai := kmsg.NewPtrLeaderAndISRRequest()
	lai.TopicStates = []kmsg.LeaderAndISRRequestTopicState{{Topic: "t", PartitionStates: []kmsg.LeaderAndISRRequestTopicPartition{{Partition: 0, Leader: 1, ISR: []int32{1, 2}, Replicas: []int32{1, 2}}}}}
	f.Add(encodeRequest(lai, 7, 1, nil))
	um := kmsg.NewPtrUpdateMetadataRequest()
	um.TopicStates = []kmsg.UpdateMetadataRequestTopicState{{Topic: "t", PartitionStates: []kmsg.UpdateMetadataRequestTopicPartition{{Leader: 1, ISR: []int32{1}}}}}
	um.LiveBrokers = []kmsg.UpdateMetadataRequestLiveBroker{{ID: 1, Endpoints: []kmsg.UpdateMetadataRequestLiveBrokerEndpoint{{Port: 9092, Host: "h"}}}}
	f.Add(encodeRequest(um, 8, 1, nil))
	sr := kmsg.NewPtrStopReplicaRequest()
	sr.Topics = []kmsg.StopReplicaRequestTopic{{Topic: "t", PartitionStates: []kmsg.StopReplicaRequestTopicPartitionState{{Partition: 0, Delete: true}}}}
	f.Add(encodeRequest(sr, 4, 1, nil))
	ofe := kmsg.NewPtrOffsetForLeaderEpochRequest()
	ofe.Topics = []kmsg.OffsetForLeaderEpochRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetForLeaderEpochRequestTopicPartition{{LeaderEpoch: 3}}}}
	f.Add(encodeRequest(ofe, 4, 1, nil))
	ap := kmsg.NewPtrAlterPartitionRequest()
	ap.Topics = []kmsg.AlterPartitionRequestTopic{{Topic: "t", Partitions: []kmsg.AlterPartitionRequestTopicPartition{{NewISR: []int32{1}}}}}
	f.Add(encodeRequest(ap, 1, 1, nil))
	f.Add(encodeRequest(kmsg.NewPtrControlledShutdownRequest(), 3, 1, nil))
	f.Add(tagBombFrame())
	f.Add(arrayBombFrame(64 << 10))
	f.Fuzz(func(t *testing.T, frame []byte) {
		hdr, req, err := ParseRequest(frame, full)
		if err != nil {
			return
		}
		if req.Key() != hdr.APIKey || req.GetVersion() != hdr.APIVersion {
			t.Fatalf("request key %d v%d, header %+v", req.Key(), req.GetVersion(), hdr)
		}
		// A decoded request re-encodes without panicking.
		_ = req.AppendTo(nil)
	})
}

func BenchmarkParseRequest(b *testing.B) {
	frame := produceFrame(b, 9, 100, 100)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ParseRequest(frame, testVersions); err != nil {
			b.Fatal(err)
		}
	}
}
