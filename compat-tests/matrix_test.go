package compattests

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gokafka/gokafka/internal/testcluster"
)

// The client compatibility matrix: TestMatrix/<client>/<feature> runs one
// feature of one client library against one shared broker on a real
// ZooKeeper. `make compat` turns the `go test -json` events of these
// subtests into compat-tests/MATRIX.md (internal/compatmatrix), so the
// subtest names are the matrix's rows and columns.
//
// Every client does a feature the same way: the harness prepares the topic
// or group (with franz-go), the client does the feature and prints
// standardized lines (below), and the harness compares them with what it
// expects, then checks the broker's side with franz-go where the client's own
// output cannot prove it (the codec a batch is stored in, a producer id, a
// deleted topic, an altered config).
//
// A client that has no API for a feature skips that cell, saying so; a
// client that is not installed skips all its cells, unless
// GOKAFKA_COMPAT_REQUIRE_ALL=1 (set by .ci/run), when it fails them.

// matrixFeatures are the matrix's columns, in order, with what each checks
// (TestMatrix logs these "matrix feature" lines for MATRIX.md's legend).
// Every produced record has a key and a compressible value; a record the
// client prints is checked field by field.
var matrixFeatures = []struct{ name, about string }{
	{"metadata", "brokers and a 3-partition topic's leaders, as the client's metadata API reports them"},
	{"create-delete-topics", "the client creates a 2-partition topic and deletes it; the broker lists it no more"},
	{"gzip", "produce and read back 5 records in this codec; the batches are stored in it"},
	{"snappy", "as gzip"},
	{"lz4", "as gzip"},
	{"zstd", "as gzip (Produce v7 and Fetch v10 at least, KIP-110)"},
	{"keys", "produce and read back 5 keyed records, uncompressed"},
	{"headers", "as keys, each record with a header of its own"},
	{"timestamps", "as keys, with create times the client sets and reads back"},
	{"idempotent", "as keys, with the idempotent producer; the batches carry a producer id"},
	{"from-offset", "read a partition from offset 6 of 10 records"},
	{"from-timestamp", "look up the offset of a timestamp (ListOffsets) and read from it"},
	{"group-commit-resume", "a group member reads 4 records, commits and leaves; the next member resumes at offset 4"},
	{"list-groups-offsets", "list the groups and fetch a group's committed offsets with the client's admin API"},
	{"describe-configs", "describe a topic's configs: retention.ms set at creation"},
	{"alter-configs", "set a topic's retention.ms (AlterConfigs or IncrementalAlterConfigs); the broker describes it"},
}

