"""job.kill_point, the test-only fault injection: harmless unless asked for."""

import pytest

from userstream_spark import job


def test_does_nothing_without_the_variable(monkeypatch):
    monkeypatch.delenv(job.KILL_AT_ENV, raising=False)
    for point in job.KILL_POINTS:
        job.kill_point(point)  # still alive


def test_other_points_and_earlier_passes_do_not_fire(monkeypatch, tmp_path):
    monkeypatch.setenv("US_HOME", str(tmp_path))
    monkeypatch.setenv(job.KILL_AT_ENV, "batch-end@3")
    monkeypatch.setattr(job, "_kill_seen", {})
    job.kill_point("signups-after-write")
    job.kill_point("batch-end")
    job.kill_point("batch-end")  # the 2nd time: fires on the 3rd only
    assert not (tmp_path / "test-kills.log").exists()


def test_an_unknown_point_is_an_error(monkeypatch):
    monkeypatch.setenv(job.KILL_AT_ENV, "somewhere")
    with pytest.raises(ValueError, match="must be one of"):
        job.kill_point("batch-end")
