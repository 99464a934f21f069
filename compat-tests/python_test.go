package compattests

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/gokafka/gokafka/internal/testcluster"
)

// kafkaPythonScript produces N keyed records with kafka-python (acks=all),
// then consumes them back by partition assignment (no group) and prints
// "offset key value" per record. kafka-python speaks Metadata v0/v1.
const kafkaPythonScript = `
import sys
from kafka import KafkaProducer, KafkaConsumer, TopicPartition
addr, topic, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
p = KafkaProducer(bootstrap_servers=addr, acks='all', request_timeout_ms=30000)
for i in range(n):
    p.send(topic, key=b'pk%d' % i, value=b'pv%d' % i, partition=0).get(timeout=60)
p.flush()
p.close()
c = KafkaConsumer(bootstrap_servers=addr, group_id=None, enable_auto_commit=False,
                  auto_offset_reset='earliest', consumer_timeout_ms=60000)
tp = TopicPartition(topic, 0)
c.assign([tp])
c.seek_to_beginning(tp)
got = 0
for m in c:
    print(m.offset, m.key.decode(), m.value.decode())
    got += 1
    if got == n:
        break
c.close()
`

// confluentScript does the same with confluent-kafka (librdkafka).
const confluentScript = `
import sys
from confluent_kafka import Producer, Consumer, TopicPartition, OFFSET_BEGINNING
addr, topic, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
errors = []
def report(err, msg):
    if err is not None:
        errors.append(err)
p = Producer({'bootstrap.servers': addr, 'acks': 'all', 'enable.idempotence': True, 'compression.type': 'zstd'})
for i in range(n):
    p.produce(topic, key=b'ck%d' % i, value=b'cv%d' % i, partition=0, on_delivery=report)
if p.flush(60) != 0 or errors:
    sys.exit('produce failed: %s' % errors)
c = Consumer({'bootstrap.servers': addr, 'group.id': 'unused-by-assign', 'enable.auto.commit': False})
c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
got = 0
while got < n:
    m = c.poll(60)
    if m is None:
        sys.exit('no message within 60s after %d' % got)
    if m.error():
        sys.exit('consume error: %s' % m.error())
    print(m.offset(), m.key().decode(), m.value().decode())
    got += 1
c.close()
`

// runPython runs an inline script with Debian's python3 and returns stdout.
func runPython(t *testing.T, script string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, systemPython, append([]string{"-c", script}, args...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("python: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errOut.String())
	}
	return out.String()
}

func expectedLines(prefix string, n int) string {
	var sb strings.Builder
	for i := range n {
		fmt.Fprintf(&sb, "%d %sk%d %sv%d\n", i, prefix, i, prefix, i)
	}
	return sb.String()
}

// TestKafkaPython produces and consumes with kafka-python (Metadata v0/v1,
// its own version probing). The topic is auto-created by its metadata
// request.
func TestKafkaPython(t *testing.T) {
	requirePythonModule(t, "kafka", "python3-kafka")
	_, b := startBroker(t, nil)
	checkPython(t, b, kafkaPythonScript, "kafka-python", "p")
}

// TestConfluentKafkaPython produces (idempotent, zstd) and consumes with
// confluent-kafka.
func TestConfluentKafkaPython(t *testing.T) {
	requirePythonModule(t, "confluent_kafka", "python3-confluent-kafka")
	_, b := startBroker(t, nil)
	createTopic(t, newAdmin(t, b), "confluent", 1, nil)
	checkPython(t, b, confluentScript, "confluent", "c")
}

func checkPython(t *testing.T, b *testcluster.Broker, script, topic, prefix string) {
	t.Helper()
	const n = 25
	got := runPython(t, script, b.Addr(), topic, fmt.Sprint(n))
	if want := expectedLines(prefix, n); got != want {
		t.Errorf("%s read back:\n%s\nwant:\n%s", topic, got, want)
	}
}
