package vfs

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestCrashableModel checks the durability model a crash image follows,
// step by step: file data is durable at its fsync, directory entries at
// their directory's fsync, and Keep picks what survives of the rest.
func TestCrashableModel(t *testing.T) {
	root := t.TempDir()
	c, err := NewCrashable(root)
	if err != nil {
		t.Fatal(err)
	}
	a := filepath.Join(root, "a")
	image := func(keep Keep) string {
		t.Helper()
		dst := filepath.Join(t.TempDir(), "img")
		if err := c.CrashImage(dst, keep); err != nil {
			t.Fatal(err)
		}
		return dst
	}
	content := func(dir, name string) (string, bool) {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, os.ErrNotExist) {
			return "", false
		}
		if err != nil {
			t.Fatal(err)
		}
		return string(b), true
	}

	f, err := c.OpenFile(a, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if _, ok := content(image(KeepUnsynced), "a"); ok {
		t.Fatal("a file whose directory was never synced survived the crash")
	}
	if err := SyncPath(c, root); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte(" world"), 5); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		keep Keep
		want string
	}{
		{"drop unsynced", DropUnsynced, "hello"},
		{"keep unsynced", KeepUnsynced, "hello world"},
		{"torn write", func(string, []int) Kept { return Kept{Torn: 3} }, "hello wo"},
		{"torn write of zeros", func(string, []int) Kept { return Kept{Torn: 3, ZeroTorn: true} }, "hello\x00\x00\x00"},
	}
	for _, tc := range tests {
		if got, _ := content(image(tc.keep), "a"); got != tc.want {
			t.Errorf("%s: a holds %q, want %q", tc.name, got, tc.want)
		}
	}

	// A rename is durable at the directory's fsync; until then the old
	// name holds the file.
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := c.Rename(a, filepath.Join(root, "b")); err != nil {
		t.Fatal(err)
	}
	img := image(KeepUnsynced)
	if got, ok := content(img, "a"); !ok || got != "hello world" {
		t.Fatalf("before the directory sync, a = %q (%v), want the file", got, ok)
	}
	if _, ok := content(img, "b"); ok {
		t.Fatal("an unsynced rename survived")
	}
	if err := SyncPath(c, root); err != nil {
		t.Fatal(err)
	}
	img = image(DropUnsynced)
	if _, ok := content(img, "a"); ok {
		t.Fatal("the old name survived a synced rename")
	}
	if got, _ := content(img, "b"); got != "hello world" {
		t.Fatalf("b = %q after a synced rename", got)
	}

	// A remove is durable at the directory's fsync too.
	if err := c.Remove(filepath.Join(root, "b")); err != nil {
		t.Fatal(err)
	}
	if _, ok := content(image(DropUnsynced), "b"); !ok {
		t.Fatal("an unsynced remove took effect")
	}
	if err := SyncPath(c, root); err != nil {
		t.Fatal(err)
	}
	if _, ok := content(image(DropUnsynced), "b"); ok {
		t.Fatal("a synced remove did not take effect")
	}
}

// TestCrashableTruncate checks that O_TRUNC and Truncate are unsynced
// changes like writes.
func TestCrashableTruncate(t *testing.T) {
	root := t.TempDir()
	p := filepath.Join(root, "f")
	if err := os.WriteFile(p, []byte("old content"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := NewCrashable(root)
	if err != nil {
		t.Fatal(err)
	}
	f, err := c.OpenFile(p, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write([]byte("new")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		keep Keep
		want string
	}{
		{DropUnsynced, "old content"},
		{func(string, []int) Kept { return Kept{Whole: 1} }, ""},
		{KeepUnsynced, "new"},
	} {
		dst := filepath.Join(t.TempDir(), "img")
		if err := c.CrashImage(dst, tc.keep); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(dst, "f"))
		if err != nil || !bytes.Equal(got, []byte(tc.want)) {
			t.Errorf("f = %q (%v), want %q", got, err, tc.want)
		}
	}
	if n := c.Ops(); n != 2 {
		t.Fatalf("%d operations counted, want 2 (the O_TRUNC and the write)", n)
	}
}

// TestFaulty checks that faults apply to their operations under their
// prefix only, and until Clear.
func TestFaulty(t *testing.T) {
	root := t.TempDir()
	bad, good := filepath.Join(root, "bad"), filepath.Join(root, "good")
	fsys := NewFaulty(nil)
	for _, d := range []string{bad, good} {
		if err := fsys.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	fsys.Inject(OpSync|OpWrite, bad, syscall.EIO)
	for _, tc := range []struct {
		dir     string
		wantErr bool
	}{{bad, true}, {good, false}} {
		f, err := fsys.OpenFile(filepath.Join(tc.dir, "f"), os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		_, werr := f.Write([]byte("x"))
		serr := f.Sync()
		f.Close()
		for op, err := range map[string]error{"write": werr, "sync": serr} {
			if got := errors.Is(err, syscall.EIO); got != tc.wantErr {
				t.Errorf("%s in %s: %v, want EIO %v", op, tc.dir, err, tc.wantErr)
			}
		}
	}
	fsys.Clear()
	if err := SyncPath(fsys, filepath.Join(bad, "f")); err != nil {
		t.Fatalf("sync after Clear: %v", err)
	}
}
