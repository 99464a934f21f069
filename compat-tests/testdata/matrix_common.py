"""What gokafka's matrix scripts share: the arguments, the numbers of
compat-tests/matrix_test.go and the line a consumed record prints.

Usage of a script: python3 SCRIPT ADDR FEATURE TOPIC GROUP
"""
import sys

ADDR, FEATURE, TOPIC, GROUP = sys.argv[1:5]
CODECS = ('gzip', 'snappy', 'lz4', 'zstd')
PRODUCED, PREPARED, FROM_OFFSET, GROUP_FIRST = 5, 10, 6, 4
TS_BASE = 1700000000000
PAD = '0123456789' * 7
TIMEOUT = 60
ALTERED = '7200000'


def fail(client, msg):
    sys.exit('%s %s: %s' % (client, FEATURE, msg))


def value(i):
    """The value of record i (matrixRecord in matrix_test.go)."""
    return ('v%d-%s' % (i, PAD)).encode()


def line(offset, key, val, headers, ts):
    """Prints a consumed record: headers are (key, bytes) pairs, ts is
    printed for the timestamps feature only."""
    hs = ','.join('%s=%s' % (k, v.decode()) for k, v in (headers or []))
    print('%d|%s|%s|%s|%s' % (offset, key.decode(), val.decode(), hs, ts if FEATURE == 'timestamps' else ''))
