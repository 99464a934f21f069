"""One feature of gokafka's client matrix with kafka-python.

Usage: python3 matrix_kafka_python.py ADDR FEATURE TOPIC GROUP (matrix_common.py)
Prints the lines compat-tests/matrix_test.go expects for FEATURE; exits
non-zero on any client error.
"""
import os
import sys

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewTopic
from kafka.structs import OffsetAndMetadata

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import matrix_common  # noqa: E402
from matrix_common import (  # noqa: E402
    ADDR, ALTERED, CODECS, FEATURE, FROM_OFFSET, GROUP, GROUP_FIRST, PREPARED, PRODUCED, TIMEOUT, TOPIC, TS_BASE, value)


def fail(msg):
    matrix_common.fail('kafka-python', msg)


def line(m):
    matrix_common.line(m.offset, m.key, m.value, m.headers, m.timestamp)


def consumer(group=None, topics=()):
    return KafkaConsumer(*topics, bootstrap_servers=ADDR, group_id=group, enable_auto_commit=False,
                         auto_offset_reset='earliest', fetch_max_wait_ms=200)


def read(c, n):
    """Polls n messages from c, printing each; returns the last."""
    got = []
    for _ in range(TIMEOUT * 5):
        for msgs in c.poll(timeout_ms=200, max_records=n - len(got)).values():
            got.extend(msgs)
        if len(got) >= n:
            break
    if len(got) < n:
        fail('read %d of %d messages' % (len(got), n))
    for m in got:
        line(m)
    return got[-1]


def read_from(offset, n):
    c = consumer()
    tp = TopicPartition(TOPIC, 0)
    c.assign([tp])
    if offset is None:
        c.seek_to_beginning(tp)
    else:
        c.seek(tp, offset)
    read(c, n)
    c.close()


def produce():
    p = KafkaProducer(bootstrap_servers=ADDR, acks='all', linger_ms=5,
                      compression_type=FEATURE if FEATURE in CODECS else None)
    futures = []
    for i in range(PRODUCED):
        kwargs = {}
        if FEATURE == 'headers':
            kwargs['headers'] = [('h', str(i).encode())]
        if FEATURE == 'timestamps':
            kwargs['timestamp_ms'] = TS_BASE + i * 1000
        futures.append(p.send(TOPIC, key=b'k%d' % i, value=value(i), partition=0, **kwargs))
    for f in futures:
        f.get(timeout=TIMEOUT)
    p.close()
    if FEATURE != 'zstd':
        # kafka-python 2.0 fetches with Fetch v4, which cannot carry zstd
        # batches (KIP-110); the harness reads them back itself.
        read_from(None, PRODUCED)


def check_errors(resources):
    for r in resources:
        if r[0] != 0:
            fail('error %d: %s' % (r[0], r[1]))


def main():
    admin = KafkaAdminClient(bootstrap_servers=ADDR)
    if FEATURE == 'metadata':
        for b in admin.describe_cluster()['brokers']:
            print('broker %d %s:%d' % (b['node_id'], b['host'], b['port']))
        for t in admin.describe_topics([TOPIC]):
            for p in t['partitions']:
                print('partition %s %d leader %d' % (t['topic'], p['partition'], p['leader']))
    elif FEATURE == 'create-delete-topics':
        resp = admin.create_topics([NewTopic(TOPIC, num_partitions=2, replication_factor=1)])
        check_errors([e[1:] for e in resp.topic_errors])
        print('created ' + TOPIC)
        resp = admin.delete_topics([TOPIC])
        check_errors([(code, '') for _, code in resp.topic_error_codes])
        print('deleted ' + TOPIC)
    elif FEATURE in CODECS + ('keys', 'headers', 'timestamps'):
        produce()
    elif FEATURE == 'from-offset':
        read_from(FROM_OFFSET, PREPARED - FROM_OFFSET)
    elif FEATURE == 'from-timestamp':
        c = consumer()
        tp = TopicPartition(TOPIC, 0)
        found = c.offsets_for_times({tp: TS_BASE + FROM_OFFSET * 1000 - 500})[tp]
        if found is None:
            fail('no offset for the timestamp')
        c.assign([tp])
        c.seek(tp, found.offset)
        read(c, PREPARED - FROM_OFFSET)
        c.close()
    elif FEATURE == 'group-commit-resume':
        c = consumer(GROUP, [TOPIC])
        last = read(c, GROUP_FIRST)
        c.commit({TopicPartition(TOPIC, 0): OffsetAndMetadata(last.offset + 1, None)})
        c.close()
        c = consumer(GROUP, [TOPIC])
        read(c, 1)
        c.close()
    elif FEATURE == 'list-groups-offsets':
        if any(g[0] == GROUP for g in admin.list_consumer_groups()):
            print('group ' + GROUP)
        for tp, om in admin.list_consumer_group_offsets(GROUP).items():
            print('offset %s %d %d' % (tp.topic, tp.partition, om.offset))
    elif FEATURE == 'describe-configs':
        for resp in admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, TOPIC)]):
            check_errors(resp.resources)
            for res in resp.resources:
                for entry in res[4]:
                    if entry[0] == 'retention.ms':
                        print('retention.ms=' + entry[1])
    elif FEATURE == 'alter-configs':
        resp = admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, TOPIC, configs={'retention.ms': ALTERED})])
        check_errors(resp.resources)
        print('altered')
    else:
        fail('no such feature')
    admin.close()


main()
