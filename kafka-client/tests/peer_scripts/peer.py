#!/usr/bin/env python3
"""Peer-client helper for kafka-client/tests/peer_clients.rs.

Runs confluent-kafka (librdkafka) or kafka-python as a producer or consumer and prints
what it did as tab-separated lines with hex-encoded bytes, so the Rust test can compare
exact contents without a JSON parser.

  peer.py check MODULE                               exit 0 when MODULE imports
  peer.py consume CLIENT BOOTSTRAP TOPIC N SECS      read N records from the beginning of
                                                     every partition (assigned, no group)
      prints: R <partition> <offset> <key|-> <value|-> <headers>
      headers: comma-separated hex(key)=hex(value) (value `-` when null); `.` when none
  peer.py produce CLIENT BOOTSTRAP TOPIC CODEC N TAG
      sends N records key=TAG-key-i value=TAG-CODEC-i, headers seq=i, codec=CODEC
      (confluent: partitioner murmur2_random); prints P <key hex> <partition> <offset>
  peer.py produce-keys CLIENT BOOTSTRAP TOPIC N
      sends key=key-i (value v-i) for i < N; prints P <key hex> <partition> <offset>
  peer.py group BOOTSTRAP TOPIC GROUP [STRATEGY]   (STRATEGY: range (default) or
                                                    cooperative-sticky)
      confluent consumer in GROUP (range assignor) until stdin closes, then close();
      prints A <comma-separated partitions> on every assignment change and
      R <partition> <offset> <value hex> per record.
CLIENT is `ck` (confluent-kafka) or `kp` (kafka-python).
"""
import sys
import threading
import time


def hx_field(b):
    # an empty byte string must still be one tab-separated field
    if b is None:
        return "-"
    if isinstance(b, str):
        b = b.encode()
    return b.hex() if len(b) else "="


def headers_field(hs):
    if not hs:
        return "."
    return ",".join("%s=%s" % (hx_field(k), hx_field(v)) for k, v in hs)


def out(*fields):
    sys.stdout.write("\t".join(str(f) for f in fields) + "\n")
    sys.stdout.flush()


def consume_ck(bootstrap, topic, n, secs):
    from confluent_kafka import Consumer, TopicPartition, OFFSET_BEGINNING

    c = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": "peer-unused",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "enable.partition.eof": False,
    })
    md = c.list_topics(topic, timeout=10)
    parts = sorted(md.topics[topic].partitions.keys())
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
    got = 0
    deadline = time.time() + secs
    while got < n and time.time() < deadline:
        for m in c.consume(num_messages=500, timeout=0.5):
            if m.error():
                sys.stderr.write("consume error: %s\n" % m.error())
                continue
            out("R", m.partition(), m.offset(), hx_field(m.key()), hx_field(m.value()),
                headers_field(m.headers()))
            got += 1
    c.close()


def consume_kp(bootstrap, topic, n, secs):
    from kafka import KafkaConsumer, TopicPartition

    c = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                      auto_offset_reset="earliest", consumer_timeout_ms=1000)
    parts = None
    deadline = time.time() + 10
    while not parts and time.time() < deadline:
        parts = c.partitions_for_topic(topic)
        if not parts:
            time.sleep(0.2)
    tps = [TopicPartition(topic, p) for p in sorted(parts or [])]
    c.assign(tps)
    c.seek_to_beginning(*tps)
    got = 0
    deadline = time.time() + secs
    while got < n and time.time() < deadline:
        batch = c.poll(timeout_ms=500)
        for _tp, recs in batch.items():
            for m in recs:
                out("R", m.partition, m.offset, hx_field(m.key), hx_field(m.value),
                    headers_field(m.headers))
                got += 1
    c.close()


