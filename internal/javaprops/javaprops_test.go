package javaprops

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"testing"

	"github.com/gokafka/gokafka/internal/javaprops/javapropstest"
)

func TestParse(t *testing.T) {
	for _, tc := range javapropstest.Cases {
		got, err := Parse([]byte(tc.Input))
		if err != nil {
			t.Errorf("%s: %v", tc.Name, err)
			continue
		}
		if !maps.Equal(got, tc.Want) {
			t.Errorf("%s: Parse(%q) = %q, want %q", tc.Name, tc.Input, got, tc.Want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, in := range []string{"bad=\\u00g1\n", "cut=\\u00"} {
		if m, err := Parse([]byte(in)); err == nil {
			t.Errorf("Parse(%q) = %q, want an error", in, m)
		}
	}
}

func TestReadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.properties")
	if err := os.WriteFile(path, []byte("a = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if m, err := ReadFile(path); err != nil || m["a"] != "1" {
		t.Fatalf("ReadFile = %q, %v", m, err)
	}
	if _, err := ReadFile(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}
