package main

import (
	"slices"
	"strings"
	"testing"
)

// events is a `go test -json` stream: build noise, a passing cell with a
// note, a skipped cell with its reason, a failed cell, a cell that never
// ended, and tests that are not cells.
const events = `# github.com/gokafka/gokafka/compat-tests
{"Action":"run","Test":"TestMatrix"}
{"Action":"output","Test":"TestMatrix","Output":"    matrix_test.go:155: matrix feature metadata: brokers and leaders\n"}
{"Action":"run","Test":"TestMatrix/franz-go"}
{"Action":"run","Test":"TestMatrix/franz-go/metadata"}
{"Action":"output","Test":"TestMatrix/franz-go/metadata","Output":"    matrix_test.go:188: matrix note: read back with franz-go\n"}
{"Action":"pass","Test":"TestMatrix/franz-go/metadata"}
{"Action":"run","Test":"TestMatrix/franz-go/zstd"}
{"Action":"output","Test":"TestMatrix/franz-go/zstd","Output":"    matrix_test.go:161: franz-go has no API for this: none\n"}
{"Action":"output","Test":"TestMatrix/franz-go/zstd","Output":"--- SKIP: TestMatrix/franz-go/zstd (0.00s)\n"}
{"Action":"skip","Test":"TestMatrix/franz-go/zstd"}
{"Action":"run","Test":"TestMatrix/kcat/metadata"}
{"Action":"output","Test":"TestMatrix/kcat/metadata","Output":"    matrix_test.go:190: kcat printed nothing\n"}
{"Action":"fail","Test":"TestMatrix/kcat/metadata"}
{"Action":"run","Test":"TestMatrix/kcat/zstd"}
{"Action":"fail","Test":"TestMatrix/franz-go"}
{"Action":"pass","Test":"TestKcatCodecs/gzip"}
{"Action":"fail","Test":"TestMatrix"}
`

func TestParse(t *testing.T) {
	m, err := parse(strings.NewReader(events))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"franz-go", "kcat"}; !slices.Equal(m.clients, want) {
		t.Errorf("clients %v, want %v", m.clients, want)
	}
	if want := []string{"metadata", "zstd"}; !slices.Equal(m.features, want) {
		t.Errorf("features %v, want %v", m.features, want)
	}
	for _, tc := range []struct {
		client, feature string
		outcome         outcome
		notes           []string
	}{
		{"franz-go", "metadata", pass, []string{"read back with franz-go"}},
		{"franz-go", "zstd", skipped, []string{"franz-go has no API for this: none"}},
		{"kcat", "metadata", fail, nil},
		{"kcat", "zstd", notRun, nil},
	} {
		c := m.cells[[2]string{tc.client, tc.feature}]
		if c == nil {
			t.Errorf("%s/%s: no cell", tc.client, tc.feature)
			continue
		}
		if c.outcome != tc.outcome || !slices.Equal(c.notes, tc.notes) {
			t.Errorf("%s/%s: %s %q, want %s %q", tc.client, tc.feature, c.outcome, c.notes, tc.outcome, tc.notes)
		}
	}
	if !m.failed() {
		t.Error("failed() is false with a failed cell")
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"no cells", `{"Action":"pass","Test":"TestOther"}` + "\n"},
		{"bad json", `{"Action":` + "\n"},
		{"empty", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := parse(strings.NewReader(tc.in)); err == nil {
				t.Error("parse succeeded")
			}
		})
	}
}

func TestRender(t *testing.T) {
	m, err := parse(strings.NewReader(events))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := m.render(&b, map[string]string{"franz-go": "franz-go v1.0.0 (go)"}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| Client | Version | metadata | zstd |",
		"| franz-go | franz-go v1.0.0 (go) | pass [1] | skipped [2] |",
		"| kcat | unknown | **FAIL** | **NOT RUN** |",
		"1. franz-go, metadata: read back with franz-go",
		"2. franz-go, zstd: franz-go has no API for this: none",
		"- **metadata**: brokers and leaders",
		"- **zstd**: (not described)",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("rendered matrix lacks %q:\n%s", want, b.String())
		}
	}
}
