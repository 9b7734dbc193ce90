"""The two sensors, evaluated tick by tick with build_sensor_context / instance_for_test:
the Personalize import sensor on the published CSVs, and the MovieLens release sensor
against a loopback HTTP site."""

import json
import os
import socket
import time

import dagster as dg
import pytest

from personalize_assets.definitions import defs
from personalize_assets.defs.sensors import PUBLISHED_CSVS, movielens_release_sensor, personalize_import_sensor
from personalize_assets.lib.download import Validators
from personalize_assets.lib.movielens_source import MovieLensSource
from personalize_assets.lib.release_watch import ReleaseCursor, check_release, poll_interval_seconds, seconds_until_due

from .conftest import csv_release_bytes, failure_messages, ratings_rows

MOVIES = [(item, f"Film number {item} ({1950 + item})", "Drama|Comedy") for item in range(1, 21)]


def _release_bytes() -> bytes:
    # Every movie has a year and there are enough ratings, so the blocking checks pass.
    return csv_release_bytes("ml-test", ratings=ratings_rows(users=60, items=20), movies=MOVIES)


# -- personalize_import_sensor -------------------------------------------------------------

def _import_tick(instance, cursor=None):
    context = dg.build_multi_asset_sensor_context(
        monitored_assets=PUBLISHED_CSVS, instance=instance, definitions=defs, cursor=cursor
    )
    return personalize_import_sensor.evaluate_tick(context)


def _publish(instance, *names):
    for name in names:
        instance.report_runless_asset_event(dg.AssetMaterialization(name))


def test_import_sensor_is_running_by_default_and_targets_the_import_job():
    assert personalize_import_sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert personalize_import_sensor.job_name == "personalize_import"
    assert personalize_import_sensor.minimum_interval_seconds <= 15
    assert "PERSONALIZE_ROLE_ARN" in personalize_import_sensor.description


def test_import_sensor_fires_once_when_both_csvs_are_new():
    with dg.instance_for_test() as instance:
        nothing = _import_tick(instance)
        assert not nothing.run_requests
        assert nothing.skip_message == "Waiting for a new materialization of interactions_csv and items_csv."

        _publish(instance, "interactions_csv")
        half = _import_tick(instance, nothing.cursor)
        assert not half.run_requests
        assert "Waiting for a new materialization of items_csv" in half.skip_message
        assert "new since the last import: interactions_csv" in half.skip_message

        _publish(instance, "items_csv")
        both = _import_tick(instance, half.cursor)
        assert len(both.run_requests) == 1

        # The cursor moved past both: nothing more until both are published again.
        after = _import_tick(instance, both.cursor)
        assert not after.run_requests and "interactions_csv and items_csv" in after.skip_message
        _publish(instance, "items_csv", "interactions_csv", "items_csv")
        again = _import_tick(instance, after.cursor)
        assert len(again.run_requests) == 1
        assert again.run_requests[0].run_key != both.run_requests[0].run_key


def test_import_sensor_run_after_the_main_job_imports_its_csvs(loopback_site, publish_release, run_graph,
                                                                dagster_instance, monkeypatch):
    monkeypatch.delenv("PERSONALIZE_ROLE_ARN", raising=False)
    publish_release(_release_bytes())
    published = run_graph(loopback_site.base_url, variant="ml-test")
    assert published.success, failure_messages(published)

    tick = _import_tick(dagster_instance)

    (request,) = tick.run_requests
    assert request.tags["personalize_assets/interactions_csv_run"] == published.run_id
    assert request.tags["personalize_assets/items_csv_run"] == published.run_id
    imported = defs.resolve_job_def("personalize_import").execute_in_process(
        instance=dagster_instance, tags=request.tags, raise_on_error=False
    )
    assert imported.success, failure_messages(imported)
    (materialization,) = imported.asset_materializations_for_node("personalize_datasets")
    assert materialization.metadata["dry_run"].value is True
    assert not _import_tick(dagster_instance, tick.cursor).run_requests


def test_import_sensor_skips_csvs_whose_run_failed_and_moves_on(loopback_site, publish_release, s3_env,
                                                                 dagster_instance, monkeypatch):
    # Everything at once, as `dagster asset materialize --select '*'` does; the import step
    # fails (a group name Personalize refuses) after both CSVs were published.
    for name, value in (("MOVIELENS_BASE_URL", loopback_site.base_url), ("MOVIELENS_VARIANT", "ml-test"),
                        ("PERSONALIZE_DATASET_GROUP", "movie lens")):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("PERSONALIZE_ROLE_ARN", raising=False)
    publish_release(_release_bytes())
    failed = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=dagster_instance, raise_on_error=False
    )
    assert not failed.success and "nothing was sent" in failure_messages(failed)
    published = {event.asset_key.to_user_string() for event in failed.get_asset_materialization_events()}
    assert {"interactions_csv", "items_csv"} <= published

    tick = _import_tick(dagster_instance)

    assert not tick.run_requests
    assert tick.skip_message == (
        f"Run {failed.run_id} (__ASSET_JOB), which published the CSVs, ended FAILURE, so they are not "
        "imported. Once the cause is fixed, materialize them again."
    )
    after = _import_tick(dagster_instance, tick.cursor)
    assert after.skip_message == "Waiting for a new materialization of interactions_csv and items_csv."


