"""Kafka 4.1 (KRaft) through Debian's kcat/librdkafka 2.0.2: lz4 and a consumer group."""

import glob
import os
import re
import uuid


def kcat(stack, *args, **kw):
    return stack.run([*stack.kcat_args(), *args], **kw)


def test_configured_topics_exist(stack):
    meta = kcat(stack, "-L").stdout
    assert re.search(r"^ *1 brokers:", meta, re.M)
    for key, topic in stack.cfg.items():
        m = re.fullmatch(r"US_KAFKA_TOPIC_([A-Z0-9_]+)", key)
        if not m:
            continue
        parts = int(stack.cfg.get(f"US_KAFKA_{m.group(1)}_PARTITIONS", "1"))
        assert re.search(rf'topic "{re.escape(topic)}" with {parts} partitions', meta), topic


def test_produce_lz4_and_consume_in_a_group(stack):
    topic = f"it-smoke-{uuid.uuid4().hex[:8]}"
    stack.us("kafka-topics", "--create", "--topic", topic, "--partitions", "2")
    # compressible values: librdkafka sends a batch uncompressed when lz4 would not shrink it
    sent = {f"k{i}": f"value-{i}-" + "userstream " * 40 for i in range(200)}
    payload = "".join(f"{k}\t{v}\n" for k, v in sent.items())
    p = kcat(stack, "-P", "-t", topic, "-z", "lz4", "-K", "\t", "-X", "debug=feature", input=payload)
    for feature in ("MsgVer2", "LZ4", "IdempotentProducer", "BrokerBalancedConsumer"):
        assert f"Enabling feature {feature}" in p.stderr, feature

    group = f"it-group-{uuid.uuid4().hex[:8]}"
    consume = ["-C", "-G", group, "-X", "auto.offset.reset=earliest", "-f", "%k\t%s\n", "-e", topic]
    got = kcat(stack, *consume, "-c", str(len(sent)), timeout=120).stdout
    received = dict(line.split("\t", 1) for line in got.splitlines() if line)
    assert received == sent

    # the group committed its offsets: a second member of it gets nothing more
    again = kcat(stack, *consume, timeout=120).stdout
    assert again.strip() == ""

    # the broker stored lz4-compressed batches (the codec librdkafka used)
    logs = glob.glob(os.path.join(stack["US_HOME"], "kafka", "data", f"{topic}-*", "*.log"))
    assert len(logs) == 2
    dump = stack.us("kafka-run", "kafka.tools.DumpLogSegments", "--files", ",".join(logs)).stdout
    codecs = set(re.findall(r"compresscodec: (\w+)", dump))
    assert codecs == {"lz4"}, dump[-2000:]
    stack.us("kafka-topics", "--delete", "--topic", topic)