// matrixCodecs maps codec features to the batch attribute of the codec.
var matrixCodecs = map[string]uint8{"gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}

// requireAllEnv makes a missing client fail its cells instead of skipping.
const requireAllEnv = "GOKAFKA_COMPAT_REQUIRE_ALL"

const (
	// matrixProduced is how many records a produce feature writes.
	matrixProduced = 5
	// matrixPrepared is how many records the harness writes for the
	// consume features (from-offset, from-timestamp, group-commit-resume).
	matrixPrepared = 10
	// matrixFromOffset is where from-offset starts; from-timestamp looks
	// up matrixTimestamp(matrixFromOffset)-500 and must land there too.
	matrixFromOffset = 6
	// matrixGroupFirst is how many records the first group member reads
	// before it commits and leaves; the second resumes at this offset.
	matrixGroupFirst = 4
	// matrixListedOffset is the offset the harness commits for
	// list-groups-offsets.
	matrixListedOffset = 3
	// matrixRetention is the retention.ms describe-configs finds and
	// matrixAltered the one alter-configs sets.
	matrixRetention = "3600000"
	matrixAltered   = "7200000"
	// matrixTSBase is the create time of record 0 when timestamps are
	// set; record i has matrixTSBase + i seconds.
	matrixTSBase = int64(1700000000000)
)

// matrixTimestamp is the create time (ms) the timestamps feature gives record i.
func matrixTimestamp(i int) int64 { return matrixTSBase + int64(i)*1000 }

// matrixCase is what a client is told to do: the feature, on which broker,
// topic (partition 0 unless the feature says otherwise) and group.
type matrixCase struct {
	Addr, Feature, Topic, Group string
}

// matrixClient is one row of the matrix.
type matrixClient struct {
	name string
	// absent says why the client cannot run here ("" when it can).
	absent func() string
	// lacks maps the features the client has no API for to why.
	lacks map[string]string
	// produceOnly maps the produce features whose records the client
	// writes but cannot read back to why: it prints nothing, and the
	// harness reads what it wrote with franz-go.
	produceOnly map[string]string
	// notes say how the client does a feature where that is not obvious
	// (MATRIX.md shows them).
	notes map[string]string
	// run does one feature and returns the lines it printed.
	run func(ctx context.Context, c matrixCase) ([]string, error)
}

// matrixLine is the line a client prints for one consumed record: offset,
// key, value, headers as k=v joined by commas, and the create time in ms
// for the timestamps feature only (else empty).
func matrixLine(offset int64, key, value string, headers []string, ts string) string {
	return fmt.Sprintf("%d|%s|%s|%s|%s", offset, key, value, strings.Join(headers, ","), ts)
}

// matrixValuePad makes values compressible: franz-go sends a batch
// uncompressed when its codec does not make it smaller.
const matrixValuePad = "0123456789012345678901234567890123456789012345678901234567890123456789"

// matrixRecord is record i as the harness or a producing client writes it
// for feature: key k<i>, value v<i>-matrixValuePad, header h=<i> for headers, create time
// matrixTimestamp(i) for timestamps (and for the harness's prepared records,
// which from-timestamp looks up).
func matrixRecord(topic, feature string, i int) *kgo.Record {
	r := &kgo.Record{Topic: topic, Partition: 0, Key: []byte("k" + strconv.Itoa(i)), Value: []byte("v" + strconv.Itoa(i) + "-" + matrixValuePad)}
	if feature == "headers" {
		r.Headers = []kgo.RecordHeader{{Key: "h", Value: []byte(strconv.Itoa(i))}}
	}
	if feature == "timestamps" || feature == "from-timestamp" {
		r.Timestamp = time.UnixMilli(matrixTimestamp(i))
	}
	return r
}

// matrixRecordLine is the line a client prints for record i of feature.
func matrixRecordLine(feature string, i int) string {
	r := matrixRecord("", feature, i)
	ts := ""
	if feature == "timestamps" {
		ts = strconv.FormatInt(r.Timestamp.UnixMilli(), 10)
	}
	return matrixLine(int64(i), string(r.Key), string(r.Value), headerPairs(r.Headers), ts)
}

// isProduceFeature reports whether the client produces (and reads back)
// matrixProduced records for feature.
func isProduceFeature(feature string) bool {
	_, codec := matrixCodecs[feature]
	return codec || feature == "keys" || feature == "headers" || feature == "timestamps" || feature == "idempotent"
}

// groupRead joins c.Group, reads n records (printing their lines), commits
// the offset after the last if commit, and leaves.
type groupRead func(ctx context.Context, c matrixCase, n int, commit bool) ([]string, error)

// groupCommitResume is the group-commit-resume feature of a Go client: one
// member reads and commits matrixGroupFirst records, the next reads one.
func groupCommitResume(ctx context.Context, c matrixCase, read groupRead) ([]string, error) {
	first, err := read(ctx, c, matrixGroupFirst, true)
	if err != nil {
		return first, err
	}
	second, err := read(ctx, c, 1, false)
	return append(first, second...), err
}

// matrixEnv is the broker the matrix shares and a franz-go admin on it.
type matrixEnv struct {
	b   *testcluster.Broker
	adm *kadm.Client
}

// TestMatrix runs every client and feature on one broker.
func TestMatrix(t *testing.T) {
	_, b := startBroker(t, map[string]string{"group.initial.rebalance.delay.ms": "0"})
	env := &matrixEnv{b: b, adm: newAdmin(t, b)}
	if testing.Verbose() { // -json too: for MATRIX.md, not for a failure's log
		for _, f := range matrixFeatures {
			t.Logf("matrix feature %s: %s", f.name, f.about)
		}
	}
	for _, cl := range matrixClients() {
		t.Run(cl.name, func(t *testing.T) {
			absent := cl.absent()
			for _, f := range matrixFeatures {
				feature := f.name
				t.Run(feature, func(t *testing.T) {
					if absent != "" {
						if os.Getenv(requireAllEnv) == "1" {
							t.Fatalf("%s: %s (%s=1: CI must run every client)", cl.name, absent, requireAllEnv)
						}
						t.Skipf("%s: %s", cl.name, absent)
					}
					if why, ok := cl.lacks[feature]; ok {
						t.Skipf("%s has no API for this: %s", cl.name, why)
					}
					env.runCase(t, cl, feature)
				})
			}
		})
	}
}

// matrixClients are the matrix's rows, in order.
func matrixClients() []matrixClient {
	return []matrixClient{
		franzMatrixClient(), saramaMatrixClient(), kafkaGoMatrixClient(),
		kcatMatrixClient(), confluentMatrixClient(), kafkaPythonMatrixClient(),
		kafkajsMatrixClient(),
	}
}

// runCase prepares feature for cl, runs it and checks the outcome.
func (e *matrixEnv) runCase(t *testing.T, cl matrixClient, feature string) {
	c := matrixCase{Addr: e.b.Addr(), Feature: feature, Topic: "m-" + cl.name + "-" + feature, Group: "mg-" + cl.name + "-" + feature}
	want := e.prepare(t, c)
	if note, ok := cl.notes[feature]; ok {
		t.Logf("matrix note: %s", note)
	}
	if why, ok := cl.produceOnly[feature]; ok {
		t.Logf("matrix note: %s writes only, read back with franz-go: %s", cl.name, why)
		want = nil
	}
	got, err := cl.run(testCtx(t), c)
	if err != nil {
		t.Fatalf("%s %s: %v\nprinted:\n%s", cl.name, feature, err, strings.Join(got, "\n"))
	}
	if feature == "metadata" {
		slices.Sort(got)
		slices.Sort(want)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s %s printed:\n%s\nwant:\n%s", cl.name, feature, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	e.check(t, c)
}

// prepare creates what feature needs and returns the lines the client
// must print.
func (e *matrixEnv) prepare(t *testing.T, c matrixCase) []string {
	t.Helper()
	var want []string
	switch f := c.Feature; {
	case f == "metadata":
		createTopic(t, e.adm, c.Topic, 3, nil)
		want = append(want, fmt.Sprintf("broker %d %s", e.b.ID, e.b.Addr()))
		for p := range 3 {
			want = append(want, fmt.Sprintf("partition %s %d leader %d", c.Topic, p, e.b.ID))
		}
	case f == "create-delete-topics":
		want = []string{"created " + c.Topic, "deleted " + c.Topic}
	case isProduceFeature(f):
		createTopic(t, e.adm, c.Topic, 1, nil)
		for i := range matrixProduced {
			want = append(want, matrixRecordLine(f, i))
		}
	case f == "from-offset" || f == "from-timestamp" || f == "group-commit-resume":
		createTopic(t, e.adm, c.Topic, 1, nil)
		e.producePrepared(t, c)
		first, n := matrixFromOffset, matrixPrepared-matrixFromOffset
		if f == "group-commit-resume" {
			first, n = 0, matrixGroupFirst+1
		}
		for i := first; i < first+n; i++ {
			want = append(want, matrixRecordLine(f, i))
		}
	case f == "list-groups-offsets":
		createTopic(t, e.adm, c.Topic, 1, nil)
		e.producePrepared(t, c)
		var offs kadm.Offsets
		offs.AddOffset(c.Topic, 0, matrixListedOffset, -1)
		resp, err := e.adm.CommitOffsets(testCtx(t), c.Group, offs)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			t.Fatalf("commit %s offset %d for group %s: %v", c.Topic, matrixListedOffset, c.Group, err)
		}
		want = []string{"group " + c.Group, fmt.Sprintf("offset %s 0 %d", c.Topic, matrixListedOffset)}
	case f == "describe-configs":
		createTopic(t, e.adm, c.Topic, 1, map[string]*string{"retention.ms": kadm.StringPtr(matrixRetention)})
		want = []string{"retention.ms=" + matrixRetention}
	case f == "alter-configs":
		createTopic(t, e.adm, c.Topic, 1, nil)
		want = []string{"altered"}
	default:
		t.Fatalf("no preparation for feature %q", f)
	}
	return want
}

// producePrepared writes the matrixPrepared records the consume features read.
func (e *matrixEnv) producePrepared(t *testing.T, c matrixCase) {
	t.Helper()
	recs := make([]*kgo.Record, matrixPrepared)
	for i := range recs {
		recs[i] = matrixRecord(c.Topic, c.Feature, i)
	}
	produceSync(t, newClient(t, e.b), recs...)
}

// check verifies on the broker, with franz-go, what the client's output
// cannot show.
func (e *matrixEnv) check(t *testing.T, c matrixCase) {
	t.Helper()
	switch f := c.Feature; {
	case f == "create-delete-topics":
		eventually(t, "topic "+c.Topic+" deleted", func() error {
			tds, err := e.adm.ListTopics(testCtx(t))
			if err != nil {
				return fmt.Errorf("list topics: %w", err)
			}
			if tds.Has(c.Topic) {
				return fmt.Errorf("%s still listed", c.Topic)
			}
			return nil
		})
	case isProduceFeature(f):
		want := make([]*kgo.Record, matrixProduced)
		for i := range want {
			want[i] = matrixRecord(c.Topic, f, i)
		}
		seen := &compressionSeen{}
		got := consumeAll(t, e.b, c.Topic, 1, matrixProduced, kgo.WithHooks(seen))
		recordsEqual(t, got, want)
		if codec, ok := matrixCodecs[f]; ok {
			if only, codecs := seen.only(codec); !only {
				t.Errorf("stored batch codecs %v, want only %d (%s)", codecs, codec, f)
			}
		}
		if f == "idempotent" {
			for _, r := range got {
				if r.ProducerID < 0 {
					t.Errorf("record at offset %d has producer id %d: not written by an idempotent producer", r.Offset, r.ProducerID)
				}
			}
		}
	case f == "group-commit-resume":
		resp, err := e.adm.FetchOffsets(testCtx(t), c.Group)
		if err != nil {
			t.Fatalf("fetch offsets of %s: %v", c.Group, err)
		}
		if o, ok := resp.Lookup(c.Topic, 0); !ok || o.Err != nil || o.At < matrixGroupFirst {
			t.Errorf("group %s committed %+v for %s-0, want at least %d", c.Group, o, c.Topic, matrixGroupFirst)
		}
	case f == "alter-configs":
		rcs, err := e.adm.DescribeTopicConfigs(testCtx(t), c.Topic)
		if err != nil {
			t.Fatalf("describe %s configs: %v", c.Topic, err)
		}
		rc, err := rcs.On(c.Topic, nil)
		if err != nil {
			t.Fatalf("describe %s configs: %v", c.Topic, err)
		}
		found := false
		for _, cfg := range rc.Configs {
			if cfg.Key == "retention.ms" {
				found = true
				if cfg.MaybeValue() != matrixAltered {
					t.Errorf("retention.ms of %s is %q, want %s", c.Topic, cfg.MaybeValue(), matrixAltered)
				}
			}
		}
		if !found {
			t.Errorf("%s has no retention.ms", c.Topic)
		}
	}
}
