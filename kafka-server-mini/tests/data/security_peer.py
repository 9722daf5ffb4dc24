"""Produce N records to a topic and consume them back over a secured listener, with
confluent-kafka (librdkafka) or kafka-python. Used by tests/security_peers.rs.

usage: security_peer.py confluent|kafka-python BOOTSTRAP TOPIC N CONF_JSON
CONF_JSON keys: protocol, ca, mechanism, user, password, cert, key (all but protocol optional).
Prints `ok produced=N consumed=N`; exits 1 on any failure, 77 when the library is missing.
"""
import json
import sys
import time

client, bootstrap, topic, n, conf = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), json.loads(sys.argv[5])
values = [f"{topic}-{i}" for i in range(n)]


def confluent():
    try:
        from confluent_kafka import Consumer, Producer
    except ImportError:
        sys.exit(77)
    c = {"bootstrap.servers": bootstrap, "security.protocol": conf["protocol"]}
    if "ca" in conf:
        c["ssl.ca.location"] = conf["ca"]
    if "cert" in conf:
        c["ssl.certificate.location"] = conf["cert"]
        c["ssl.key.location"] = conf["key"]
    if conf.get("mechanism") == "OAUTHBEARER":
        # librdkafka's unsecured JWT (alg none), checked by the broker's unsecured validator
        c["sasl.mechanism"] = "OAUTHBEARER"
        c["enable.sasl.oauthbearer.unsecure.jwt"] = True
        c["sasl.oauthbearer.config"] = f"principal={conf['user']}"
    elif "mechanism" in conf:
        c["sasl.mechanism"] = conf["mechanism"]
        c["sasl.username"] = conf["user"]
        c["sasl.password"] = conf["password"]
    errors = []
    p = Producer(dict(c, **{"message.timeout.ms": 30000}))
    for v in values:
        p.produce(topic, v.encode(), callback=lambda err, msg: err and errors.append(str(err)))
    left = p.flush(40)
    if left or errors:
        print(f"produce failed: left={left} errors={errors[:3]}")
        sys.exit(1)
    cons = Consumer(dict(c, **{"group.id": f"g-{topic}", "auto.offset.reset": "earliest"}))
    cons.subscribe([topic])
    got = []
    deadline = time.time() + 40
    while len(got) < n and time.time() < deadline:
        m = cons.poll(1.0)
        if m is None:
            continue
        if m.error():
            print(f"consume error: {m.error()}")
            continue
        got.append(m.value().decode())
    cons.close()
    return got


def kafka_python():
    try:
        from kafka import KafkaConsumer, KafkaProducer
    except ImportError:
        sys.exit(77)
    c = {"bootstrap_servers": bootstrap, "security_protocol": conf["protocol"]}
    if "ca" in conf:
        c["ssl_cafile"] = conf["ca"]
    if "cert" in conf:
        c["ssl_certfile"] = conf["cert"]
        c["ssl_keyfile"] = conf["key"]
    if "mechanism" in conf:
        c["sasl_mechanism"] = conf["mechanism"]
        c["sasl_plain_username"] = conf["user"]
        c["sasl_plain_password"] = conf["password"]
    p = KafkaProducer(**c)
    for f in [p.send(topic, v.encode()) for v in values]:
        f.get(timeout=40)
    p.close()
    cons = KafkaConsumer(topic, auto_offset_reset="earliest", consumer_timeout_ms=20000, group_id=f"g-{topic}", **c)
    got = []
    for m in cons:
        got.append(m.value.decode())
        if len(got) >= n:
            break
    cons.close()
    return got


got = confluent() if client == "confluent" else kafka_python()
if sorted(got) != sorted(values):
    print(f"consumed {len(got)} of {n}: {got[:3]}")
    sys.exit(1)
print(f"ok produced={n} consumed={len(got)}")
