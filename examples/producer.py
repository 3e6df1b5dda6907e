#!/usr/bin/python3
"""producer.py — an unmodified confluent-kafka-python producer.

    producer.py PROPERTIES TOPIC MESSAGE

No TLS code: everything, the kafka-mtls plugin included, comes from the
properties file (conf/kafka-client.properties, or a Java client's properties
with "plugin.library.paths=libkafka-mtls" as its first line). "key=value"
lines; "#"/"!" comment lines and blank lines are skipped; whitespace around
keys and values is trimmed. Exit status: 0 delivered, 1 failure, 2 usage.

Uses Debian's python3-confluent-kafka (hence /usr/bin/python3).
"""
import sys

from confluent_kafka import KafkaException, Producer


def read_properties(path):
    conf = {}  # dicts keep insertion order: properties apply in file order
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line or line[0] in "#!":
                continue
            key, sep, value = line.partition("=")
            if not sep or not key.strip():
                raise ValueError(f"{path}:{lineno}: expected key=value")
            conf[key.strip()] = value.strip()
    return conf


def main(argv):
    if len(argv) != 4:
        print(f"usage: {argv[0]} PROPERTIES TOPIC MESSAGE", file=sys.stderr)
        return 2
    path, topic, message = argv[1:]
    try:
        conf = read_properties(path)
    except (OSError, ValueError) as e:
        print(f"producer.py: {e}", file=sys.stderr)
        return 1

    # A bad property or a key source that cannot be used (missing volume,
    # not ready, wrong password, ...) fails here, with librdkafka's text.
    try:
        producer = Producer(conf)
    except KafkaException as e:
        err = e.args[0] if e.args else e
        print(f"producer.py: cannot create the producer: {getattr(err, 'str', err.__str__)()}",
              file=sys.stderr)
        return 1

    results = []

    def on_delivery(err, msg):
        results.append(err)
        if err is not None:
            print(f"producer.py: delivery failed: {err.str()}", file=sys.stderr)
        else:
            print(f"delivered to {msg.topic()} [{msg.partition()}] at offset {msg.offset()}: "
                  f"{msg.value().decode('utf-8', 'replace')}")

    try:
        producer.produce(topic, message.encode("utf-8"), on_delivery=on_delivery)
    except (KafkaException, BufferError) as e:
        print(f"producer.py: produce failed: {e}", file=sys.stderr)
        return 1
    left = producer.flush(30)
    if left:
        print(f"producer.py: flush: {left} message(s) undelivered after 30 s", file=sys.stderr)
    return 0 if results == [None] and not left else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
