package storage

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gokafka/gokafka/internal/javaprops"
	"github.com/gokafka/gokafka/storage/vfs"
)

func TestParsePartitionDirName(t *testing.T) {
	tests := []struct {
		name      string
		topic     string
		partition int32
		ok        bool
	}{
		{"orders-0", "orders", 0, true},
		{"my-topic-with-dashes-12", "my-topic-with-dashes", 12, true},
		{"dotted.topic-3", "dotted.topic", 3, true},
		{"orders-0.6e2e0b3c1c5e4e8c9b7a1f2d3c4b5a69-delete", "", 0, false},
		{"orders-0.6e2e0b3c1c5e4e8c9b7a1f2d3c4b5a69-future", "", 0, false},
		{"orders-0.6e2e0b3c1c5e4e8c9b7a1f2d3c4b5a69-stray", "", 0, false},
		{"orders", "", 0, false},
		{"orders-", "", 0, false},
		{"-3", "", 0, false},
		{"orders-x", "", 0, false},
		{"orders-99999999999", "", 0, false},
		{"lost+found", "", 0, false},
	}
	for _, tc := range tests {
		topic, p, ok := ParsePartitionDirName(tc.name)
		if ok != tc.ok || topic != tc.topic || p != tc.partition {
			t.Errorf("%q: (%q, %d, %v), want (%q, %d, %v)", tc.name, topic, p, ok, tc.topic, tc.partition, tc.ok)
		}
	}
}

func TestOpenDirsMetaProperties(t *testing.T) {
	a, b := t.TempDir(), filepath.Join(t.TempDir(), "created")
	d, err := OpenDirs([]string{a, b}, 3, "clusterABC", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.Paths(), []string{a, b}) {
		t.Fatalf("paths %v", d.Paths())
	}
	d.Close()
	data, err := os.ReadFile(filepath.Join(b, "meta.properties"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if !strings.HasPrefix(lines[0], "#") || !strings.HasPrefix(lines[1], "#") {
		t.Fatalf("meta.properties does not start with Kafka's comment lines:\n%s", data)
	}
	props, err := javaprops.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if props["version"] != "0" || props["broker.id"] != "3" || props["cluster.id"] != "clusterABC" {
		t.Fatalf("meta.properties = %v", props)
	}
	tests := []struct {
		name    string
		broker  int32
		cluster string
		wantErr error
	}{
		{"same ids", 3, "clusterABC", nil},
		{"other broker", 4, "clusterABC", ErrInconsistentMeta},
		{"other cluster", 3, "clusterXYZ", ErrInconsistentMeta},
	}
	for _, tc := range tests {
		d, err := OpenDirs([]string{a, b}, tc.broker, tc.cluster, nil, nil)
		if !errors.Is(err, tc.wantErr) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.wantErr)
		}
		if err == nil {
			d.Close()
		}
	}
	// A file Kafka wrote (different order, extra comment) is accepted.
	c := t.TempDir()
	os.WriteFile(filepath.Join(c, "meta.properties"), []byte("#\n#Tue Mar 05 10:00:00 UTC 2024\ncluster.id=clusterABC\nversion=0\nbroker.id=3\n"), 0o644)
	if d, err := OpenDirs([]string{c}, 3, "clusterABC", nil, nil); err != nil {
		t.Fatalf("Kafka's meta.properties: %v", err)
	} else {
		d.Close()
	}
	os.WriteFile(filepath.Join(c, "meta.properties"), []byte("version=1\nnode.id=3\n"), 0o644)
	if _, err := OpenDirs([]string{c}, 3, "clusterABC", nil, nil); err == nil {
		t.Fatal("KRaft meta.properties (version 1) accepted")
	}
}