# -- movielens_release_sensor -----------------------------------------------------------------

def _release_tick(instance, base_url, cursor=None, variant="ml-test"):
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor,
        resources={"movielens": MovieLensSource(base_url=base_url, variant=variant)},
    )
    return movielens_release_sensor.evaluate_tick(context)


def _heads(site):
    return [(path, status) for method, path, status in site.requests if method == "HEAD"]


def _gets(site):
    return [path for method, path, _ in site.requests if method == "GET"]


def _touch_later(path, seconds=30):
    """A new version of the file on the site, with a later Last-Modified."""
    stamp = os.stat(path).st_mtime + seconds
    os.utime(path, (stamp, stamp))


def test_release_sensor_is_stopped_by_default_and_targets_the_main_job():
    assert movielens_release_sensor.default_status == dg.DefaultSensorStatus.STOPPED
    assert movielens_release_sensor.job_name == "movielens_to_personalize"
    assert "Stopped by default" in movielens_release_sensor.description


def test_first_check_without_an_archive_requests_the_download_with_a_head_request(loopback_site, publish_release,
                                                                                   dagster_instance):
    url = publish_release(_release_bytes())

    tick = _release_tick(dagster_instance, loopback_site.base_url)

    (request,) = tick.run_requests
    assert request.run_config == {"ops": {"movielens_zip": {"config": {"variant": "ml-test"}}}}
    assert dg.validate_run_config(defs.resolve_job_def("movielens_to_personalize"), request.run_config)
    assert request.tags["personalize_assets/release_url"] == url
    assert _heads(loopback_site) == [("/ml-test.zip", 200)] and _gets(loopback_site) == []
    cursor = ReleaseCursor.parse(tick.cursor)
    published_at = os.stat(loopback_site.root / "ml-test.zip").st_mtime
    last_modified = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(published_at))
    assert cursor.url == url and cursor.last_modified == last_modified
    assert abs(cursor.checked_at - time.time()) < 60


def test_first_check_after_the_same_release_was_materialized_skips(loopback_site, publish_release, run_graph,
                                                                   dagster_instance):
    publish_release(_release_bytes())
    assert run_graph(loopback_site.base_url, variant="ml-test").success

    tick = _release_tick(dagster_instance, loopback_site.base_url)

    assert not tick.run_requests
    url = f"{loopback_site.base_url}ml-test.zip"
    assert tick.skip_message.startswith(f"{url} is the same release as in the stored archive")
    assert ReleaseCursor.parse(tick.cursor) is not None


def test_release_sensor_waits_for_its_interval_then_requests_a_refresh_when_the_release_changed(
    loopback_site, publish_release, dagster_instance, monkeypatch
):
    monkeypatch.setenv("MOVIELENS_RELEASE_POLL_SECONDS", "600")
    publish_release(_release_bytes())
    first = _release_tick(dagster_instance, loopback_site.base_url)
    assert len(first.run_requests) == 1

    early = _release_tick(dagster_instance, loopback_site.base_url, first.cursor)
    assert not early.run_requests and early.skip_message.startswith("Next check of")
    assert "MOVIELENS_RELEASE_POLL_SECONDS=600" in early.skip_message
    assert len(_heads(loopback_site)) == 1  # no request before the interval is over

    saved = json.loads(first.cursor)
    due = json.dumps({**saved, "checked_at": saved["checked_at"] - 601})
    unchanged = _release_tick(dagster_instance, loopback_site.base_url, due)
    assert not unchanged.run_requests
    assert "ml-test.zip is the same release as at the last check (" in unchanged.skip_message
    assert ReleaseCursor.parse(unchanged.cursor).checked_at > saved["checked_at"]

    _touch_later(loopback_site.root / "ml-test.zip")
    saved = json.loads(unchanged.cursor)
    changed = _release_tick(dagster_instance, loopback_site.base_url,
                            json.dumps({**saved, "checked_at": saved["checked_at"] - 601}))
    (request,) = changed.run_requests
    assert request.run_key != first.run_requests[0].run_key
    assert ReleaseCursor.parse(changed.cursor).last_modified != saved["last_modified"]
    assert _gets(loopback_site) == []  # the sensor never downloads


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_source_is_a_skipped_tick_with_the_reason_and_the_cursor_kept(dagster_instance):
    base_url = f"http://127.0.0.1:{_closed_port()}/"
    previous = ReleaseCursor(f"{base_url}ml-test.zip", None, "Mon, 01 Jan 2024 00:00:00 GMT", 0.0).serialize()

    tick = _release_tick(dagster_instance, base_url, previous)

    assert not tick.run_requests
    assert tick.skip_message.startswith("Could not check for a new release: Cannot reach")
    assert f"{base_url}ml-test.zip" in tick.skip_message
    assert tick.cursor == previous


