"""Produces keys updated many times (some ending in a tombstone) to a new compacted topic
with confluent-kafka, rolls the segment, then reads the topic back until the cleaner has
compacted it (one record per key below the last record) or the wait runs out.

Usage: compaction_check.py BOOTSTRAP TOPIC [WAIT_SECONDS]. Prints one JSON line:
{"produced", "read", "compacted", "seconds", "latest": {key: value|null},
 "offsets": {key: offset}, "errors": [...]}; exits 77 when confluent_kafka is missing,
1 when a check failed (not compacted in time, a lost latest value, a moved offset).
"""
import json
import sys
import time

try:
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic
except ImportError:
    print("confluent_kafka not installed")
    sys.exit(77)

BOOT, TOPIC = sys.argv[1], sys.argv[2]
WAIT = float(sys.argv[3]) if len(sys.argv) > 3 else 60.0
KEYS, ROUNDS = 20, 25  # 500 records, every key updated 25 times

admin = AdminClient({"bootstrap.servers": BOOT})
configs = {
    "cleanup.policy": "compact",
    "segment.ms": "100",
    "min.cleanable.dirty.ratio": "0.01",
    "min.compaction.lag.ms": "0",
}
for f in admin.create_topics([NewTopic(TOPIC, num_partitions=1, replication_factor=1, config=configs)]).values():
    f.result(30)

produced = []  # (offset, key, value)
errors = []


def report(err, msg):
    if err is not None:
        errors.append(str(err))
    else:
        v = msg.value()
        produced.append((msg.offset(), msg.key().decode(), None if v is None else v.decode()))


p = Producer({"bootstrap.servers": BOOT, "linger.ms": 5})
for r in range(ROUNDS):
    for k in range(KEYS):
        value = f"v{r}-{k}"
        if r == ROUNDS - 1 and k % 5 == 0:
            value = None  # the key's last record is a tombstone
        p.produce(TOPIC, key=f"k{k:02}".encode(), value=None if value is None else value.encode(), on_delivery=report)
    p.poll(0)
assert p.flush(30) == 0, "unflushed records"
time.sleep(1.0)  # older than segment.ms: the next append rolls the segment
p.produce(TOPIC, key=b"sentinel", value=b"end", on_delivery=report)
assert p.flush(30) == 0, "unflushed sentinel"

produced.sort()
expected = {}
expected_offsets = {}
origin = {}
for off, k, v in produced:
    expected[k] = v
    expected_offsets[k] = off
    origin[off] = (k, v)


def read_all():
    c = Consumer({"bootstrap.servers": BOOT, "group.id": f"cc-{time.time()}", "enable.auto.commit": False})
    tp = TopicPartition(TOPIC, 0, 0)
    low, high = c.get_watermark_offsets(tp, timeout=10)
    tp.offset = low
    c.assign([tp])
    out = []
    deadline = time.time() + 20
    while time.time() < deadline:
        m = c.poll(0.5)
        if m is None:
            if out and out[-1][0] >= high - 1:
                break
            continue
        if m.error():
            continue
        v = m.value()
        out.append((m.offset(), m.key().decode() if m.key() else None, None if v is None else v.decode()))
        if m.offset() >= high - 1:
            break
    c.close()
    return out


start = time.time()
records = []
compacted = False
while True:
    records = read_all()
    keys = [k for _, k, _ in records]
    compacted = len(keys) == len(set(keys)) and len(records) == len(expected)
    if compacted or time.time() - start > WAIT:
        break
    time.sleep(2.0)

latest = {}
offsets = {}
for off, k, v in records:
    latest[k] = v
    offsets[k] = off
    if origin.get(off) != (k, v):
        errors.append(f"offset {off} holds {(k, v)}, written as {origin.get(off)}")
if not compacted:
    errors.append(f"not compacted after {WAIT}s: read {len(records)} records for {len(expected)} keys")
if latest != expected:
    errors.append(f"latest values differ: {sorted(set(latest.items()) ^ set(expected.items()))[:10]}")
if offsets != expected_offsets:
    errors.append("offsets of the latest records moved")
print(json.dumps({
    "produced": len(produced), "read": len(records), "compacted": compacted,
    "seconds": round(time.time() - start, 1), "latest": latest, "offsets": offsets, "errors": errors,
}, sort_keys=True))
sys.exit(1 if errors else 0)
