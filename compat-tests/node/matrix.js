// One feature of gokafka's client matrix with kafkajs.
//
// Usage: node matrix.js ADDR FEATURE TOPIC GROUP
// Prints the lines compat-tests/matrix_test.go expects for FEATURE; exits
// non-zero on any client error.
'use strict';

const { Kafka, CompressionTypes, CompressionCodecs, ConfigResourceTypes, logLevel } = require('kafkajs');
const SnappyCodec = require('kafkajs-snappy');
const lz4 = require('lz4js');
const zstd = require('@bokuweb/zstd-wasm');

// kafkajs ships only gzip. A codec is a factory of { compress(encoder),
// decompress(buffer) }. lz4 and zstd are written here on pure JavaScript
// and WebAssembly implementations, because kafkajs-lz4 and @kafkajs/zstd
// are native addons that npm would have to build.
CompressionCodecs[CompressionTypes.Snappy] = SnappyCodec;
CompressionCodecs[CompressionTypes.LZ4] = () => ({
  compress: async (encoder) => Buffer.from(lz4.compress(encoder.buffer)),
  decompress: async (buffer) => Buffer.from(lz4.decompress(buffer)),
});
// zstd.init(), in main, loads the WebAssembly module.
CompressionCodecs[CompressionTypes.ZSTD] = () => ({
  compress: async (encoder) => Buffer.from(zstd.compress(encoder.buffer, 3)),
  decompress: async (buffer) => Buffer.from(zstd.decompress(buffer)),
});

const [addr, feature, topic, group] = process.argv.slice(2);
const codecs = {
  gzip: CompressionTypes.GZIP, snappy: CompressionTypes.Snappy, lz4: CompressionTypes.LZ4, zstd: CompressionTypes.ZSTD,
};
const PRODUCED = 5, PREPARED = 10, FROM_OFFSET = 6, GROUP_FIRST = 4;
const TS_BASE = 1700000000000;
const PAD = '0123456789'.repeat(7);
const TIMEOUT_MS = 60000;

const kafka = new Kafka({ clientId: 'gokafka-matrix', brokers: [addr], logLevel: logLevel.NOTHING, retry: { retries: 8 } });

function line(m) {
  const headers = Object.entries(m.headers || {}).map(([k, v]) => `${k}=${v.toString()}`).join(',');
  const ts = feature === 'timestamps' ? m.timestamp : '';
  return `${m.offset}|${m.key.toString()}|${m.value.toString()}|${headers}|${ts}`;
}

// read consumes n messages of partition 0 in group (without committing),
// positioned by seek (an offset) or by the group's committed offset, and
// resolves to the messages; commit commits the offset after the last.
async function read(n, { seek, commit } = {}) {
  const consumer = kafka.consumer({ groupId: group, maxWaitTimeInMs: 200, heartbeatInterval: 500 });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  const got = [];
  let done;
  const finished = new Promise((resolve) => { done = resolve; });
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ message }) => {
      if (got.length < n) {
        got.push(message);
        if (got.length === n) done();
      }
    },
  });
  if (seek !== undefined) consumer.seek({ topic, partition: 0, offset: String(seek) });
  await finished;
  if (commit) {
    const next = String(BigInt(got[n - 1].offset) + 1n);
    await consumer.commitOffsets([{ topic, partition: 0, offset: next }]);
  }
  await consumer.disconnect();
  for (const m of got) console.log(line(m));
}

async function produce() {
  const idempotent = feature === 'idempotent';
  const producer = kafka.producer(idempotent ? { idempotent: true, maxInFlightRequests: 1 } : {});
  await producer.connect();
  const messages = [];
  for (let i = 0; i < PRODUCED; i++) {
    const m = { key: `k${i}`, value: `v${i}-${PAD}`, partition: 0 };
    if (feature === 'headers') m.headers = { h: String(i) };
    if (feature === 'timestamps') m.timestamp = String(TS_BASE + i * 1000);
    messages.push(m);
  }
  await producer.send({ topic, acks: -1, compression: codecs[feature] || CompressionTypes.None, messages });
  await producer.disconnect();
  await read(PRODUCED, { seek: 0 });
}

async function main() {
  await zstd.init();
  const admin = kafka.admin();
  await admin.connect();
  switch (feature) {
    case 'metadata': {
      const cluster = await admin.describeCluster();
      for (const b of cluster.brokers) console.log(`broker ${b.nodeId} ${b.host}:${b.port}`);
      const md = await admin.fetchTopicMetadata({ topics: [topic] });
      for (const t of md.topics) {
        for (const p of t.partitions) console.log(`partition ${t.name} ${p.partitionId} leader ${p.leader}`);
      }
      break;
    }
    case 'create-delete-topics':
      await admin.createTopics({ topics: [{ topic, numPartitions: 2, replicationFactor: 1 }], waitForLeaders: true });
      console.log(`created ${topic}`);
      await admin.deleteTopics({ topics: [topic] });
      console.log(`deleted ${topic}`);
      break;
    case 'gzip': case 'snappy': case 'lz4': case 'zstd': case 'keys': case 'headers': case 'timestamps': case 'idempotent':
      await produce();
      break;
    case 'from-offset':
      await read(PREPARED - FROM_OFFSET, { seek: FROM_OFFSET });
      break;
    case 'from-timestamp': {
      const offs = await admin.fetchTopicOffsetsByTimestamp(topic, TS_BASE + FROM_OFFSET * 1000 - 500);
      await read(PREPARED - FROM_OFFSET, { seek: offs.find((o) => o.partition === 0).offset });
      break;
    }
    case 'group-commit-resume':
      await read(GROUP_FIRST, { commit: true });
      await read(1);
      break;
    case 'list-groups-offsets': {
      const { groups } = await admin.listGroups();
      if (groups.some((g) => g.groupId === group)) console.log(`group ${group}`);
      for (const t of await admin.fetchOffsets({ groupId: group, topics: [topic] })) {
        for (const p of t.partitions) console.log(`offset ${t.topic} ${p.partition} ${p.offset}`);
      }
      break;
    }
    case 'describe-configs': {
      const res = await admin.describeConfigs({
        resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['retention.ms'] }], includeSynonyms: false,
      });
      for (const r of res.resources) {
        for (const e of r.configEntries) console.log(`${e.configName}=${e.configValue}`);
      }
      break;
    }
    case 'alter-configs':
      await admin.alterConfigs({
        validateOnly: false,
        resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configEntries: [{ name: 'retention.ms', value: '7200000' }] }],
      });
      console.log('altered');
      break;
    default:
      throw new Error(`no such feature ${feature}`);
  }
  await admin.disconnect();
}

setTimeout(() => { console.error(`kafkajs ${feature}: not done after ${TIMEOUT_MS} ms`); process.exit(2); }, TIMEOUT_MS).unref();
main().then(() => process.exit(0), (err) => { console.error(`kafkajs ${feature}: ${err.stack || err}`); process.exit(1); });
