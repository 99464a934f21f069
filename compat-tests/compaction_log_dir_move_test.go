package compattests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kversion"
)

// TestCompactionCheckpointFollowsLogDirMove compacts a topic on a broker
// with two log dirs, then moves the partition to the other dir with
// AlterReplicaLogDirs (kadm pinned to Kafka 3.9, as kafka-reassign-
// partitions.sh with log_dirs): the cleaner checkpoint goes with it, as
// Kafka's alterCheckpointDir moves it, so the new dir's
// cleaner-offset-checkpoint records at least the offset cleaned before and
// the old dir's no longer lists the partition; the compacted log reads
// back each key's latest value.
func TestCompactionCheckpointFollowsLogDirMove(t *testing.T) {
	const topic = "compacted-moved"
	jbodDirs := []string{filepath.Join(t.TempDir(), "dir-a"), filepath.Join(t.TempDir(), "dir-b")}
	_, b := startBroker(t, map[string]string{"log.cleaner.backoff.ms": "100", "log.dirs": strings.Join(jbodDirs, ",")})
	ctx := testCtx(t)
	adm := kadm.NewClient(newClient(t, b, kgo.MaxVersions(kversion.V3_9_0())))
	createTopic(t, adm, topic, 1, compactTopicConfigs())
	cl := newClient(t, b, kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(0))
	latest, last := produceUpdates(t, cl, 30, 20)

	src, dst := jbodDirs[0], jbodDirs[1]
	if _, err := os.Stat(filepath.Join(src, topic+"-0")); err != nil {
		src, dst = dst, src
	}
	var cleaned int64
	waitUntil(t, time.Minute, "cleaner-offset-checkpoint to cover most of the log", func() bool {
		cleaned = cleanerCheckpointIn(src, topic, 0)
		return cleaned > last/2
	})

	var req kadm.AlterReplicaLogDirsReq
	req.Add(dst, kadm.TopicsSet{topic: {0: {}}})
	resps, err := adm.AlterBrokerReplicaLogDirs(ctx, b.ID, req)
	if err != nil {
		t.Fatal(err)
	}
	resps.Each(func(r kadm.AlterReplicaLogDirsResponse) {
		if r.Err != nil {
			t.Fatalf("alter replica log dir of %s-%d: %v", r.Topic, r.Partition, r.Err)
		}
	})
	waitUntil(t, time.Minute, "the partition to be in the other dir only", func() bool {
		_, errSrc := os.Stat(filepath.Join(src, topic+"-0"))
		_, errDst := os.Stat(filepath.Join(dst, topic+"-0"))
		return os.IsNotExist(errSrc) && errDst == nil
	})
	waitUntil(t, time.Minute, "the cleaner checkpoint to move with the log", func() bool {
		return cleanerCheckpointIn(dst, topic, 0) >= cleaned && cleanerCheckpointIn(src, topic, 0) == -1
	})
	recs := readUpTo(t, b, topic, last)
	checkCompactedRead(t, recs, latest, cleanerCheckpointIn(dst, topic, 0))
}
