#!/usr/bin/env python3
"""Transactions through real clients against one broker.

usage: txn_peers.py BOOTSTRAP

confluent-kafka (librdkafka) transactional producers write committed and aborted
transactions over two partitions, then a zombie scenario: producer A opens a transaction,
producer B with the same transactional.id fences it (A's open transaction is aborted), A's
later produce/commit must fail as fenced, B commits. Then three read_committed consumers
(confluent-kafka, kafka-python, kcat -X isolation.level=read_committed) read both
partitions: every committed record in order, no aborted or zombie record. Also a
read_uncommitted confluent consumer must see the aborted records (the data is really there).
Prints PASS/FAIL lines; exit 0 when all pass, 1 on a failure, 77 when a peer is missing.
"""
import json, os, subprocess, sys, time, uuid

try:
    from confluent_kafka import Consumer, KafkaException, Producer
    from confluent_kafka.admin import AdminClient, NewTopic
except ImportError:
    print("SKIP confluent-kafka not installed"); sys.exit(77)

BOOT = sys.argv[1]
RUN = uuid.uuid4().hex[:8]
TOPIC = f"txn-peers-{RUN}"
BASE = {"bootstrap.servers": BOOT, "broker.address.family": "v4"}
FAILS = []


def check(name, ok, detail):
    print(("PASS " if ok else "FAIL ") + name + ": " + detail, flush=True)
    if not ok:
        FAILS.append(name)


def create_topic():
    a = AdminClient(BASE)
    for f in a.create_topics([NewTopic(TOPIC, 2, 1)]).values():
        f.result(30)


def producer(txn_id):
    p = Producer({**BASE, "transactional.id": txn_id, "transaction.timeout.ms": 60000})
    p.init_transactions(30)
    return p


def txn(p, values, commit):
    p.begin_transaction()
    for i, v in enumerate(values):
        p.produce(TOPIC, value=v.encode(), key=v.encode(), partition=i % 2)
    p.flush(30)
    if commit:
        p.commit_transaction(30)
    else:
        p.abort_transaction(30)


def expected_and_write():
    committed = []
    p = producer(f"txn-main-{RUN}")
    for t in range(6):
        values = [f"t{t}-{'c' if t % 2 == 0 else 'a'}-{i}" for i in range(10)]
        txn(p, values, commit=(t % 2 == 0))
        if t % 2 == 0:
            committed += values
    # a non-transactional record between transactions is always visible
    plain = Producer(BASE)
    plain.produce(TOPIC, value=b"plain-0", key=b"plain-0", partition=0)
    plain.flush(30)
    committed.append("plain-0")
    p.flush(30)
    return committed


def zombie():
    """Returns the committed values of the zombie scenario."""
    tid = f"txn-zombie-{RUN}"
    a = producer(tid)
    a.begin_transaction()
    a.produce(TOPIC, value=b"zombie-open", key=b"z", partition=0)
    a.flush(30)
    b = producer(tid)  # fences a and aborts its open transaction
    fenced = False
    try:
        a.produce(TOPIC, value=b"zombie-late", key=b"z", partition=1)
        a.flush(10)
        a.commit_transaction(10)
    except KafkaException as e:
        err = e.args[0]
        fenced = err.fatal() or "fenced" in str(err).lower() or "epoch" in str(err).lower()
        print(f"zombie error: {err}", flush=True)
    check("zombie_fenced", fenced, "the first producer's commit after a second init_transactions fails as fenced")
    b.begin_transaction()
    b.produce(TOPIC, value=b"after-fence", key=b"z", partition=0)
    b.flush(30)
    b.commit_transaction(30)
    return ["after-fence"]


def by_partition(values, committed_order):
    # per-partition order = the order written (partition i % 2 within each txn)
    return values