func TestPartitionsAndPathFor(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	for _, name := range []string{"t-0", "t-1", "my-topic-2", "t-0.abc-delete"} {
		os.Mkdir(filepath.Join(a, name), 0o755)
	}
	os.Mkdir(filepath.Join(b, "u-0"), 0o755)
	os.WriteFile(filepath.Join(b, "recovery-point-offset-checkpoint"), []byte("0\n0\n"), 0o644)
	d, err := OpenDirs([]string{a, b}, 1, "c", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	parts, err := d.Partitions()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range parts {
		got = append(got, p.Path)
		if filepath.Base(p.Path) != p.Topic+"-"+itoa(p.Partition) {
			t.Errorf("partition %+v: path does not match", p)
		}
	}
	slices.Sort(got)
	want := []string{filepath.Join(a, "my-topic-2"), filepath.Join(a, "t-0"), filepath.Join(a, "t-1"), filepath.Join(b, "u-0")}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("Partitions = %v, want %v", got, want)
	}
	if p := d.PathFor("t", 1); p != filepath.Join(a, "t-1") {
		t.Fatalf("existing partition placed at %s", p)
	}
	// b has fewer partitions: the next two new ones go there, then a and b
	// alternate by count (b: 3, a: 3 -> a first).
	wantDirs := []string{b, b, a}
	for i, w := range wantDirs {
		p := d.PathFor("new", int32(i))
		if filepath.Dir(p) != w {
			t.Fatalf("new partition %d in %s, want %s", i, filepath.Dir(p), w)
		}
		if again := d.PathFor("new", int32(i)); again != p {
			t.Fatalf("PathFor not stable: %s then %s", p, again)
		}
	}
}

func itoa(p int32) string { return strconv.Itoa(int(p)) }

func TestCheckpointsRoundTrip(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	d, err := OpenDirs([]string{a, b}, 1, "c", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	empty, err := d.ReadCheckpoints()
	if err != nil || len(empty.RecoveryPoints)+len(empty.HighWatermarks)+len(empty.LogStartOffsets) != 0 {
		t.Fatalf("fresh dirs: %+v, %v", empty, err)
	}
	pa := PartitionDir{Topic: "my-topic", Partition: 0, Path: filepath.Join(a, "my-topic-0")}
	pb := PartitionDir{Topic: "other", Partition: 5, Path: filepath.Join(b, "other-5")}
	in := Checkpoints{
		RecoveryPoints:  map[PartitionDir]int64{pa: 10, pb: 20},
		HighWatermarks:  map[PartitionDir]int64{pa: 9, pb: 19},
		LogStartOffsets: map[PartitionDir]int64{pa: 0, pb: 7},
	}
	if err := d.WriteCheckpoints(in); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(a, "recovery-point-offset-checkpoint"))
	if string(data) != "0\n1\nmy-topic 0 10\n" {
		t.Fatalf("recovery-point-offset-checkpoint = %q", data)
	}
	if _, err := os.Stat(filepath.Join(a, "recovery-point-offset-checkpoint.tmp")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("tmp file left behind")
	}
	out, err := d.ReadCheckpoints()
	if err != nil {
		t.Fatal(err)
	}
	for name, pair := range map[string][2]map[PartitionDir]int64{
		"recovery":  {in.RecoveryPoints, out.RecoveryPoints},
		"hw":        {in.HighWatermarks, out.HighWatermarks},
		"log start": {in.LogStartOffsets, out.LogStartOffsets},
	} {
		if len(pair[0]) != len(pair[1]) {
			t.Fatalf("%s: %v, want %v", name, pair[1], pair[0])
		}
		for k, v := range pair[0] {
			if pair[1][k] != v {
				t.Fatalf("%s: %v, want %v", name, pair[1], pair[0])
			}
		}
	}
	for _, bad := range []string{"1\n0\n", "0\n2\nt 0 1\n", "0\n1\nt x 1\n", "0\n1\nt 0 1\nu 0 1\n", "0\nx\n"} {
		os.WriteFile(filepath.Join(b, "replication-offset-checkpoint"), []byte(bad), 0o644)
		if _, err := d.ReadCheckpoints(); !errors.Is(err, ErrCorruption) {
			t.Errorf("checkpoint %q: err = %v, want ErrCorruption", bad, err)
		}
	}
}

