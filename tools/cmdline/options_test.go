package cmdline

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

var testTool = &Tool{Name: "t", Description: "A test tool.", Options: []Option{
	{Name: "bootstrap-server", Kind: Value, Arg: "server"},
	{Name: "property", Kind: Value, Arg: "prop"},
	{Name: "list", Kind: Switch},
	{Name: "compression-codec", Kind: OptionalValue, Arg: "codec"},
	{Name: "partitions", Kind: Value},
	{Name: "partition", Kind: Value},
}}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		want    Values
		wantErr string
	}{
		{[]string{"--bootstrap-server", "h:1", "--list"}, Values{"bootstrap-server": {"h:1"}, "list": {}}, ""},
		{[]string{"--bootstrap-server=h:1"}, Values{"bootstrap-server": {"h:1"}}, ""},
		{[]string{"--property", "a=b", "--property", "c=d=e"}, Values{"property": {"a=b", "c=d=e"}}, ""},
		{[]string{"--bootstrap", "h:1"}, Values{"bootstrap-server": {"h:1"}}, ""}, // unique prefix
		{[]string{"--partition", "3"}, Values{"partition": {"3"}}, ""},            // exact name beats prefix
		{[]string{"--compression-codec"}, Values{"compression-codec": {}}, ""},
		{[]string{"--compression-codec", "--list"}, Values{"compression-codec": {}, "list": {}}, ""},
		{[]string{"--compression-codec", "zstd"}, Values{"compression-codec": {"zstd"}}, ""},
		{[]string{"--part", "1"}, nil, "Option(s) [part] are ambiguous"},
		{[]string{"--nope"}, nil, "nope is not a recognized option"},
		{[]string{"--property"}, nil, "Option property requires an argument"},
		{[]string{"--list=true"}, nil, "Option list does not take an argument"},
		{[]string{"stray"}, nil, "Found non-option argument(s): stray"},
	} {
		got, err := testTool.Parse(tc.args)
		if tc.wantErr != "" {
			var ue *UsageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Parse(%q) error = %v, want a usage error with %q", tc.args, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Parse(%q) = %v, %v; want %v", tc.args, got, err, tc.want)
		}
	}
}

func TestMainExitCodes(t *testing.T) {
	for _, tc := range []struct {
		args              []string
		runErr            error
		code              int
		stdoutHas, errHas string
	}{
		{[]string{"--help"}, nil, 0, "Option", ""},
		{[]string{"--version"}, nil, 0, KafkaVersion, ""},
		{nil, nil, 1, "", "A test tool."},
		{[]string{"--list"}, nil, 0, "", ""},
		{[]string{"--list"}, Usagef("bad combination"), 1, "", "bad combination\nA test tool."},
		{[]string{"--list"}, errors.New("Error while doing it"), 1, "", "Error while doing it\n"},
		{[]string{"--list"}, ErrReported, 1, "", ""},
	} {
		var out, errOut strings.Builder
		code := Main(testTool, tc.args, &out, &errOut, func(Values) error { return tc.runErr })
		if code != tc.code || !strings.Contains(out.String(), tc.stdoutHas) || !strings.Contains(errOut.String(), tc.errHas) {
			t.Errorf("Main(%q, %v) = %d, stdout %q, stderr %q", tc.args, tc.runErr, code, out.String(), errOut.String())
		}
		if tc.runErr == ErrReported && errOut.Len() != 0 {
			t.Errorf("ErrReported printed %q", errOut.String())
		}
	}
}

func TestResolveClientConfig(t *testing.T) {
	c, err := ResolveClientConfig(map[string]string{"bootstrap.servers": "a:1, b:2", "client.id": "x", "request.timeout.ms": "100", "sasl.mechanism": "PLAIN"}, "def")
	if err != nil || !reflect.DeepEqual(c.Bootstrap, []string{"a:1", "b:2"}) || c.ClientID != "x" || c.RequestTimeout != 100*time.Millisecond || len(c.Warnings) != 1 {
		t.Fatalf("ResolveClientConfig = %+v, %v", c, err)
	}
	for _, props := range []map[string]string{
		{},
		{"bootstrap.servers": "a:1", "security.protocol": "SSL"},
		{"bootstrap.servers": "a:1", "request.timeout.ms": "soon"},
	} {
		if _, err := ResolveClientConfig(props, "def"); err == nil {
			t.Errorf("ResolveClientConfig(%v) accepted", props)
		}
	}
}
