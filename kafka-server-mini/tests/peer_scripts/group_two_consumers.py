"""Two confluent-kafka consumers in one group: split, then rebalance after one leaves.

Usage: group_two_consumers.py BOOTSTRAP. Prints one JSON line; exits 77 when
confluent_kafka is missing, 1 on a failed check.
"""
import json
import sys
import threading
import time

try:
    from confluent_kafka import Consumer, KafkaException, Producer
    from confluent_kafka.admin import AdminClient, NewTopic
except ImportError:
    print("confluent_kafka not installed")
    sys.exit(77)

BOOT = sys.argv[1]
TOPIC = "group-split"
GROUP = "group-split-g"
N = 200
PARTS = 4

admin = AdminClient({"bootstrap.servers": BOOT})
for f in admin.create_topics([NewTopic(TOPIC, num_partitions=PARTS, replication_factor=1)]).values():
    f.result(10)
p = Producer({"bootstrap.servers": BOOT})
for i in range(N):
    p.produce(TOPIC, key=f"k{i}".encode(), value=f"v{i}".encode())
assert p.flush(10) == 0, "unflushed records"

lock = threading.Lock()
seen = {}  # value -> count
counts = {"A": 0, "B": 0}
assigned = {"A": set(), "B": set()}
stop = {"A": threading.Event(), "B": threading.Event()}


def run(name):
    c = Consumer({
        "bootstrap.servers": BOOT,
        "group.id": GROUP,
        "client.id": name,
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 1000,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    c.subscribe([TOPIC])
    while not stop[name].is_set():
        m = c.poll(0.2)
        with lock:
            assigned[name] = {tp.partition for tp in c.assignment()}
        if m is None or m.error():
            continue
        try:
            c.commit(message=m, asynchronous=False)
        except KafkaException:
            pass  # e.g. REBALANCE_IN_PROGRESS: the record is redelivered to the new owner
        with lock:
            counts[name] += 1
            v = m.value().decode()
            seen[v] = seen.get(v, 0) + 1
    c.close()  # LeaveGroup
    with lock:
        assigned[name] = set()


def snap():
    with lock:
        return sorted(assigned["A"]), sorted(assigned["B"])


def wait_for(pred, timeout):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.1)
    return False


out = {}
ok = True
ta = threading.Thread(target=run, args=("A",))
tb = threading.Thread(target=run, args=("B",))
t0 = time.time()
ta.start()
tb.start()


def split_ok():
    a, b = snap()
    return a and b and not (set(a) & set(b)) and set(a) | set(b) == set(range(PARTS))


if not wait_for(split_ok, 15):
    ok = False
a, b = snap()
out["split"] = {"A": a, "B": b, "secs": round(time.time() - t0, 2)}
time.sleep(1.0)  # let both consume a little
with lock:
    out["a_count_at_close"] = counts["A"]
t1 = time.time()
stop["A"].set()
ta.join(15)
if not wait_for(lambda: snap()[1] == list(range(PARTS)), 15):
    ok = False
out["after_leave"] = {"B": snap()[1], "secs": round(time.time() - t1, 2)}
wait_for(lambda: len(seen) >= N, 10)
stop["B"].set()
tb.join(15)
out["counts"] = dict(counts)
out["distinct"] = len(seen)
out["missing"] = sorted(set(f"v{i}" for i in range(N)) - set(seen))[:10]
ok = ok and len(seen) == N
out["ok"] = ok
print("RESULT " + json.dumps(out), flush=True)
j = lambda xs: ",".join(str(x) for x in xs)
print(f"FIELDS a={j(out['split']['A'])} b={j(out['split']['B'])} after={j(out['after_leave']['B'])} "
      f"after_secs={out['after_leave']['secs']} distinct={out['distinct']}", flush=True)
sys.exit(0 if ok else 1)
