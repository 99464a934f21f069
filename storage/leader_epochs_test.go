package storage

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gokafka/gokafka/storage/vfs"
)

func TestTruncateLeaderEpochs(t *testing.T) {
	base := []LeaderEpochEntry{{0, 0}, {2, 100}, {5, 250}}
	tests := []struct {
		name string
		end  int64
		want []LeaderEpochEntry
	}{
		{"past the last start keeps all", 251, base},
		{"at the last start drops it", 250, base[:2]},
		{"inside the second epoch", 150, base[:2]},
		{"at the second start", 100, base[:1]},
		{"to zero drops everything", 0, []LeaderEpochEntry{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, e := range base {
				if err := AssignLeaderEpoch(vfs.Default, dir, e.Epoch, e.StartOffset); err != nil {
					t.Fatal(err)
				}
			}
			got, err := TruncateLeaderEpochs(vfs.Default, dir, tc.end)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
				t.Fatalf("returned %v, want %v", got, tc.want)
			}
			onDisk, err := ReadLeaderEpochs(vfs.Default, dir)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(onDisk, got) && !(len(onDisk) == 0 && len(got) == 0) {
				t.Fatalf("file holds %v, returned %v", onDisk, got)
			}
		})
	}
}

// FuzzReadLeaderEpochs reads arbitrary leader-epoch-checkpoint files: no
// panic, and whatever parses is written back to an identical list.
func FuzzReadLeaderEpochs(f *testing.F) {
	f.Add([]byte("0\n2\n0 0\n3 120\n"))
	f.Add([]byte("0\n0\n"))
	f.Add([]byte("1\n1\n0 0\n"))
	f.Add([]byte("0\n1\n-1 99999999999999999999\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, leaderEpochFile), data, 0o644); err != nil {
			t.Fatal(err)
		}
		entries, err := ReadLeaderEpochs(vfs.Default, dir)
		if err != nil {
			return
		}
		if err := writeLeaderEpochs(vfs.Default, dir, entries); err != nil {
			t.Fatal(err)
		}
		again, err := ReadLeaderEpochs(vfs.Default, dir)
		if err != nil || !slices.Equal(again, entries) {
			t.Fatalf("round trip: %v then %v (%v)", entries, again, err)
		}
	})
}
