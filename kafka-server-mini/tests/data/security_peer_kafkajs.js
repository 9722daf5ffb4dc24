// Produce N records and consume them back with kafkajs over SSL or SASL_SSL.
// usage: node security_peer_kafkajs.js BOOTSTRAP TOPIC N CA_FILE MECHANISM USER PASSWORD [CERT KEY]
// (MECHANISM: plain | scram-sha-256 | scram-sha-512, or none for SSL without SASL; CERT and
// KEY: a client certificate for mutual TLS). Prints `ok produced=N consumed=N`;
// exits 1 on failure, 77 when kafkajs is missing. Used by tests/security_peers.rs.
'use strict';
const fs = require('fs');
let kafkajs;
try { kafkajs = require('kafkajs'); } catch (e) { process.exit(77); }
const { Kafka, logLevel } = kafkajs;
const [bootstrap, topic, nText, caFile, mechanism, username, password, certFile, keyFile] =
  process.argv.slice(2);
const n = parseInt(nText, 10);
const kafka = new Kafka({
  clientId: 'security-kafkajs', brokers: [bootstrap], logLevel: logLevel.NOTHING,
  ssl: Object.assign(
    { ca: [fs.readFileSync(caFile, 'utf-8')] },
    certFile ? { cert: fs.readFileSync(certFile, 'utf-8'), key: fs.readFileSync(keyFile, 'utf-8') } : {},
  ),
  sasl: mechanism === 'none' ? undefined : { mechanism, username, password },
  retry: { retries: 3 },
});
(async () => {
  const values = Array.from({ length: n }, (_, i) => `${topic}-${i}`);
  const producer = kafka.producer({ allowAutoTopicCreation: true });
  await producer.connect();
  await producer.send({ topic, messages: values.map((value) => ({ value })) });
  await producer.disconnect();
  const consumer = kafka.consumer({ groupId: `g-${topic}`, sessionTimeout: 6000, heartbeatInterval: 1000 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const got = [];
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timeout: ${got.length} of ${n}`)), 40000);
    consumer.run({ eachMessage: async ({ message }) => {
      got.push(message.value.toString());
      if (got.length >= n) { clearTimeout(timer); resolve(); }
    } });
  });
  await consumer.disconnect();
  if (got.sort().join() !== values.sort().join()) throw new Error('consumed values differ');
  console.log(`ok produced=${n} consumed=${got.length}`);
  process.exit(0);
})().catch((e) => { console.log(`kafkajs failed: ${e.message}`); process.exit(1); });