func TestCleanShutdownMarker(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	// Each open closes the previous Dirs, as a restarted broker's old
	// process has let go of the locks.
	var cur *Dirs
	open := func() *Dirs {
		if cur != nil {
			cur.Close()
		}
		d, err := OpenDirs([]string{a, b}, 1, "c", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		cur = d
		return d
	}
	t.Cleanup(func() { cur.Close() })
	// Brand-new log dirs (no meta.properties yet) held nothing to
	// recover, so the first start is not reported as a crash.
	if !open().CleanShutdown() {
		t.Fatal("brand-new dirs report an unclean shutdown")
	}
	// From then on a missing marker means the broker did not stop cleanly.
	if open().CleanShutdown() {
		t.Fatal("dirs used before, without the marker, report a clean shutdown")
	}
	d := open()
	if err := d.MarkCleanShutdown(); err != nil {
		t.Fatal(err)
	}
	d = open()
	if first, second := d.CleanShutdown(), d.CleanShutdown(); !first || !second {
		t.Fatal("marker not seen (or answer changed on a second call)")
	}
	if open().CleanShutdown() {
		t.Fatal("marker not removed: a crash now would look clean")
	}
	// Only one dir marked: not clean.
	os.WriteFile(filepath.Join(a, ".kafka_cleanshutdown"), nil, 0o644)
	if open().CleanShutdown() {
		t.Fatal("clean with one dir unmarked")
	}
}

func TestPartitionMetadata(t *testing.T) {
	dir := t.TempDir()
	if _, ok, err := ReadPartitionMetadata(vfs.Default, dir); ok || err != nil {
		t.Fatalf("missing file: ok=%v err=%v", ok, err)
	}
	id := [16]byte{0xfb, 0xff, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 0xfe}
	if err := WritePartitionMetadata(vfs.Default, dir, id); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, "partition.metadata"))
	if string(data) != "version: 0\ntopic_id: -_8BAgMEBQYHCAkKCwwN_g\n" {
		t.Fatalf("partition.metadata = %q", data)
	}
	got, ok, err := ReadPartitionMetadata(vfs.Default, dir)
	if err != nil || !ok || got != id {
		t.Fatalf("read back %x ok=%v err=%v", got, ok, err)
	}
	os.WriteFile(filepath.Join(dir, "partition.metadata"), []byte("version: 0\ntopic_id: short\n"), 0o644)
	if _, _, err := ReadPartitionMetadata(vfs.Default, dir); !errors.Is(err, ErrCorruption) {
		t.Fatalf("bad id: %v", err)
	}
}

func TestLeaderEpochCheckpoint(t *testing.T) {
	steps := []struct {
		epoch int32
		start int64
		want  []LeaderEpochEntry
	}{
		{0, 0, []LeaderEpochEntry{{0, 0}}},
		{0, 5, []LeaderEpochEntry{{0, 0}}}, // same epoch later: no change
		{1, 10, []LeaderEpochEntry{{0, 0}, {1, 10}}},
		{3, 20, []LeaderEpochEntry{{0, 0}, {1, 10}, {3, 20}}},
		{2, 15, []LeaderEpochEntry{{0, 0}, {1, 10}, {2, 15}}}, // supersedes 3
		{4, 12, []LeaderEpochEntry{{0, 0}, {1, 10}, {4, 12}}}, // start offset conflict drops 2
	}
	dir := t.TempDir()
	for _, s := range steps {
		if err := AssignLeaderEpoch(vfs.Default, dir, s.epoch, s.start); err != nil {
			t.Fatal(err)
		}
		got, err := ReadLeaderEpochs(vfs.Default, dir)
		if err != nil || !slices.Equal(got, s.want) {
			t.Fatalf("after (%d,%d): %v %v, want %v", s.epoch, s.start, got, err, s.want)
		}
	}
	data, _ := os.ReadFile(filepath.Join(dir, "leader-epoch-checkpoint"))
	if string(data) != "0\n3\n0 0\n1 10\n4 12\n" {
		t.Fatalf("file = %q", data)
	}
}

// TestLogDirLock checks Kafka's .lock rule: while one Dirs holds a log dir,
// opening it again (here or in another process) fails naming the dir, and
// nothing of the failed open stays locked; after Close it opens again.
func TestLogDirLock(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	first, err := OpenDirs([]string{a}, 1, "c", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(a, ".lock")); err != nil {
		t.Fatalf("no .lock file: %v", err)
	}
	// b is listed first so the failed open has locked it before reaching a.
	_, err = OpenDirs([]string{b, a}, 1, "c", nil, nil)
	if !errors.Is(err, ErrLogDirLocked) {
		t.Fatalf("second open of a locked dir: err = %v, want ErrLogDirLocked", err)
	}
	want := "Failed to acquire lock on file .lock in " + a + ". A Kafka instance in another process or thread is using this directory"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
	onlyB, err := OpenDirs([]string{b}, 1, "c", nil, nil)
	if err != nil {
		t.Fatalf("a failed open left %s locked: %v", b, err)
	}
	onlyB.Close()

	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	first.Close() // twice is fine
	again, err := OpenDirs([]string{a, b}, 1, "c", nil, nil)
	if err != nil {
		t.Fatalf("open after Close: %v", err)
	}
	again.Close()

	if _, err := OpenDirs([]string{a, a + "/"}, 1, "c", nil, nil); err == nil || errors.Is(err, ErrLogDirLocked) {
		t.Errorf("a dir listed twice: err = %v, want a duplicate-dir error", err)
	}
}