def read_confluent(isolation, n_expected):
    c = Consumer({**BASE, "group.id": f"txn-peers-{isolation}-{RUN}", "isolation.level": isolation,
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([TOPIC])
    seen, t0 = [], time.time()
    while time.time() - t0 < 30 and len(seen) < n_expected:
        m = c.poll(0.5)
        if m is not None and not m.error():
            seen.append((m.partition(), m.offset(), m.value().decode()))
    # a little longer, to catch records that should not be there
    t1 = time.time()
    while time.time() - t1 < 2:
        m = c.poll(0.2)
        if m is not None and not m.error():
            seen.append((m.partition(), m.offset(), m.value().decode()))
    c.close()
    return seen


def read_kafka_python(n_expected):
    try:
        from kafka import KafkaConsumer, TopicPartition
    except ImportError:
        print("SKIP kafka-python not installed"); sys.exit(77)
    c = KafkaConsumer(bootstrap_servers=BOOT, isolation_level="read_committed",
                      auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=3000)
    c.assign([TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)])
    c.seek_to_beginning()
    seen = []
    t0 = time.time()
    for m in c:
        seen.append((m.partition, m.offset, m.value.decode()))
        if time.time() - t0 > 30:
            break
    c.close()
    return seen


def read_kcat():
    try:
        out = subprocess.run(["kcat", "-b", BOOT, "-C", "-t", TOPIC, "-o", "beginning", "-e", "-q",
                              "-X", "isolation.level=read_committed", "-X", "broker.address.family=v4",
                              "-f", "%p %o %s\n"], capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        print("SKIP kcat not installed"); sys.exit(77)
    if out.returncode != 0:
        print(f"kcat failed: {out.stderr}")
        return []
    seen = []
    for line in out.stdout.splitlines():
        p, o, v = line.split(" ", 2)
        seen.append((int(p), int(o), v))
    return seen


def verify(name, seen, committed):
    values = [v for _, _, v in seen]
    bad = [v for v in values if "-a-" in v or v.startswith("zombie")]
    missing = sorted(set(committed) - set(values))
    dups = len(values) - len(set(values))
    order_ok = True
    for part in (0, 1):
        got = [v for p, _, v in sorted(seen) if p == part]
        want = [v for v in committed if v in got]
        offsets = [o for p, o, _ in seen if p == part]
        order_ok &= got == want and offsets == sorted(offsets)
    check(name, not bad and not missing and dups == 0 and order_ok,
          f"{len(values)} records; aborted/zombie seen {bad[:5]}; missing {missing[:5]}; duplicates {dups}; in order {order_ok}")


def consume_transform_produce(committed):
    """send_offsets_to_transaction (KIP-447 group metadata): the input offsets move only with
    a committed transaction, and the output holds the committed transform exactly once."""
    from confluent_kafka import TopicPartition
    out_topic = f"{TOPIC}-out"
    a = AdminClient(BASE)
    for f in a.create_topics([NewTopic(out_topic, 1, 1)]).values():
        f.result(30)
    group = f"txn-eos-{RUN}"
    c = Consumer({**BASE, "group.id": group, "isolation.level": "read_committed",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([TOPIC])
    got, t0 = [], time.time()
    while time.time() - t0 < 30 and len(got) < len(committed):
        m = c.poll(0.5)
        if m is not None and not m.error():
            got.append(m.value().decode())
    p = producer(f"txn-eos-{RUN}")
    for commit in (False, True):
        p.begin_transaction()
        for v in got:
            p.produce(out_topic, value=f"X-{v}".encode(), partition=0)
        p.flush(30)
        p.send_offsets_to_transaction(c.position(c.assignment()), c.consumer_group_metadata(), 30)
        if commit:
            p.commit_transaction(30)
        else:
            p.abort_transaction(30)
            stored = c.committed(c.assignment(), 10)
            check("eos_aborted_offsets_not_committed", all(tp.offset < 0 for tp in stored),
                  f"offsets after an aborted transaction: {[(tp.partition, tp.offset) for tp in stored]}")
    stored = {tp.partition: tp.offset for tp in c.committed(c.assignment(), 10)}
    positions = {tp.partition: tp.offset for tp in c.position(c.assignment())}
    c.close()
    check("eos_offsets_committed", stored == positions and all(o > 0 for o in stored.values()),
          f"committed {stored} positions {positions}")
    rc = Consumer({**BASE, "group.id": f"txn-eos-check-{RUN}", "isolation.level": "read_committed",
                   "auto.offset.reset": "earliest", "enable.auto.commit": False})
    rc.subscribe([out_topic])
    outv, t0 = [], time.time()
    while time.time() - t0 < 30 and len(outv) < len(got):
        m = rc.poll(0.5)
        if m is not None and not m.error():
            outv.append(m.value().decode())
    t1 = time.time()
    while time.time() - t1 < 2:
        m = rc.poll(0.2)
        if m is not None and not m.error():
            outv.append(m.value().decode())
    rc.close()
    check("eos_output_exactly_once", outv == [f"X-{v}" for v in got] and len(got) == len(committed),
          f"input {len(got)}, output {len(outv)}, duplicates {len(outv) - len(set(outv))}")


def main():
    create_topic()
    committed = expected_and_write() + zombie()
    # committed order within a partition is the write order
    verify("confluent_read_committed", read_confluent("read_committed", len(committed)), committed)
    verify("kafka_python_read_committed", read_kafka_python(len(committed)), committed)
    verify("kcat_read_committed", read_kcat(), committed)
    consume_transform_produce(committed)
    unc = [v for _, _, v in read_confluent("read_uncommitted", 10**9)]
    check("read_uncommitted_sees_aborted", any("-a-" in v for v in unc) and "zombie-open" in unc,
          f"{len(unc)} records, aborted ones present: {sum('-a-' in v for v in unc)}")
    print(f"txn_peers: {len(FAILS)} failed" + (f" ({', '.join(FAILS)})" if FAILS else ""))
    sys.exit(1 if FAILS else 0)


if __name__ == "__main__":
    main()
