package storage

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/gokafka/gokafka/storage/vfs"
)

// Per-partition metadata files.
const (
	partitionMetadataFile = "partition.metadata"
	leaderEpochFile       = "leader-epoch-checkpoint"
)

// WritePartitionMetadata writes <dir>/partition.metadata ("version: 0" and
// "topic_id: <base64url id>") as Kafka does since KIP-516.
func WritePartitionMetadata(fsys vfs.FS, dir string, topicID [16]byte) error {
	data := fmt.Sprintf("version: 0\ntopic_id: %s\n", base64.RawURLEncoding.EncodeToString(topicID[:]))
	if err := writeFileAtomic(fsys, filepath.Join(dir, partitionMetadataFile), []byte(data)); err != nil {
		return fmt.Errorf("write partition metadata: %w", err)
	}
	return nil
}

// ReadPartitionMetadata reads the topic id back; ok is false when the file
// is missing.
func ReadPartitionMetadata(fsys vfs.FS, dir string) (topicID [16]byte, ok bool, err error) {
	path := filepath.Join(dir, partitionMetadataFile)
	data, err := vfs.ReadFile(fsys, path)
	if errors.Is(err, os.ErrNotExist) {
		return topicID, false, nil
	}
	if err != nil {
		return topicID, false, fmt.Errorf("read %s: %w", path, err)
	}
	fields := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		k, v, found := strings.Cut(sc.Text(), ":")
		if found {
			fields[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	if fields["version"] != "0" {
		return topicID, false, fmt.Errorf("%s: version %q, want 0: %w", path, fields["version"], ErrCorruption)
	}
	raw, err := base64.RawURLEncoding.DecodeString(fields["topic_id"])
	if err != nil || len(raw) != 16 {
		return topicID, false, fmt.Errorf("%s: topic_id %q: %w", path, fields["topic_id"], ErrCorruption)
	}
	copy(topicID[:], raw)
	return topicID, true, nil
}

// LeaderEpochEntry is one line of leader-epoch-checkpoint.
type LeaderEpochEntry struct {
	Epoch       int32
	StartOffset int64
}

// AssignLeaderEpoch records that epoch starts at startOffset in
// <dir>/leader-epoch-checkpoint (version 0, count, "epoch offset" lines),
// dropping entries a newer epoch supersedes.
//
// As Kafka's LeaderEpochFileCache.assign: nothing changes when epoch is
// already the latest entry at the same or an earlier offset; otherwise every
// entry with an epoch >= epoch or a start offset >= startOffset is dropped,
// keeping epochs and offsets both increasing, and the new entry is appended.
func AssignLeaderEpoch(fsys vfs.FS, dir string, epoch int32, startOffset int64) error {
	if epoch < 0 || startOffset < 0 {
		return fmt.Errorf("assign leader epoch %d at %d: negative", epoch, startOffset)
	}
	entries, err := ReadLeaderEpochs(fsys, dir)
	if err != nil {
		return err
	}
	if n := len(entries); n > 0 && entries[n-1].Epoch == epoch && entries[n-1].StartOffset <= startOffset {
		return nil
	}
	entries = slices.DeleteFunc(entries, func(e LeaderEpochEntry) bool {
		return e.Epoch >= epoch || e.StartOffset >= startOffset
	})
	entries = append(entries, LeaderEpochEntry{Epoch: epoch, StartOffset: startOffset})
	if err := writeLeaderEpochs(fsys, dir, entries); err != nil {
		return fmt.Errorf("assign leader epoch: %w", err)
	}
	return nil
}

// TruncateLeaderEpochs drops the entries of leader-epoch-checkpoint that
// start at or after end, as Kafka's LeaderEpochFileCache.truncateFromEnd
// does when a follower truncates its log to end, and returns what is left.
func TruncateLeaderEpochs(fsys vfs.FS, dir string, end int64) ([]LeaderEpochEntry, error) {
	entries, err := ReadLeaderEpochs(fsys, dir)
	if err != nil {
		return nil, err
	}
	kept := slices.DeleteFunc(slices.Clone(entries), func(e LeaderEpochEntry) bool { return e.StartOffset >= end })
	if len(kept) == len(entries) {
		return entries, nil
	}
	if err := writeLeaderEpochs(fsys, dir, kept); err != nil {
		return nil, fmt.Errorf("truncate leader epochs to %d: %w", end, err)
	}
	return kept, nil
}

// TruncateLeaderEpochsFromStart drops the entries of leader-epoch-checkpoint
// that start at or before start, keeping the last of them moved to start,
// as Kafka's LeaderEpochFileCache.truncateFromStart does when the log start
// offset moves (DeleteRecords, retention), and returns what is left.
func TruncateLeaderEpochsFromStart(fsys vfs.FS, dir string, start int64) ([]LeaderEpochEntry, error) {
	entries, err := ReadLeaderEpochs(fsys, dir)
	if err != nil {
		return nil, err
	}
	kept := truncateEpochsFromStart(entries, start)
	if slices.Equal(kept, entries) {
		return entries, nil
	}
	if err := writeLeaderEpochs(fsys, dir, kept); err != nil {
		return nil, fmt.Errorf("truncate leader epochs from %d: %w", start, err)
	}
	return kept, nil
}

func truncateEpochsFromStart(entries []LeaderEpochEntry, start int64) []LeaderEpochEntry {
	i := 0
	for i < len(entries) && entries[i].StartOffset <= start {
		i++
	}
	if i == 0 {
		return entries
	}
	kept := append([]LeaderEpochEntry{{Epoch: entries[i-1].Epoch, StartOffset: start}}, entries[i:]...)
	return kept
}

// writeLeaderEpochs replaces leader-epoch-checkpoint (version 0, count,
// "epoch offset" lines).
func writeLeaderEpochs(fsys vfs.FS, dir string, entries []LeaderEpochEntry) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "0\n%d\n", len(entries))
	for _, e := range entries {
		fmt.Fprintf(&b, "%d %d\n", e.Epoch, e.StartOffset)
	}
	return writeFileAtomic(fsys, filepath.Join(dir, leaderEpochFile), b.Bytes())
}

// ReadLeaderEpochs reads leader-epoch-checkpoint.
func ReadLeaderEpochs(fsys vfs.FS, dir string) ([]LeaderEpochEntry, error) {
	path := filepath.Join(dir, leaderEpochFile)
	data, err := vfs.ReadFile(fsys, path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	bad := fmt.Errorf("%s: malformed: %w", path, ErrCorruption)
	if len(lines) < 2 || strings.TrimSpace(lines[0]) != "0" {
		return nil, bad
	}
	count, err := strconv.Atoi(strings.TrimSpace(lines[1]))
	if err != nil || count != len(lines)-2 {
		return nil, bad
	}
	out := make([]LeaderEpochEntry, 0, count)
	for _, l := range lines[2:] {
		f := strings.Fields(l)
		if len(f) != 2 {
			return nil, bad
		}
		ep, eerr := strconv.ParseInt(f[0], 10, 32)
		off, oerr := strconv.ParseInt(f[1], 10, 64)
		if eerr != nil || oerr != nil {
			return nil, bad
		}
		out = append(out, LeaderEpochEntry{Epoch: int32(ep), StartOffset: off})
	}
	return out, nil
}