def make_producer(client, bootstrap, codec):
    if client == "ck":
        from confluent_kafka import Producer

        return Producer({
            "bootstrap.servers": bootstrap,
            "compression.type": codec,
            "partitioner": "murmur2_random",
            "linger.ms": 5,
            "enable.idempotence": True,
        })
    from kafka import KafkaProducer

    return KafkaProducer(bootstrap_servers=bootstrap,
                         compression_type=None if codec == "none" else codec,
                         linger_ms=5, acks="all")


def produce_records(client, bootstrap, topic, codec, records):
    """records: list of (key bytes, value bytes, headers list). Prints P lines."""
    p = make_producer(client, bootstrap, codec)
    failures = []
    if client == "ck":
        def report(err, m):
            if err is not None:
                failures.append(str(err))
            else:
                out("P", hx_field(m.key()), m.partition(), m.offset())

        for k, v, hs in records:
            while True:
                try:
                    p.produce(topic, key=k, value=v, headers=hs or None, on_delivery=report)
                    break
                except BufferError:
                    p.poll(0.1)
            p.poll(0)
        left = p.flush(30)
        if left:
            failures.append("%d records not delivered" % left)
    else:
        futs = [(k, p.send(topic, key=k, value=v, headers=hs or None)) for k, v, hs in records]
        for k, f in futs:
            try:
                md = f.get(timeout=30)
                out("P", hx_field(k), md.partition, md.offset)
            except Exception as e:  # noqa: BLE001
                failures.append(repr(e))
        p.close()
    if failures:
        sys.stderr.write("delivery failures: %s\n" % failures[:5])
        sys.exit(3)


def group(bootstrap, topic, group_id, strategy="range"):
    from confluent_kafka import Consumer

    cooperative = strategy == "cooperative-sticky"

    stop = threading.Event()

    def watch_stdin():
        sys.stdin.read()
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    owned = set()

    # eager protocols hand over the whole assignment; the cooperative one only the
    # partitions added or revoked (KIP-429)
    def on_assign(c, parts):
        if not cooperative:
            owned.clear()
        owned.update(tp.partition for tp in parts)
        out("A", ",".join(str(p) for p in sorted(owned)) or ".")

    def on_revoke(c, parts):
        if cooperative:
            owned.difference_update(tp.partition for tp in parts)
        else:
            owned.clear()
        out("A", ",".join(str(p) for p in sorted(owned)) or ".")

    c = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": group_id,
        "partition.assignment.strategy": strategy,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": True,
        "auto.commit.interval.ms": 200,
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 500,
        "max.poll.interval.ms": 10000,
    })
    c.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke)
    while not stop.is_set():
        for m in c.consume(num_messages=100, timeout=0.2):
            if m.error():
                sys.stderr.write("consume error: %s\n" % m.error())
                continue
            out("R", m.partition(), m.offset(), hx_field(m.value()))
    c.close()
    out("CLOSED")


def main(argv):
    cmd = argv[1]
    if cmd == "check":
        __import__(argv[2])
        return
    if cmd == "consume":
        client, bootstrap, topic, n, secs = argv[2:7]
        fn = consume_ck if client == "ck" else consume_kp
        fn(bootstrap, topic, int(n), float(secs))
    elif cmd == "produce":
        client, bootstrap, topic, codec, n, tag = argv[2:8]
        recs = []
        for i in range(int(n)):
            k = ("%s-key-%d" % (tag, i)).encode()
            v = ("%s-%s-%d" % (tag, codec, i)).encode()
            hs = [("seq", str(i).encode()), ("codec", codec.encode())]
            recs.append((k, v, hs))
        produce_records(client, bootstrap, topic, codec, recs)
    elif cmd == "produce-keys":
        client, bootstrap, topic, n = argv[2:6]
        recs = [(("key-%d" % i).encode(), ("v-%d" % i).encode(), None) for i in range(int(n))]
        produce_records(client, bootstrap, topic, "none", recs)
    elif cmd == "group":
        group(*argv[2:6])
    else:
        sys.exit("unknown command %s" % cmd)


if __name__ == "__main__":
    main(sys.argv)
