package compattests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gokafka/gokafka/internal/testcluster"
)

// kcatPath is Debian's kcat (librdkafka).
const kcatPath = "/usr/bin/kcat"

// kcatFormat prints one consumed message per line: partition, offset, key,
// value, headers.
const kcatFormat = `%p|%o|%k|%s|%h\n`

// kcatTimeout bounds one kcat run; kcat -C -e never ends if it cannot parse
// a fetch answer, and one such hang should not eat the whole test budget.
const kcatTimeout = 45 * time.Second

// kcat runs kcat against the broker with stdin and returns its stdout,
// failing the test (with stderr) if it fails.
func kcat(t *testing.T, b *testcluster.Broker, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), kcatTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, kcatPath, append([]string{"-b", b.Addr()}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("kcat %s: %v\nstderr:\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String()
}

// kcatConsume reads a whole topic with kcat -C -o beginning -e and returns
// one formatted line per message.
func kcatConsume(t *testing.T, b *testcluster.Broker, topic string) []string {
	t.Helper()
	out := kcat(t, b, "", "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-f", kcatFormat)
	return strings.Split(strings.TrimRight(out, "\n"), "\n")
}

// TestKcatCodecs produces with kcat -P in every codec with keys (-K:) and a
// header (-H), consumes with kcat -C, and checks with franz-go that the
// batches were stored in the codec kcat used.
func TestKcatCodecs(t *testing.T) {
	requireCommand(t, kcatPath, "kcat")
	_, b := startBroker(t, nil)
	adm := newAdmin(t, b)
	for _, codec := range []struct {
		name string
		id   uint8
	}{{"none", 0}, {"gzip", 1}, {"snappy", 2}, {"lz4", 3}, {"zstd", 4}} {
		t.Run(codec.name, func(t *testing.T) {
			topic := "kcat-" + codec.name
			createTopic(t, adm, topic, 1, nil)
			var input, want []string
			for i := range 100 {
				input = append(input, fmt.Sprintf("k%d:value %d %s", i, i, strings.Repeat("z", i%7)))
				want = append(want, fmt.Sprintf("0|%d|k%d|value %d %s|origin=kcat,codec=%s", i, i, i, strings.Repeat("z", i%7), codec.name))
			}
			kcat(t, b, strings.Join(input, "\n")+"\n", "-P", "-t", topic, "-p", "0", "-z", codec.name, "-K:",
				"-H", "origin=kcat", "-H", "codec="+codec.name, "-X", "linger.ms=100")
			if got := kcatConsume(t, b, topic); !slices.Equal(got, want) {
				t.Errorf("kcat consumed:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			seen := &compressionSeen{}
			consumeAll(t, b, topic, 1, len(want), kgo.WithHooks(seen))
			if ok, codecs := seen.only(codec.id); !ok {
				t.Errorf("stored batch codecs %v, want only %d (%s)", codecs, codec.id, codec.name)
			}
		})
	}
}

// kcatMetadata is what kcat -L -J prints.
type kcatMetadata struct {
	ControllerID int32 `json:"controllerid"`
	Brokers      []struct {
		ID   int32  `json:"id"`
		Name string `json:"name"`
	} `json:"brokers"`
	Topics []struct {
		Topic      string `json:"topic"`
		Partitions []struct {
			Partition int32 `json:"partition"`
			Leader    int32 `json:"leader"`
		} `json:"partitions"`
	} `json:"topics"`
}

// TestKcatMetadata lists metadata with kcat -L -J and checks brokers,
// controller and topics.
func TestKcatMetadata(t *testing.T) {
	requireCommand(t, kcatPath, "kcat")
	_, b := startBroker(t, nil)
	adm := newAdmin(t, b)
	createTopic(t, adm, "listed", 3, nil)

	var md kcatMetadata
	out := kcat(t, b, "", "-L", "-J")
	if err := json.Unmarshal([]byte(out), &md); err != nil {
		t.Fatalf("kcat -L -J output is not JSON: %v\n%s", err, out)
	}
	if len(md.Brokers) != 1 || md.Brokers[0].ID != b.ID || md.Brokers[0].Name != b.Addr() {
		t.Errorf("brokers %+v, want one: %d at %s", md.Brokers, b.ID, b.Addr())
	}
	if md.ControllerID != b.ID {
		t.Errorf("controller %d, want %d", md.ControllerID, b.ID)
	}
	found := false
	for _, tp := range md.Topics {
		if tp.Topic != "listed" {
			continue
		}
		found = true
		if len(tp.Partitions) != 3 {
			t.Errorf("listed has %d partitions, want 3", len(tp.Partitions))
		}
		for _, p := range tp.Partitions {
			if p.Leader != b.ID {
				t.Errorf("listed-%d leader %d, want %d", p.Partition, p.Leader, b.ID)
			}
		}
	}
	if !found {
		t.Errorf("kcat -L does not list topic 'listed':\n%s", out)
	}
}

// TestKcatFranzInterop checks that kcat reads what franz-go wrote and
// franz-go reads what kcat wrote, keys and headers included.
func TestKcatFranzInterop(t *testing.T) {
	requireCommand(t, kcatPath, "kcat")
	_, b := startBroker(t, nil)
	adm := newAdmin(t, b)

	t.Run("franz-go to kcat", func(t *testing.T) {
		createTopic(t, adm, "from-franz", 1, nil)
		var recs []*kgo.Record
		var want []string
		for i := range 30 {
			recs = append(recs, &kgo.Record{Topic: "from-franz", Key: []byte(fmt.Sprint("fk", i)), Value: []byte(fmt.Sprint("fv", i)),
				Headers: []kgo.RecordHeader{{Key: "h", Value: []byte(fmt.Sprint(i))}}})
			want = append(want, fmt.Sprintf("0|%d|fk%d|fv%d|h=%d", i, i, i, i))
		}
		produceSync(t, newClient(t, b, kgo.ProducerBatchCompression(kgo.ZstdCompression())), recs...)
		if got := kcatConsume(t, b, "from-franz"); !slices.Equal(got, want) {
			t.Errorf("kcat consumed:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})

	t.Run("kcat to franz-go", func(t *testing.T) {
		createTopic(t, adm, "from-kcat", 1, nil)
		var input []string
		for i := range 30 {
			input = append(input, fmt.Sprintf("kk%d:kv%d", i, i))
		}
		before := time.Now().Add(-time.Minute)
		kcat(t, b, strings.Join(input, "\n")+"\n", "-P", "-t", "from-kcat", "-p", "0", "-K:", "-H", "via=kcat", "-z", "lz4")
		got := consumeAll(t, b, "from-kcat", 1, len(input))
		for i, r := range got {
			if string(r.Key) != fmt.Sprint("kk", i) || string(r.Value) != fmt.Sprint("kv", i) || r.Offset != int64(i) {
				t.Errorf("record %d: key %q value %q offset %d", i, r.Key, r.Value, r.Offset)
			}
			if len(r.Headers) != 1 || r.Headers[0].Key != "via" || string(r.Headers[0].Value) != "kcat" {
				t.Errorf("record %d headers %v, want via=kcat", i, headerPairs(r.Headers))
			}
			if r.Timestamp.Before(before) {
				t.Errorf("record %d timestamp %v: librdkafka sets the create time to now", i, r.Timestamp)
			}
		}
	})
}
