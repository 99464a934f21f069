package zkmeta

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

func TestParseConnect(t *testing.T) {
	tests := []struct {
		in      string
		servers []string
		chroot  string
		wantErr bool
	}{
		{in: "127.0.0.1:2181", servers: []string{"127.0.0.1:2181"}},
		{in: "h1:2181,h2:2182/kafka", servers: []string{"h1:2181", "h2:2182"}, chroot: "/kafka"},
		{in: "h1:2181/kafka/prod/", servers: []string{"h1:2181"}, chroot: "/kafka/prod"},
		{in: "h1:2181/", servers: []string{"h1:2181"}},
		{in: "zk", servers: []string{"zk:2181"}},
		{in: "[::1]:2181/k", servers: []string{"[::1]:2181"}, chroot: "/k"},
		{in: "", wantErr: true},
		{in: "/kafka", wantErr: true},
		{in: "h:1/a//b", wantErr: true},
	}
	for _, tt := range tests {
		servers, chroot, err := parseConnect(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseConnect(%q) err = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if tt.wantErr {
			continue
		}
		if !reflect.DeepEqual(servers, tt.servers) || chroot != tt.chroot {
			t.Errorf("parseConnect(%q) = %v %q, want %v %q", tt.in, servers, chroot, tt.servers, tt.chroot)
		}
	}
}

func TestUUID(t *testing.T) {
	// Kafka's own example cluster id must survive a round trip.
	const kafkaID = "Wq8yNlKIRYKvhYtUYbPw2A"
	id, err := ParseUUID(kafkaID)
	if err != nil {
		t.Fatal(err)
	}
	if got := FormatUUID(id); got != kafkaID {
		t.Fatalf("FormatUUID(ParseUUID(%q)) = %q", kafkaID, got)
	}
	for _, bad := range []string{"", "short", "Wq8yNlKIRYKvhYtUYbPw2A==", "Wq8yNlKIRYKvhYtUYbPw2A+", "!!!!!!!!!!!!!!!!!!!!!!"} {
		if _, err := ParseUUID(bad); err == nil {
			t.Errorf("ParseUUID(%q) succeeded", bad)
		}
	}
	seen := map[[16]byte]bool{}
	for i := 0; i < 2000; i++ {
		id := NewUUID()
		s := FormatUUID(id)
		if len(s) != 22 || s[0] == '-' || id == ([16]byte{}) || id == metadataTopicID || seen[id] {
			t.Fatalf("NewUUID gave %q, which Kafka would not", s)
		}
		seen[id] = true
	}
}

// jsonEqual compares JSON documents ignoring key order, as Kafka's
// writers give no stable order.
func jsonEqual(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("bad JSON %s: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad expected JSON %s: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("JSON = %s\nwant %s", got, want)
	}
}

func TestBrokerCodec(t *testing.T) {
	rack := "rack1"
	now := time.UnixMilli(1700000000000)
	tests := []struct {
		name string
		in   BrokerInfo
		want string
	}{
		{
			name: "plaintext",
			in:   BrokerInfo{ID: 0, Endpoints: []Endpoint{{Name: "PLAINTEXT", SecurityProtocol: "PLAINTEXT", Host: "127.0.0.1", Port: 9092}}},
			want: `{"features":{},"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT"},"endpoints":["PLAINTEXT://127.0.0.1:9092"],"jmx_port":-1,"port":9092,"host":"127.0.0.1","version":5,"timestamp":"1700000000000"}`,
		},
		{
			name: "two listeners and a rack (Kafka's example)",
			in: BrokerInfo{ID: 1, Rack: &rack, Endpoints: []Endpoint{
				{Name: "PLAINTEXT", SecurityProtocol: "PLAINTEXT", Host: "host1", Port: 9092},
				{Name: "SSL", SecurityProtocol: "SSL", Host: "host1", Port: 9093}}},
			want: `{"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT","SSL":"SSL"},
 "endpoints":["PLAINTEXT://host1:9092","SSL://host1:9093"],"rack":"rack1","jmx_port":-1,"features":{},
 "host":"host1","port":9092,"timestamp":"1700000000000","version":5}`,
		},
		{
			name: "no plaintext listener",
			in:   BrokerInfo{ID: 2, Endpoints: []Endpoint{{Name: "INTERNAL", SecurityProtocol: "SSL", Host: "::1", Port: 9093}}},
			want: `{"features":{},"listener_security_protocol_map":{"INTERNAL":"SSL"},"endpoints":["INTERNAL://[::1]:9093"],"jmx_port":-1,"port":-1,"host":null,"version":5,"timestamp":"1700000000000"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := encodeBroker(tt.in, now)
			jsonEqual(t, data, tt.want)
			got, err := decodeBroker(tt.in.ID, data)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.in) {
				t.Fatalf("round trip = %+v, want %+v", got, tt.in)
			}
		})
	}
}

func TestDecodeOlderBrokers(t *testing.T) {
	tests := []struct {
		name string
		data string
		want []Endpoint
	}{
		{"v1", `{"version":1,"host":"h","port":9092,"jmx_port":-1}`,
			[]Endpoint{{Name: "PLAINTEXT", SecurityProtocol: "PLAINTEXT", Host: "h", Port: 9092}}},
		{"v2 without protocol map", `{"version":2,"host":"h","port":9092,"jmx_port":-1,"timestamp":"1","endpoints":["PLAINTEXT://h:9092","SSL://h:9093"]}`,
			[]Endpoint{{"PLAINTEXT", "PLAINTEXT", "h", 9092}, {"SSL", "SSL", "h", 9093}}},
		{"v4 with map and unknown keys", `{"version":4,"host":null,"port":-1,"jmx_port":9999,"timestamp":"1","endpoints":["CLIENT://h:9094"],"listener_security_protocol_map":{"CLIENT":"SASL_SSL"},"extra":true}`,
			[]Endpoint{{"CLIENT", "SASL_SSL", "h", 9094}}},
		{"3.4 features", `{"features":{"metadata.version":{"min_version":1,"max_version":8}},"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT"},"endpoints":["PLAINTEXT://h:9092"],"jmx_port":-1,"port":9092,"host":"h","version":5,"timestamp":"1"}`,
			[]Endpoint{{"PLAINTEXT", "PLAINTEXT", "h", 9092}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeBroker(7, []byte(tt.data))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Endpoints, tt.want) || got.ID != 7 {
				t.Fatalf("got %+v, want endpoints %+v", got, tt.want)
			}
		})
	}
	for _, bad := range []string{``, `{}`, `{"version":1,"port":1}`, `{"version":5,"endpoints":["nohost"]}`, `{"version":5,"endpoints":["P://h:99999"]}`, `[1]`} {
		if _, err := decodeBroker(1, []byte(bad)); err == nil {
			t.Errorf("decodeBroker(%s) succeeded", bad)
		}
	}
}

func TestTopicCodec(t *testing.T) {
	id, _ := ParseUUID("kL2a2Xo7QHi4m8i5Q7u0bQ")
	tests := []struct {
		name string
		data string
		want TopicAssignment
	}{
		{"v3 (Kafka's example)", `{"version":3,"topic_id":"kL2a2Xo7QHi4m8i5Q7u0bQ","partitions":{"0":[1,2,3],"1":[2,3,1]},"adding_replicas":{},"removing_replicas":{}}`,
			TopicAssignment{TopicID: id, Partitions: map[int32][]int32{0: {1, 2, 3}, 1: {2, 3, 1}}, AddingReplicas: map[int32][]int32{}, RemovingReplicas: map[int32][]int32{}}},
		{"v3 from a tool, no id, reassigning", `{"removing_replicas":{"0":[1]},"partitions":{"0":[4,1]},"adding_replicas":{"0":[4]},"version":3}`,
			TopicAssignment{Partitions: map[int32][]int32{0: {4, 1}}, AddingReplicas: map[int32][]int32{0: {4}}, RemovingReplicas: map[int32][]int32{0: {1}}}},
		{"v1", `{"version":1,"partitions":{"0":[0]}}`,
			TopicAssignment{Partitions: map[int32][]int32{0: {0}}, AddingReplicas: map[int32][]int32{}, RemovingReplicas: map[int32][]int32{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeTopic("t", []byte(tt.data))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("decode = %+v, want %+v", got, tt.want)
			}
			again, err := decodeTopic("t", encodeTopic(got))
			if err != nil || !reflect.DeepEqual(again, got) {
				t.Fatalf("round trip = %+v, %v; want %+v", again, err, got)
			}
		})
	}
	jsonEqual(t, encodeTopic(TopicAssignment{Partitions: map[int32][]int32{0: {0}}}),
		`{"version":3,"partitions":{"0":[0]},"adding_replicas":{},"removing_replicas":{}}`)
	jsonEqual(t, encodeTopic(TopicAssignment{TopicID: id, Partitions: map[int32][]int32{0: {0}, 1: {0}}}),
		`{"version":3,"topic_id":"kL2a2Xo7QHi4m8i5Q7u0bQ","partitions":{"0":[0],"1":[0]},"adding_replicas":{},"removing_replicas":{}}`)
	for _, bad := range []string{`{"version":3}`, `{"partitions":{"x":[1]}}`, `{"partitions":{"0":[1]},"topic_id":"short"}`, `nope`} {
		if _, err := decodeTopic("t", []byte(bad)); err == nil {
			t.Errorf("decodeTopic(%s) succeeded", bad)
		}
	}
}

func TestStateCodec(t *testing.T) {
	got, err := decodeState("s", []byte(`{"controller_epoch":7,"leader":1,"version":1,"leader_epoch":3,"isr":[1,2,3]}`))
	want := LeaderAndIsr{Leader: 1, LeaderEpoch: 3, ISR: []int32{1, 2, 3}, ControllerEpoch: 7}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("decode Kafka's example = %+v, %v; want %+v", got, err, want)
	}
	jsonEqual(t, encodeState(want), `{"controller_epoch":7,"leader":1,"version":1,"leader_epoch":3,"isr":[1,2,3]}`)
	rec := LeaderAndIsr{Leader: -1, ISR: nil, LeaderRecoveryState: 1}
	jsonEqual(t, encodeState(rec), `{"controller_epoch":0,"leader":-1,"version":1,"leader_epoch":0,"isr":[],"leader_recovery_state":1}`)
	for _, bad := range []string{`{}`, `{"leader":1,"leader_epoch":1,"controller_epoch":1}`, `x`} {
		if _, err := decodeState("s", []byte(bad)); err == nil {
			t.Errorf("decodeState(%s) succeeded", bad)
		}
	}
}

func TestSmallCodecs(t *testing.T) {
	// /cluster/id: the version is a JSON string.
	jsonEqual(t, encodeClusterID("Wq8yNlKIRYKvhYtUYbPw2A"), `{"version":"1","id":"Wq8yNlKIRYKvhYtUYbPw2A"}`)
	if id, err := decodeClusterID([]byte(`{"version":"1","id":"Wq8yNlKIRYKvhYtUYbPw2A"}`)); err != nil || id != "Wq8yNlKIRYKvhYtUYbPw2A" {
		t.Errorf("decodeClusterID = %q, %v", id, err)
	}
	if _, err := decodeClusterID([]byte(`{"version":"1"}`)); err == nil {
		t.Error("decodeClusterID without id succeeded")
	}

	// /controller v1 (2.8) and v2 (3.x).
	for _, s := range []string{
		`{"version":1,"brokerid":0,"timestamp":"1700000000000"}`,
		`{"version":2,"brokerid":0,"timestamp":"1700000000000","kraftControllerEpoch":-1}`,
	} {
		if id, err := decodeController([]byte(s)); err != nil || id != 0 {
			t.Errorf("decodeController(%s) = %d, %v", s, id, err)
		}
	}
	jsonEqual(t, encodeController(3, time.UnixMilli(1700000000000)), `{"version":2,"brokerid":3,"timestamp":"1700000000000","kraftControllerEpoch":-1}`)
	if _, err := decodeController([]byte(`{"version":2}`)); err == nil {
		t.Error("decodeController without brokerid succeeded")
	}

	// /controller_epoch is decimal text.
	if e, err := decodeControllerEpoch([]byte("5")); err != nil || e != 5 {
		t.Errorf("decodeControllerEpoch(5) = %d, %v", e, err)
	}
	if _, err := decodeControllerEpoch([]byte(`{"epoch":5}`)); err == nil {
		t.Error("decodeControllerEpoch(JSON) succeeded")
	}

	// /config/topics/<t>.
	cfg := map[string]string{"retention.ms": "86400000", "cleanup.policy": "compact"}
	jsonEqual(t, encodeConfig(cfg), `{"version":1,"config":{"retention.ms":"86400000","cleanup.policy":"compact"}}`)
	jsonEqual(t, encodeConfig(nil), `{"version":1,"config":{}}`)
	if got, err := decodeConfig("c", []byte(`{"version":1,"config":{"retention.ms":"86400000","cleanup.policy":"compact"}}`)); err != nil || !reflect.DeepEqual(got, cfg) {
		t.Errorf("decodeConfig = %v, %v", got, err)
	}

	// /latest_producer_id_block: bounds are strings.
	jsonEqual(t, encodeProducerIDBlock(0, 0, 999), `{"version":1,"broker":0,"block_start":"0","block_end":"999"}`)
	if s, e, err := decodeProducerIDBlock([]byte(`{"version":1,"broker":0,"block_start":"0","block_end":"999"}`)); err != nil || s != 0 || e != 999 {
		t.Errorf("decodeProducerIDBlock = %d %d %v", s, e, err)
	}
	if _, _, err := decodeProducerIDBlock([]byte(`{"version":1,"broker":0,"block_start":0,"block_end":999}`)); err == nil {
		t.Error("decodeProducerIDBlock accepted numbers where Kafka writes strings")
	}
}

// FuzzDecoders feeds arbitrary bytes to every znode decoder: none may panic.
func FuzzDecoders(f *testing.F) {
	for _, s := range []string{
		`{"version":3,"topic_id":"kL2a2Xo7QHi4m8i5Q7u0bQ","partitions":{"0":[1,2,3]},"adding_replicas":{},"removing_replicas":{}}`,
		`{"version":5,"endpoints":["PLAINTEXT://h:1"],"jmx_port":-1}`,
		`{"controller_epoch":7,"leader":1,"version":1,"leader_epoch":3,"isr":[1,2,3]}`,
		`{"version":1,"broker":0,"block_start":"0","block_end":"999"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		decodeTopic("t", b)
		decodeBroker(1, b)
		decodeState("s", b)
		decodeProducerIDBlock(b)
		decodeConfig("c", b)
		decodeClusterID(b)
		decodeController(b)
		decodeControllerEpoch(b)
		if id, err := ParseUUID(string(b)); err == nil && FormatUUID(id) != string(b) {
			t.Fatalf("ParseUUID accepted %q, which is not how Kafka prints %q", b, FormatUUID(id))
		}
	})
}

// TestReservedUUID checks the ids Kafka's Uuid.randomUuid never returns.
func TestReservedUUID(t *testing.T) {
	// 0xf8 puts 111110 (62, '-' in base64url) in the first character.
	dash := [16]byte{0: 0xf8, 6: 0x40, 8: 0x80}
	for _, tc := range []struct {
		name string
		id   [16]byte
		want bool
	}{
		{"zero", [16]byte{}, true},
		{"metadata topic id", [16]byte{15: 1}, true},
		{"leading dash", dash, true},
		{"leading underscore", [16]byte{0: 0xfc, 6: 0x40, 8: 0x80}, false},
		{"last bit only of byte 14", [16]byte{14: 1}, false},
		{"ordinary", [16]byte{0: 0x12, 6: 0x4a, 8: 0x9b, 15: 1}, false},
	} {
		if got := reservedUUID(tc.id); got != tc.want {
			t.Errorf("%s (%s): reservedUUID = %v, want %v", tc.name, FormatUUID(tc.id), got, tc.want)
		}
	}
	if s := FormatUUID(dash); s[0] != '-' {
		t.Fatalf("test id %s does not start with '-'", s)
	}
}

// TestNewUUIDDrawsAgain feeds newUUID random bytes that would make a
// reserved id and checks that it draws again, and that it sets the
// version-4 and variant bits on what it returns.
func TestNewUUIDDrawsAgain(t *testing.T) {
	draws := [][16]byte{
		{0: 0xf8},                   // '-' first, even after the version bits
		{0: 0xfb, 15: 0xff},         // still '-'
		{0: 0x01, 6: 0xff, 8: 0xff}, // fine once the version bits are set
	}
	n := 0
	id := newUUID(func(b []byte) {
		copy(b, draws[n][:])
		n++
	})
	if n != 3 {
		t.Fatalf("newUUID drew %d times, want 3", n)
	}
	want := [16]byte{0: 0x01, 6: 0x4f, 8: 0xbf}
	if id != want {
		t.Fatalf("newUUID = %x, want %x", id, want)
	}
}