def test_missing_release_is_a_skipped_tick_naming_the_variant(loopback_site, dagster_instance):
    tick = _release_tick(dagster_instance, loopback_site.base_url, variant="ml-nonexistent")

    assert not tick.run_requests
    assert "HTTP 404" in tick.skip_message and "ml-nonexistent.zip" in tick.skip_message
    assert "MOVIELENS_VARIANT" in tick.skip_message
    assert tick.cursor is None


def test_a_synthetic_release_has_nothing_to_watch(loopback_site, dagster_instance):
    tick = _release_tick(dagster_instance, loopback_site.base_url, variant="synthetic")

    assert not tick.run_requests and tick.cursor is None
    assert tick.skip_message.startswith("MOVIELENS_VARIANT is synthetic")
    assert loopback_site.requests == []


def test_a_bad_poll_interval_is_refused_with_what_to_set(monkeypatch):
    monkeypatch.setenv("MOVIELENS_RELEASE_POLL_SECONDS", "hourly")
    with pytest.raises(ValueError, match=r"MOVIELENS_RELEASE_POLL_SECONDS is 'hourly'; set it to a positive number"):
        poll_interval_seconds()
    monkeypatch.setenv("MOVIELENS_RELEASE_POLL_SECONDS", "0")
    with pytest.raises(ValueError, match="positive"):
        poll_interval_seconds()
    monkeypatch.delenv("MOVIELENS_RELEASE_POLL_SECONDS")
    assert poll_interval_seconds() == 3600


# -- the cursor logic, without Dagster --------------------------------------------------------

URL = "https://files.example/ml-latest-small.zip"


def test_unreadable_cursor_counts_as_a_first_tick():
    assert ReleaseCursor.parse(None) is None
    assert ReleaseCursor.parse("") is None
    assert ReleaseCursor.parse("not json") is None
    assert ReleaseCursor.parse('{"url": "x"}') is None
    cursor = ReleaseCursor(URL, '"abc"', None, 12.5)
    assert ReleaseCursor.parse(cursor.serialize()) == cursor


def test_a_probe_is_due_at_once_for_a_new_url_and_after_the_interval_otherwise():
    cursor = ReleaseCursor(URL, '"abc"', None, 1000.0)
    assert seconds_until_due(None, URL, 1000.0, 60) == 0
    assert seconds_until_due(cursor, URL.replace("small", "32m"), 1001.0, 60) == 0
    assert seconds_until_due(cursor, URL, 1010.0, 60) == 50
    assert seconds_until_due(cursor, URL, 1070.0, 60) == 0


def test_etag_decides_when_both_sides_have_one_else_last_modified():
    previous = ReleaseCursor(URL, '"v1"', "Mon, 01 Jan 2024 00:00:00 GMT", 0.0)
    assert not check_release(URL, Validators('"v1"', "Tue, 02 Jan 2024 00:00:00 GMT"), previous, None, 5.0).changed
    assert check_release(URL, Validators('"v2"', "Mon, 01 Jan 2024 00:00:00 GMT"), previous, None, 5.0).changed
    no_etag = ReleaseCursor(URL, None, "Mon, 01 Jan 2024 00:00:00 GMT", 0.0)
    assert check_release(URL, Validators(None, "Tue, 02 Jan 2024 00:00:00 GMT"), no_etag, None, 5.0).changed


def test_the_cursor_wins_over_the_stored_archive_and_another_url_falls_back_to_it():
    stored = Validators('"stored"', None)
    previous = ReleaseCursor(URL, '"seen"', None, 0.0)
    assert not check_release(URL, Validators('"seen"'), previous, stored, 5.0).changed
    other = ReleaseCursor("https://files.example/ml-32m.zip", '"seen"', None, 0.0)
    assert not check_release(URL, Validators('"stored"'), other, stored, 5.0).changed
    assert check_release(URL, Validators('"new"'), other, None, 5.0).changed


def test_a_source_without_validators_never_requests_a_run():
    check = check_release(URL, Validators(None, None), None, None, 5.0)
    assert not check.changed
    assert "without ETag or Last-Modified" in check.reason and "materialize movielens_zip by hand" in check.reason
