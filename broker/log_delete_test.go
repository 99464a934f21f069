package broker

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// deleteDirsIn lists the -delete dirs of a log dir.
func deleteDirsIn(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), "-delete") {
			out = append(out, e.Name())
		}
	}
	return out
}

// TestStopReplicaDeletesAsynchronously: a StopReplica with delete (a topic
// deletion) only renames the partition's directory to a -delete name;
// the deleter removes it once file.delete.delay.ms has passed. The topic
// re-created under the same name before that gets a directory of its own,
// which the removal of the old one leaves intact.
func TestStopReplicaDeletesAsynchronously(t *testing.T) {
	d := t.TempDir()
	rm, dirs := newTestReplicaManager(t, d)
	defer rm.close()
	const delay = 300 * time.Millisecond
	dirs.SetFileDeleteDelay(delay)
	tp := topicPartition{"gone", 0}
	if err := rm.makeLeader(tp, testTopicID, 1, testTopicConfig()); err != nil {
		t.Fatal(err)
	}
	p, _ := rm.get(tp)
	for i := range 5 {
		if _, err := appendBatch(t, p, plainBatch(1, int64(1000+i))); err != nil {
			t.Fatal(err)
		}
	}
	live := p.log.Dir()
	if err := rm.stopPartition(tp, true, true); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(live); !os.IsNotExist(err) {
		t.Fatalf("%s still exists after StopReplica with delete: %v", live, err)
	}
	doomed := deleteDirsIn(t, d)
	if len(doomed) != 1 || !strings.HasPrefix(doomed[0], "gone-0.") {
		t.Fatalf("-delete dirs after StopReplica: %v; want one gone-0.<id>-delete", doomed)
	}

	// Re-created before the old directory is removed.
	newID := [16]byte{9, 9, 9}
	if err := rm.makeLeader(tp, newID, 1, testTopicConfig()); err != nil {
		t.Fatal(err)
	}
	p2, _ := rm.get(tp)
	if _, err := appendBatch(t, p2, plainBatch(1, 5000)); err != nil {
		t.Fatal(err)
	}
	want := readWholeLog(t, p2)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		rm.runDeleter(ctx)
	}()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(10 * time.Second)
	for len(deleteDirsIn(t, d)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%v not removed after file.delete.delay.ms", deleteDirsIn(t, d))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if p2.log.Dir() != filepath.Join(d, "gone-0") {
		t.Fatalf("the re-created partition lives in %s", p2.log.Dir())
	}
	if got := readWholeLog(t, p2); !bytes.Equal(got, want) {
		t.Fatal("the re-created partition's log changed when the old one was removed")
	}
}
