package console

import (
	"bufio"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestLineReader(t *testing.T) {
	type rec struct {
		key, value []byte
		headers    []kgo.RecordHeader
	}
	for _, tc := range []struct {
		name  string
		props map[string]string
		in    string
		want  []rec
		err   string
	}{
		{"plain", nil, "a\n\nb c\r\nlast", []rec{{nil, []byte("a"), nil}, {nil, []byte{}, nil}, {nil, []byte("b c"), nil}, {nil, []byte("last"), nil}}, ""},
		{"key", map[string]string{"parse.key": "true", "key.separator": ":"}, "k:v:w\n", []rec{{[]byte("k"), []byte("v:w"), nil}}, ""},
		{"default tab", map[string]string{"parse.key": "true"}, "k\tv\n", []rec{{[]byte("k"), []byte("v"), nil}}, ""},
		{"no separator", map[string]string{"parse.key": "true"}, "kv\n", nil, "No key separator found on line number 1: 'kv'"},
		{"ignore.error", map[string]string{"parse.key": "true", "ignore.error": "true"}, "kv\n", []rec{{nil, []byte("kv"), nil}}, ""},
		{"null marker", map[string]string{"parse.key": "true", "null.marker": "NULL"}, "NULL\tNULL\n", []rec{{nil, nil, nil}}, ""},
		{"headers", map[string]string{"parse.headers": "true", "parse.key": "true"}, "h1:v1,h2:v2\tk\tv\n",
			[]rec{{[]byte("k"), []byte("v"), []kgo.RecordHeader{{Key: "h1", Value: []byte("v1")}, {Key: "h2", Value: []byte("v2")}}}}, ""},
	} {
		lr, err := newLineReader(strings.NewReader(tc.in), "t", tc.props)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var got []rec
		for {
			r, err := lr.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				if tc.err == "" || err.Error() != tc.err {
					t.Errorf("%s: error %v, want %q", tc.name, err, tc.err)
				}
				break
			}
			got = append(got, rec{r.Key, r.Value, r.Headers})
		}
		if tc.err == "" && !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestFormatter(t *testing.T) {
	r := &kgo.Record{Key: []byte("k"), Value: []byte("v"), Partition: 2, Offset: 7, Timestamp: time.UnixMilli(1700000000000),
		Headers: []kgo.RecordHeader{{Key: "a", Value: []byte("1")}, {Key: "b", Value: nil}}}
	for _, tc := range []struct {
		props map[string]string
		rec   *kgo.Record
		want  string
	}{
		{nil, r, "v\n"},
		{map[string]string{"print.key": "true"}, r, "k\tv\n"},
		{map[string]string{"print.key": "true", "key.separator": " | "}, r, "k | v\n"},
		{map[string]string{"print.timestamp": "true", "print.partition": "true", "print.offset": "true", "print.headers": "true", "print.key": "true"}, r,
			"CreateTime:1700000000000\tPartition:2\tOffset:7\ta:1,b:null\tk\tv\n"},
		{map[string]string{"print.headers": "true"}, &kgo.Record{Value: []byte("v")}, "NO_HEADERS\tv\n"},
		{map[string]string{"print.key": "true"}, &kgo.Record{}, "null\tnull\n"},
		{map[string]string{"print.key": "true", "print.value": "false"}, r, "k"},
	} {
		f, err := newFormatter(tc.props)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		w := bufio.NewWriter(&b)
		f.write(w, tc.rec)
		w.Flush()
		if b.String() != tc.want {
			t.Errorf("%v: got %q, want %q", tc.props, b.String(), tc.want)
		}
	}
}

func TestProducerProps(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want map[string]string // a subset
	}{
		{[]string{"--bootstrap-server", "h:1", "--topic", "t"},
			map[string]string{"bootstrap.servers": "h:1", "acks": "-1", "linger.ms": "1000", "compression.type": "none", "client.id": "console-producer", "retries": "3", "request.timeout.ms": "1500"}},
		{[]string{"--broker-list", "h:2", "--topic", "t", "--compression-codec"}, map[string]string{"bootstrap.servers": "h:2", "compression.type": "gzip"}},
		{[]string{"--bootstrap-server", "h:1", "--topic", "t", "--producer-property", "acks=1", "--producer-property", "linger.ms=5"}, map[string]string{"acks": "1", "linger.ms": "5"}},
		{[]string{"--bootstrap-server", "h:1", "--topic", "t", "--producer-property", "acks=1", "--request-required-acks", "0"}, map[string]string{"acks": "0"}},
	} {
		v, err := ProducerTool.Parse(tc.args)
		if err != nil {
			t.Fatal(err)
		}
		got, err := producerProps(v)
		if err != nil {
			t.Fatal(err)
		}
		for k, want := range tc.want {
			if got[k] != want {
				t.Errorf("%q: %s = %q, want %q", tc.args, k, got[k], want)
			}
		}
	}
}

func TestParseConsumer(t *testing.T) {
	bs := []string{"--bootstrap-server", "h:1"}
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{append(bs, "--topic", "t"), ""},
		{append(bs, "--topic", "t", "--partition", "0", "--offset", "5"), ""},
		{bs, "Exactly one of --include/--topic is required."},
		{append(bs, "--topic", "t", "--include", "x"), "Exactly one of --include/--topic is required."},
		{append(bs, "--topic", "t", "--offset", "5"), "The partition is required when offset is specified."},
		{append(bs, "--topic", "t", "--partition", "0", "--offset", "-3"), "The provided offset value '-3' is incorrect."},
		{append(bs, "--topic", "t", "--partition", "0", "--offset", "1", "--from-beginning"), "Options from-beginning and offset cannot be specified together."},
		{append(bs, "--topic", "t", "--partition", "0", "--group", "g"), "Options group and partition cannot be specified together."},
		{[]string{"--topic", "t"}, `Missing required argument "[bootstrap-server]"`},
	} {
		v, err := ConsumerTool.Parse(tc.args)
		if err == nil {
			_, err = parseConsumer(v)
		}
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%q: %v", tc.args, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: error %v, want %q", tc.args, err, tc.err)
		}
	}
	v, _ := ConsumerTool.Parse(append(bs, "--topic", "t"))
	o, _ := parseConsumer(v)
	if !strings.HasPrefix(o.group, "console-consumer-") || o.userGroup {
		t.Errorf("no --group: group %q (user %v), want a generated console-consumer-N", o.group, o.userGroup)
	}
}
