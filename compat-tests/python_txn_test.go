package compattests

import (
	"fmt"
	"strings"
	"testing"
)

// confluentTxnScript runs librdkafka's transactional producer the way a
// consume-transform-produce application does: it consumes input, and in
// transactions writes output and the consumer's position
// (send_offsets_to_transaction). The first transaction commits, the
// second aborts, the third commits only an end marker. Then a
// read_committed consumer reads the output, and a fresh consumer of the
// group prints its committed input offset.
const confluentTxnScript = `
import sys
from confluent_kafka import Producer, Consumer, TopicPartition, OFFSET_BEGINNING
addr, src, dst, group = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
errors = []
def report(err, msg):
    if err is not None:
        errors.append(err)
plain = Producer({'bootstrap.servers': addr, 'acks': 'all'})
for i in range(10):
    plain.produce(src, value=b'in-%d' % i, partition=0, on_delivery=report)
if plain.flush(60) != 0 or errors:
    sys.exit('input produce failed: %s' % errors)

c = Consumer({'bootstrap.servers': addr, 'group.id': group, 'enable.auto.commit': False,
              'isolation.level': 'read_committed'})
c.assign([TopicPartition(src, 0, OFFSET_BEGINNING)])
def consume(n):
    got = []
    while len(got) < n:
        m = c.poll(60)
        if m is None:
            sys.exit('no input within 60s after %d' % len(got))
        if m.error():
            sys.exit('consume error: %s' % m.error())
        got.append(m.value().decode())
    return got

p = Producer({'bootstrap.servers': addr, 'transactional.id': 'confluent-txn', 'transaction.timeout.ms': 60000})
p.init_transactions(60)
for commit, prefix in ((True, 'committed'), (False, 'aborted')):
    p.begin_transaction()
    for v in consume(5):
        p.produce(dst, value=('%s-%s' % (prefix, v)).encode(), partition=0, on_delivery=report)
    p.send_offsets_to_transaction(c.position(c.assignment()), c.consumer_group_metadata(), 60)
    if commit:
        p.commit_transaction(60)
    else:
        p.abort_transaction(60)
p.begin_transaction()
p.produce(dst, value=b'end', partition=0, on_delivery=report)
p.commit_transaction(60)
if errors:
    sys.exit('transactional produce failed: %s' % errors)
c.close()

r = Consumer({'bootstrap.servers': addr, 'group.id': group + '-reader', 'enable.auto.commit': False,
              'isolation.level': 'read_committed'})
r.assign([TopicPartition(dst, 0, OFFSET_BEGINNING)])
while True:
    m = r.poll(60)
    if m is None:
        sys.exit('no output within 60s')
    if m.error():
        sys.exit('consume error: %s' % m.error())
    v = m.value().decode()
    print('out', v)
    if v == 'end':
        break
r.close()
g = Consumer({'bootstrap.servers': addr, 'group.id': group, 'enable.auto.commit': False})
for tp in g.committed([TopicPartition(src, 0)], 60):
    print('committed', tp.topic, tp.partition, tp.offset)
g.close()
`

// TestConfluentKafkaTransactions runs confluent-kafka's (librdkafka's)
// transactional producer: init_transactions, a committed and an aborted
// transaction each with send_offsets_to_transaction, then a committed end
// marker. A read_committed consumer sees only the committed records, and
// the group's committed offset is the committed transaction's, not the
// aborted one's. One broker, so __transaction_state has replication
// factor 1.
func TestConfluentKafkaTransactions(t *testing.T) {
	requirePythonModule(t, "confluent_kafka", "python3-confluent-kafka")
	_, b := startBroker(t, map[string]string{
		"transaction.state.log.replication.factor": "1",
		"transaction.state.log.min.isr":            "1",
	})
	adm := newAdmin(t, b)
	createTopic(t, adm, "cfk-in", 1, nil)
	createTopic(t, adm, "cfk-out", 1, nil)
	got := runPython(t, confluentTxnScript, b.Addr(), "cfk-in", "cfk-out", "cfk-group")
	var want strings.Builder
	for i := range 5 {
		fmt.Fprintf(&want, "out committed-in-%d\n", i)
	}
	want.WriteString("out end\ncommitted cfk-in 0 5\n")
	if got != want.String() {
		t.Errorf("confluent-kafka transactions read back:\n%s\nwant:\n%s", got, want.String())
	}
}
