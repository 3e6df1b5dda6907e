"""kafka_mtls_py_client: an unmodified confluent-kafka-python client for the
kafka-mtls tests (the same interface as tests/clients/go's program). Every
property of a Java-style properties file, then each -X key=value, goes into
the client's configuration dict in that order; it knows nothing of kafka-mtls.

    python kafka_mtls_py_client.py [-X k=v]... -produce N -topic T [-prefix P] PROPERTIES
    python kafka_mtls_py_client.py [-X k=v]... -consume N -topic T [-group G] PROPERTIES
    python kafka_mtls_py_client.py -version

-produce N sends P1..PN (P defaults to "message-") and prints each value once
its delivery is confirmed; -consume N prints the first N values. -timeout S
(default 30) bounds the run. -version prints confluent_kafka's version, the
librdkafka it runs on and that library's file. -preload-system-librdkafka
loads Debian's librdkafka.so.1 into the process first (RTLD_LOCAL, as a
second extension module linked against it would bring it in), so two
librdkafka copies are in one process. (RTLD_GLOBAL would make the wheel's own
extension bind to Debian's copy, which it refuses as too old.)

Exit codes: 0 ok; 1 an error while producing or consuming; 2 usage; 3 the
client could not be created (stderr holds librdkafka's text).
"""
import argparse
import ctypes
import sys
import time


def read_properties(path):
    conf = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#!":
                continue
            key, sep, value = line.partition("=")
            if sep and key.strip():
                conf[key.strip()] = value.strip()
    return conf


def loaded_librdkafka_files():
    with open("/proc/self/maps", encoding="utf-8") as f:
        return sorted({line.split()[-1] for line in f if "librdkafka" in line and "/" in line})


def main(argv):
    ap = argparse.ArgumentParser(prog="kafka_mtls_py_client")
    ap.add_argument("-X", action="append", default=[])
    ap.add_argument("-produce", type=int)
    ap.add_argument("-consume", type=int)
    ap.add_argument("-topic")
    ap.add_argument("-prefix", default="message-")
    ap.add_argument("-group")
    ap.add_argument("-timeout", type=float, default=30.0)
    ap.add_argument("-version", action="store_true")
    ap.add_argument("-preload-system-librdkafka", action="store_true")
    ap.add_argument("properties", nargs="?")
    a = ap.parse_args(argv[1:])
    if a.preload_system_librdkafka:
        ctypes.CDLL("librdkafka.so.1", mode=ctypes.RTLD_LOCAL)
    import confluent_kafka
    from confluent_kafka import Consumer, KafkaException, Producer

    if a.version:
        ver = confluent_kafka.version()  # a string from 2.16, a (str, int) tuple before
        ver = ver if isinstance(ver, str) else ver[0]
        print(f"confluent-kafka {ver} librdkafka {confluent_kafka.libversion()[0]}")
        for path in loaded_librdkafka_files():
            print(f"loaded {path}")
        return 0
    if not a.properties or not a.topic or (a.produce is None) == (a.consume is None):
        ap.print_usage(sys.stderr)
        return 2
    try:
        conf = read_properties(a.properties)
    except OSError as e:
        print(e, file=sys.stderr)
        return 2
    for kv in a.X:
        k, _, v = kv.partition("=")
        conf[k] = v
    deadline = time.monotonic() + a.timeout
    errors = []
    conf["error_cb"] = lambda err: errors.append(err)
    try:
        if a.produce is not None:
            client = Producer(conf)
        else:
            conf.setdefault("auto.offset.reset", "earliest")
            if a.group:
                conf["group.id"] = a.group
            client = Consumer(conf)
    except KafkaException as e:
        err = e.args[0] if e.args else e
        print(getattr(err, "str", lambda: str(err))(), file=sys.stderr)
        return 3

    def fatal():
        for err in errors:
            if err.fatal() or err.code() in (confluent_kafka.KafkaError._AUTHENTICATION,
                                             confluent_kafka.KafkaError._SSL,
                                             confluent_kafka.KafkaError._ALL_BROKERS_DOWN):
                print(f"error: {err.str()}", file=sys.stderr)
                return True
        return False

    if a.produce is not None:
        done = []

        def report(err, msg):
            if err is not None:
                print(f"delivery failed: {err.str()}", file=sys.stderr)
                done.append(False)
            else:
                print(msg.value().decode())
                done.append(True)

        for i in range(1, a.produce + 1):
            client.produce(a.topic, f"{a.prefix}{i}".encode(), callback=report)
        while len(done) < a.produce:
            client.poll(0.2)
            if fatal() or time.monotonic() > deadline:
                print(f"only {len(done)} of {a.produce} deliveries reported", file=sys.stderr)
                return 1
        client.flush(5)
        return 0 if all(done) else 1

    client.subscribe([a.topic])
    got = 0
    while got < a.consume:
        msg = client.poll(0.5)
        if fatal() or time.monotonic() > deadline:
            print(f"only {got} of {a.consume} messages", file=sys.stderr)
            return 1
        if msg is None:
            continue
        if msg.error():
            print(f"error: {msg.error().str()}", file=sys.stderr)
            return 1
        print(msg.value().decode())
        got += 1
    client.commit(asynchronous=False)
    client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
