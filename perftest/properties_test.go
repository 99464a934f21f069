package perftest

import (
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/gokafka/gokafka/internal/javaprops/javapropstest"
)

func TestLoadPropertiesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "producer.properties")
	content := "# comment\n! also a comment\n\nbootstrap.servers=127.0.0.1:9092\nacks : all\n  linger.ms = 5  \nsasl.jaas.config=a=b\nbare\n"
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := loadPropertiesFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"bootstrap.servers": "127.0.0.1:9092",
		"acks":              "all",
		"linger.ms":         "5",
		"sasl.jaas.config":  "a=b",
		"bare":              "",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if _, err := loadPropertiesFile(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("missing file: want error")
	}
}

// TestLoadPropertiesFileAgrees reads the shared table of tricky inputs
// as client config files: the perf tools must read them as the broker
// reads server.properties.
func TestLoadPropertiesFileAgrees(t *testing.T) {
	for _, tc := range javapropstest.Cases {
		path := filepath.Join(t.TempDir(), "client.properties")
		if err := os.WriteFile(path, []byte(tc.Input), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := loadPropertiesFile(path)
		if err != nil || !maps.Equal(got, tc.Want) {
			t.Errorf("%s: loadPropertiesFile = %q, %v; want %q", tc.Name, got, err, tc.Want)
		}
	}
}

func TestParseAssignments(t *testing.T) {
	got, err := parseAssignments([]string{"acks=1", "x=a=b", "empty="})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"acks": "1", "x": "a=b", "empty": ""}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for _, bad := range []string{"noequals", "=v"} {
		if _, err := parseAssignments([]string{bad}); err == nil {
			t.Errorf("%q: want error", bad)
		}
	}
}
