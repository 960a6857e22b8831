"""transform.signups_per_minute as a real streaming query (file source,
availableNow): event-time minutes, replays counted once, write timestamps."""

import json

from userstream_spark import transform as tr

SCHEMA = "user_id string, lsn decimal(20,0), event_time timestamp, country_code string, version long"


def run(spark, tmp_path, batches, watermark="2 minutes"):
    src = tmp_path / "in"
    src.mkdir()
    for i, rows in enumerate(batches):
        with open(src / f"b{i:03d}.json", "w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
    out = []
    events = spark.readStream.schema(SCHEMA).option("maxFilesPerTrigger", 1).json(str(src))
    q = (
        tr.signups_per_minute(events, watermark)
        .writeStream.outputMode("update")
        .option("checkpointLocation", str(tmp_path / "chk"))
        .foreachBatch(lambda df, _id: out.extend(r.asDict() for r in df.collect()))
        .trigger(availableNow=True)
        .start()
    )
    q.awaitTermination()
    latest = {}
    for r in out:  # what Cassandra keeps: per key, the highest write timestamp
        k = (str(r["day"]), r["minute"].strftime("%H:%M"), r["country_code"])
        if k not in latest or r["writetime"] >= latest[k][1]:
            latest[k] = (r["signups"], r["writetime"])
    return latest


def ev(uid, lsn, t, cc, version):
    return {"user_id": uid, "lsn": lsn, "event_time": f"2026-11-24T10:{t}Z", "country_code": cc, "version": version}


def test_counts_per_country_minute_with_replays(spark, tmp_path):
    b1 = [ev("u1", 100, "00:05", "FR", 1), ev("u2", 100, "00:30", "FR", 2), ev("u3", 101, "00:59", "DE", 3)]
    b2 = [ev("u1", 100, "00:05", "FR", 1),  # a replay of the same change: not counted again
          ev("u4", 102, "01:10", "FR", 4), ev("u5", 103, "00:40", "FR", 5)]  # fmt: skip
    got = run(spark, tmp_path, [b1, b2])
    assert got == {
        ("2026-11-24", "10:00", "FR"): (3, 5),
        ("2026-11-24", "10:00", "DE"): (1, 3),
        ("2026-11-24", "10:01", "FR"): (1, 4),
    }


def test_re_signup_after_delete_counts_again(spark, tmp_path):
    got = run(spark, tmp_path, [[ev("u1", 100, "00:05", "FR", 1)], [ev("u1", 200, "00:50", "FR", 9)]])
    assert got == {("2026-11-24", "10:00", "FR"): (2, 9)}
