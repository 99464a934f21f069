package configs

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseAddConfig(t *testing.T) {
	tests := []struct {
		in   string
		want [][2]string
		err  bool
	}{
		{"retention.ms=1000", [][2]string{{"retention.ms", "1000"}}, false},
		{"a=1,b=2", [][2]string{{"a", "1"}, {"b", "2"}}, false},
		{"cleanup.policy=[compact,delete],c=3", [][2]string{{"cleanup.policy", "compact,delete"}, {"c", "3"}}, false},
		{"follower.replication.throttled.replicas=[0:1,1:2]", [][2]string{{"follower.replication.throttled.replicas", "0:1,1:2"}}, false},
		{"a=", [][2]string{{"a", ""}}, false},
		{"novalue", nil, true},
		{"=1", nil, true},
	}
	for _, tc := range tests {
		got, err := parseAddConfig(tc.in)
		if (err != nil) != tc.err || (!tc.err && !reflect.DeepEqual(got, tc.want)) {
			t.Errorf("%q: %v %v, want %v (error %v)", tc.in, got, err, tc.want, tc.err)
		}
	}
}

// TestParseOptions checks the command lines kafka-configs.sh accepts and
// the ones it refuses, before any connection is made.
func TestParseOptions(t *testing.T) {
	bs := []string{"--bootstrap-server", "h:9092"}
	tests := []struct {
		name string
		args []string
		want options
		err  string
	}{
		{"describe topic", append(bs, "--entity-type", "topics", "--entity-name", "t", "--describe"),
			options{bootstrap: "h:9092", entityType: "topics", entityName: "t", describe: true}, ""},
		{"describe all brokers", append(bs, "--entity-type", "brokers", "--describe", "--all"),
			options{bootstrap: "h:9092", entityType: "brokers", describe: true, all: true}, ""},
		{"alter default", append(bs, "--entity-type", "brokers", "--entity-default", "--alter", "--add-config", "log.retention.ms=1"),
			options{bootstrap: "h:9092", entityType: "brokers", entityName: "<default>", entityDefault: true, alter: true, addConfig: "log.retention.ms=1"}, ""},
		{"topic shortcut", append(bs, "--topic", "t", "--alter", "--delete-config", "retention.ms"),
			options{bootstrap: "h:9092", entityType: "topics", entityName: "t", alter: true, deleteConfig: "retention.ms"}, ""},
		{"no bootstrap", []string{"--entity-type", "topics", "--describe"}, options{}, "--bootstrap-server"},
		{"no action", append(bs, "--entity-type", "topics"), options{}, "exactly one action"},
		{"two actions", append(bs, "--entity-type", "topics", "--describe", "--alter"), options{}, "exactly one action"},
		{"no type", append(bs, "--describe"), options{}, "entity type"},
		{"bad type", append(bs, "--entity-type", "groups", "--describe"), options{}, "Invalid entity type groups"},
		{"alter without name", append(bs, "--entity-type", "topics", "--alter", "--add-config", "a=1"), options{}, "entity name"},
		{"alter without change", append(bs, "--entity-type", "topics", "--entity-name", "t", "--alter"), options{}, "--add-config"},
		{"broker name not a number", append(bs, "--entity-type", "brokers", "--entity-name", "x", "--describe"), options{}, "valid integer broker id"},
		{"default topic", append(bs, "--entity-type", "topics", "--entity-default", "--describe"), options{}, "not supported"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parse(tc.args)
			if tc.err != "" {
				var ue usageError
				if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want a usage error with %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("%+v %v, want %+v", got, err, tc.want)
			}
		})
	}
}

// TestUsageExitCodes: --help exits 0 on stdout, a bad command line 1 on
// stderr.
func TestUsageExitCodes(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := Run(context.Background(), []string{"--help"}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "usage: gokafka configs") || errOut.Len() != 0 {
		t.Errorf("--help: %d %q %q", code, out.String(), errOut.String())
	}
	out.Reset()
	if code := Run(context.Background(), []string{"--describe"}, &out, &errOut); code != 1 || out.Len() != 0 || !strings.Contains(errOut.String(), "--bootstrap-server") {
		t.Errorf("bad args: %d %q %q", code, out.String(), errOut.String())
	}
}