// TestZKSessionRecord checks .gokafka-zk-session: what one run records, the
// next run reads back as PreviousZKSessions; dirs that recorded different
// sessions give each one once; unreadable files are ignored.
func TestZKSessionRecord(t *testing.T) {
	a, b, c := t.TempDir(), t.TempDir(), t.TempDir()
	open := func(paths ...string) *Dirs {
		t.Helper()
		d, err := OpenDirs(paths, 1, "c", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	d := open(a, b, c)
	if got := d.PreviousZKSessions(); len(got) != 0 {
		t.Fatalf("fresh dirs recorded sessions %x", got)
	}
	const s1, s2 = int64(0x1000a3f5b2c0001), int64(-0x7000000000000000) // the second has the top bit set
	if err := d.RecordZKSession(s1); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(a, ".gokafka-zk-session"))
	if string(data) != "1000a3f5b2c0001\n" {
		t.Fatalf(".gokafka-zk-session = %q", data)
	}
	if _, err := os.Stat(filepath.Join(a, ".gokafka-zk-session.tmp")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("tmp file left behind")
	}
	d.Close()

	d = open(a, b) // a later run with fewer dirs records a new session
	if got := d.PreviousZKSessions(); !slices.Equal(got, []int64{s1}) {
		t.Fatalf("PreviousZKSessions = %x, want [%x]", got, s1)
	}
	if err := d.RecordZKSession(s2); err != nil {
		t.Fatal(err)
	}
	if got := d.PreviousZKSessions(); !slices.Equal(got, []int64{s1}) {
		t.Fatalf("recording changed PreviousZKSessions to %x", got)
	}
	d.Close()

	tests := []struct {
		name  string
		paths []string
		want  []int64
	}{
		{"all dirs agree", []string{a, b}, []int64{s2}},
		{"dirs differ: each once, in log.dirs order", []string{c, a, b}, []int64{s1, s2}},
	}
	for _, tc := range tests {
		d := open(tc.paths...)
		if got := d.PreviousZKSessions(); !slices.Equal(got, tc.want) {
			t.Errorf("%s: PreviousZKSessions = %x, want %x", tc.name, got, tc.want)
		}
		d.Close()
	}

	os.WriteFile(filepath.Join(c, ".gokafka-zk-session"), []byte("not hex\n"), 0o644)
	d = open(c, a)
	defer d.Close()
	if got := d.PreviousZKSessions(); !slices.Equal(got, []int64{s2}) {
		t.Errorf("with an unreadable file: PreviousZKSessions = %x, want [%x]", got, s2)
	}
	if parts, err := d.Partitions(); err != nil || len(parts) != 0 {
		t.Errorf("the lock and session files show up as partitions: %v, %v", parts, err)
	}
}

// TestReadMetaPropertiesJavaForms reads meta.properties written in the
// forms java.util.Properties accepts (any of them may come from a tool
// that rewrote the file), through the same parser as server.properties.
func TestReadMetaPropertiesJavaForms(t *testing.T) {
	for _, tc := range []struct {
		name, content string
	}{
		{"as Kafka writes it", "#\n#Tue Jan 02 15:04:05 UTC 2024\nversion=0\nbroker.id=3\ncluster.id=abcd\n"},
		{"colons and spaces", "version : 0\nbroker.id: 3\ncluster.id = abcd \n"},
		{"space separators", "version 0\nbroker.id\t3\ncluster.id abcd\n"},
		{"continuation and escapes", "! written by hand\nversion=0\nbroker.id=\\\n    3\ncluster.id=a\\u0062\\\n  cd\r\n"},
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, metaPropertiesFile), []byte(tc.content), 0o644); err != nil {
			t.Fatal(err)
		}
		m, ok, err := readMetaProperties(vfs.Default, dir)
		if err != nil || !ok || m.brokerID != 3 || m.clusterID != "abcd" {
			t.Errorf("%s: readMetaProperties = %+v, %v, %v; want broker 3, cluster abcd", tc.name, m, ok, err)
		}
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, metaPropertiesFile), []byte("version=0\nbroker.id=\\u00zz\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := readMetaProperties(vfs.Default, dir); !errors.Is(err, ErrCorruption) {
		t.Errorf("malformed escape: %v, want ErrCorruption", err)
	}
}
