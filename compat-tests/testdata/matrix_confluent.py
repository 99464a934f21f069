"""One feature of gokafka's client matrix with confluent-kafka (librdkafka).

Usage: python3 matrix_confluent.py ADDR FEATURE TOPIC GROUP (matrix_common.py)
Prints the lines compat-tests/matrix_test.go expects for FEATURE; exits
non-zero on any client error.
"""
import os
import sys

from confluent_kafka import Consumer, OFFSET_BEGINNING, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import matrix_common  # noqa: E402
from matrix_common import (  # noqa: E402
    ADDR, ALTERED, CODECS, FEATURE, FROM_OFFSET, GROUP, GROUP_FIRST, PREPARED, PRODUCED, TIMEOUT, TOPIC, TS_BASE, value)


def fail(msg):
    matrix_common.fail('confluent-kafka', msg)


def line(m):
    matrix_common.line(m.offset(), m.key(), m.value(), m.headers(), m.timestamp()[1])


def consumer(extra=None):
    conf = {'bootstrap.servers': ADDR, 'group.id': GROUP, 'enable.auto.commit': False,
            'auto.offset.reset': 'earliest', 'fetch.wait.max.ms': 200}
    conf.update(extra or {})
    return Consumer(conf)


def read(c, n):
    """Polls n messages from c, printing each; returns the last."""
    last = None
    for got in range(n):
        m = c.poll(TIMEOUT)
        if m is None:
            fail('read %d of %d messages' % (got, n))
        if m.error():
            fail('consume: %s' % m.error())
        line(m)
        last = m
    return last


def read_from(offset, n):
    c = consumer()
    c.assign([TopicPartition(TOPIC, 0, offset)])
    read(c, n)
    c.close()


def produce():
    conf = {'bootstrap.servers': ADDR, 'linger.ms': 5}
    if FEATURE in CODECS:
        conf['compression.type'] = FEATURE
    if FEATURE == 'idempotent':
        conf['enable.idempotence'] = True
    errors = []

    def report(err, _msg):
        if err is not None:
            errors.append(err)
    p = Producer(conf)
    for i in range(PRODUCED):
        kwargs = {}
        if FEATURE == 'headers':
            kwargs['headers'] = [('h', str(i).encode())]
        if FEATURE == 'timestamps':
            kwargs['timestamp'] = TS_BASE + i * 1000
        p.produce(TOPIC, key=b'k%d' % i, value=value(i), partition=0,
                  on_delivery=report, **kwargs)
    if p.flush(TIMEOUT) != 0 or errors:
        fail('produce: %s' % errors)
    read_from(OFFSET_BEGINNING, PRODUCED)


def main():
    admin = AdminClient({'bootstrap.servers': ADDR})
    if FEATURE == 'metadata':
        md = admin.list_topics(topic=TOPIC, timeout=TIMEOUT)
        for b in md.brokers.values():
            print('broker %d %s:%d' % (b.id, b.host, b.port))
        for p in md.topics[TOPIC].partitions.values():
            print('partition %s %d leader %d' % (TOPIC, p.id, p.leader))
    elif FEATURE == 'create-delete-topics':
        for f in admin.create_topics([NewTopic(TOPIC, num_partitions=2, replication_factor=1)]).values():
            f.result(TIMEOUT)
        print('created ' + TOPIC)
        for f in admin.delete_topics([TOPIC]).values():
            f.result(TIMEOUT)
        print('deleted ' + TOPIC)
    elif FEATURE in CODECS + ('keys', 'headers', 'timestamps', 'idempotent'):
        produce()
    elif FEATURE == 'from-offset':
        read_from(FROM_OFFSET, PREPARED - FROM_OFFSET)
    elif FEATURE == 'from-timestamp':
        c = consumer()
        at = TS_BASE + FROM_OFFSET * 1000 - 500
        tp = c.offsets_for_times([TopicPartition(TOPIC, 0, at)], TIMEOUT)[0]
        if tp.error:
            fail('offsets for times: %s' % tp.error)
        c.assign([tp])
        read(c, PREPARED - FROM_OFFSET)
        c.close()
    elif FEATURE == 'group-commit-resume':
        c = consumer()
        c.subscribe([TOPIC])
        c.commit(message=read(c, GROUP_FIRST), asynchronous=False)
        c.close()
        c = consumer()
        c.subscribe([TOPIC])
        read(c, 1)
        c.close()
    elif FEATURE == 'list-groups-offsets':
        if any(g.id == GROUP for g in admin.list_groups(timeout=TIMEOUT)):
            print('group ' + GROUP)
        c = consumer()
        for tp in c.committed([TopicPartition(TOPIC, 0)], timeout=TIMEOUT):
            print('offset %s %d %d' % (tp.topic, tp.partition, tp.offset))
        c.close()
    elif FEATURE == 'describe-configs':
        for f in admin.describe_configs([ConfigResource('topic', TOPIC)]).values():
            print('retention.ms=' + f.result(TIMEOUT)['retention.ms'].value)
    elif FEATURE == 'alter-configs':
        res = ConfigResource('topic', TOPIC, set_config={'retention.ms': ALTERED})
        for f in admin.alter_configs([res]).values():
            f.result(TIMEOUT)
        print('altered')
    else:
        fail('no such feature')


main()
