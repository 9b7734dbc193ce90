"""Every foreseeable bad input fails the run with a message naming the cause, and the
Personalize objects a good run published stay byte for byte as they were."""

import hashlib
import io
import zipfile

import uuid

import dagster as dg
import pytest

from personalize_assets.cli import JOB_NAME
from personalize_assets.definitions import defs

from .conftest import DEFAULT_MOVIES, csv_release_bytes, failure_messages, ratings_rows, serve_folder

PUBLISHED = ("interactions.csv", "item-meta.csv", "schemas/interactions.json", "schemas/items.json")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """One loopback site for the module; each test publishes the version it needs."""
    with serve_folder(tmp_path_factory.mktemp("site")) as served:
        yield served


@pytest.fixture(scope="module")
def good_prefix(local_s3, site):
    """A prefix holding the result of one good run, shared by the module's tests: every
    test here asserts that its failed run left those objects untouched."""
    prefix = f"bad-inputs-{uuid.uuid4().hex[:8]}"
    with pytest.MonkeyPatch.context() as patch, dg.instance_for_test() as instance:
        for name, value in {**local_s3.env(), "PERSONALIZE_PREFIX": prefix, "MOVIELENS_VARIANT": "ml-test",
                            "MOVIELENS_BASE_URL": site.base_url}.items():
            patch.setenv(name, value)
        site.publish(csv_release_bytes())
        result = defs.resolve_job_def(JOB_NAME).execute_in_process(instance=instance, raise_on_error=False)
        assert result.success, failure_messages(result)
    return prefix


@pytest.fixture
def good_bucket(good_prefix, site, s3_env, monkeypatch):
    """(base URL, snapshot of the published objects); the tests' runs use the shared prefix."""
    monkeypatch.setenv("PERSONALIZE_PREFIX", good_prefix)
    s3_env.prefix = good_prefix
    return site.base_url, {name: s3_env.read(name) for name in PUBLISHED}


@pytest.fixture(autouse=True)
def fresh_site_state(site):
    site.statuses.clear()
    site.requests.clear()


@pytest.fixture
def publish_release(site):
    return site.publish


@pytest.fixture
def loopback_site(site):
    return site


def assert_unchanged(s3_env, snapshot):
    for name, data in snapshot.items():
        assert s3_env.read(name) == data, f"{name} changed although the run failed"


def fails_with(result, *fragments):
    assert not result.success
    message = failure_messages(result)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in:\n{message}"
    assert "Traceback" not in message
    return message


def rebuilt_zip(data: bytes, change) -> bytes:
    """Copy a zip, letting `change(name, bytes)` return new bytes (or None to drop the member)."""
    source, target = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            new = change(info.filename, source.read(info))
            if new is not None:
                out.writestr(info.filename, new)
    return target.getvalue()


# -- the source ------------------------------------------------------------------------------

def test_unreachable_source_names_the_variable_and_url(good_bucket, run_graph, s3_env):
    _, snapshot = good_bucket
    result = run_graph("http://127.0.0.1:9/mirror/")
    fails_with(result, "MOVIELENS_BASE_URL", "http://127.0.0.1:9/mirror/ml-test.zip")
    assert_unchanged(s3_env, snapshot)


def test_missing_release_is_a_404_and_not_retried(good_bucket, run_graph, s3_env, loopback_site):
    base, snapshot = good_bucket
    result = run_graph(base, variant="ml-nonexistent")
    fails_with(result, "HTTP 404", f"{base}ml-nonexistent.zip", "MOVIELENS_VARIANT")
    assert loopback_site.gets("ml-nonexistent.zip") == [404]  # permanent: tried once
    assert_unchanged(s3_env, snapshot)


def test_server_error_is_retried_then_reported(good_bucket, run_graph, s3_env, loopback_site, publish_release):
    base, snapshot = good_bucket
    publish_release(csv_release_bytes(ratings=ratings_rows(users=61)))
    loopback_site.statuses["ml-test.zip"] = 503
    result = run_graph(base)
    fails_with(result, "HTTP 503", f"{base}ml-test.zip")
    assert loopback_site.gets("ml-test.zip")[-4:] == [503] * 4  # first try + 3 retries
    assert_unchanged(s3_env, snapshot)


@pytest.mark.parametrize("style", ["bsd", "gnu"])
def test_published_md5_is_checked_in_both_styles(run_graph, publish_release, s3_env, style):
    data = csv_release_bytes()
    digest = hashlib.md5(data).hexdigest()
    text = f"MD5 (ml-test.zip) = {digest}\n" if style == "bsd" else f"{digest}  ml-test.zip\n"
    url = publish_release(data, md5=text)
    result = run_graph(url.rsplit("/", 1)[0] + "/")
    assert result.success, failure_messages(result)
    metadata = result.asset_materializations_for_node("movielens_zip")[0].metadata
    assert metadata["published_md5"].value == digest == metadata["md5"].value


def test_md5_mismatch_publishes_nothing(good_bucket, run_graph, publish_release, s3_env):
    base, snapshot = good_bucket
    keys_before = set(s3_env.keys())
    publish_release(csv_release_bytes(ratings=ratings_rows(users=61)), md5="0" * 32 + "  ml-test.zip\n")
    result = run_graph(base)
    fails_with(result, "Checksum mismatch", "0" * 32)
    assert_unchanged(s3_env, snapshot)
    assert set(s3_env.keys()) == keys_before  # the aborted upload left no object behind


# -- the archive -----------------------------------------------------------------------------

def test_truncated_zip(good_bucket, run_graph, publish_release, s3_env):
    base, snapshot = good_bucket
    data = csv_release_bytes(ratings=ratings_rows(users=61))
    publish_release(data[: len(data) // 2])
    fails_with(run_graph(base), "ml-test.zip", "not a readable zip archive", "truncated or corrupt")
    assert_unchanged(s3_env, snapshot)


def test_corrupt_member_data(good_bucket, run_graph, publish_release, s3_env):
    base, snapshot = good_bucket
    data = bytearray(csv_release_bytes(ratings=ratings_rows(users=200)))
    info = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo("ml-test/ratings.csv")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    for offset in range(start + 100, start + 140):
        data[offset] ^= 0x5A
    publish_release(bytes(data))
    fails_with(run_graph(base), "ratings.csv", "ml-test.zip")
    assert_unchanged(s3_env, snapshot)


@pytest.mark.parametrize("missing", ["ratings.csv", "movies.csv"])
def test_missing_table(good_bucket, run_graph, publish_release, s3_env, missing):
    base, snapshot = good_bucket
    publish_release(rebuilt_zip(csv_release_bytes(), lambda name, data: None if name.endswith(missing) else data))
    fails_with(run_graph(base), f"has no {missing}", "ml-test.zip")
    assert_unchanged(s3_env, snapshot)


@pytest.mark.parametrize("member, reason", [("/tmp/evil.txt", "absolute path"), ("ml-test/../../evil.txt", "'..'")])
def test_unsafe_member_paths_reject_the_archive(good_bucket, run_graph, publish_release, s3_env, member, reason):
    base, snapshot = good_bucket
    keys_before = set(s3_env.keys())
    buffer = io.BytesIO(csv_release_bytes())
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr(zipfile.ZipInfo(member), b"x")
    publish_release(buffer.getvalue())
    fails_with(run_graph(base), "rejected", reason, member)
    assert_unchanged(s3_env, snapshot)
    assert set(s3_env.keys()) == keys_before  # the rejected archive is not kept


def test_zip_bomb_is_rejected(good_bucket, run_graph, publish_release, s3_env):
    base, snapshot = good_bucket
    bomb = csv_release_bytes(extra={"ml-test/padding.bin": b"\0" * 60_000_000})
    publish_release(bomb)
    fails_with(run_graph(base), "zip bomb", "padding.bin")
    assert_unchanged(s3_env, snapshot)


# -- the tables ------------------------------------------------------------------------------

def _ratings_text(lines):
    return "\r\n".join(lines) + "\r\n"


GOOD_RATINGS = [f"{u},{i},{r},{t}" for u, i, r, t in ratings_rows()]


@pytest.mark.parametrize(
    "ratings_text, fragments",
    [
        (_ratings_text(["user,movieId,rating,timestamp", *GOOD_RATINGS]), ["ratings.csv", "line 1", "userId"]),
        (_ratings_text(["userId,movieId,timestamp", *GOOD_RATINGS]), ["ratings.csv", "line 1", "rating"]),
        (_ratings_text(["userId,movieId,rating,timestamp", *GOOD_RATINGS[:3], "1,7,abc,1000000000", *GOOD_RATINGS[3:]]),
         ["ratings.csv", "line 5", "column 3 (rating)", "'abc'"]),
        (_ratings_text(["userId,movieId,rating,timestamp", *GOOD_RATINGS[:9], "2,8,4.0,2018-09-24", *GOOD_RATINGS[9:]]),
         ["ratings.csv", "line 11", "column 4 (timestamp)", "'2018-09-24'"]),
        (_ratings_text(["userId,movieId,rating,timestamp", *GOOD_RATINGS[:20], "3,9,4.0", *GOOD_RATINGS[20:]]),
         ["ratings.csv", "line 22", "expected 4 fields"]),
        ("", ["ratings.csv", "empty"]),
    ],
    ids=["wrong-header", "missing-column", "text-in-number", "date-string", "short-line", "empty-file"],
)
def test_bad_ratings_file(good_bucket, run_graph, publish_release, s3_env, ratings_text, fragments):
    base, snapshot = good_bucket
    publish_release(csv_release_bytes(ratings_text=ratings_text))
    fails_with(run_graph(base), *fragments)
    assert_unchanged(s3_env, snapshot)


def _movies_text(lines):
    return "\r\n".join(["movieId,title,genres", *lines]) + "\r\n"


GOOD_MOVIES = [f"{m},{t},{g}" for m, t, g in DEFAULT_MOVIES]


def test_unclosed_quote_in_movies(good_bucket, run_graph, publish_release, s3_env):
    base, snapshot = good_bucket
    lines = [*GOOD_MOVIES[:6], '7,"Unclosed title (1999),Drama', *GOOD_MOVIES[7:]]
    publish_release(csv_release_bytes(movies_text=_movies_text(lines)))
    fails_with(run_graph(base), "movies.csv", "line 8", "malformed CSV")
    assert_unchanged(s3_env, snapshot)


def test_non_utf8_movies(good_bucket, run_graph, publish_release, s3_env):
    base, snapshot = good_bucket
    text = _movies_text([*GOOD_MOVIES[:2], "3,Caf\udce9 (1994),Drama", *GOOD_MOVIES[3:]])
    data = rebuilt_zip(csv_release_bytes(), lambda name, body: text.encode("utf-8", "surrogateescape")
                       if name.endswith("movies.csv") else body)
    publish_release(data)
    fails_with(run_graph(base), "movies.csv", "line 4", "not valid utf-8")
    assert_unchanged(s3_env, snapshot)


# -- blocking checks -------------------------------------------------------------------------

def test_duplicate_item_ids_block_publishing(good_bucket, run_graph, publish_release, s3_env):
    base, snapshot = good_bucket
    movies = [*DEFAULT_MOVIES, (7, "Duplicate Seven (2001)", "Drama")]
    publish_release(csv_release_bytes(movies=movies))
    result = run_graph(base)
    fails_with(result, "items_unique_ids")
    evaluation = next(e for e in result.get_asset_check_evaluations() if e.check_name == "items_unique_ids")
    assert evaluation.passed is False and evaluation.metadata["repeated_ids"].value == 1
    assert_unchanged(s3_env, snapshot)


def test_millisecond_timestamps_block_publishing(good_bucket, run_graph, publish_release, s3_env):
    base, snapshot = good_bucket
    rows = [(u, i, r, t * 1000) for u, i, r, t in ratings_rows()]
    publish_release(csv_release_bytes(ratings=rows))
    result = run_graph(base)
    fails_with(result, "interactions_timestamps_epoch_seconds")
    evaluation = next(e for e in result.get_asset_check_evaluations()
                      if e.check_name == "interactions_timestamps_epoch_seconds")
    assert "milliseconds" in evaluation.description
    assert_unchanged(s3_env, snapshot)


def test_too_little_data_blocks_publishing(good_bucket, run_graph, publish_release, s3_env):
    base, snapshot = good_bucket
    publish_release(csv_release_bytes(ratings=ratings_rows(users=20, items=5)))
    result = run_graph(base)
    fails_with(result, "interactions_personalize_minimums")
    assert_unchanged(s3_env, snapshot)


# -- S3 --------------------------------------------------------------------------------------

def test_wrong_secret_key_is_reported_without_the_secret(good_bucket, run_graph, s3_env, dagster_instance):
    base, snapshot = good_bucket
    wrong = "not-the-right-secret-0123456789"
    result = run_graph(base, AWS_SECRET_ACCESS_KEY=wrong)
    message = fails_with(result, "AWS_SECRET_ACCESS_KEY")
    assert wrong not in message
    logs = "".join(str(entry) for entry in dagster_instance.all_logs(result.run_id))
    assert wrong not in logs
    assert_unchanged(s3_env, snapshot)


def test_missing_bucket(good_bucket, run_graph, s3_env):
    base, snapshot = good_bucket
    result = run_graph(base, PERSONALIZE_BUCKET="no-such-bucket-here")
    fails_with(result, "bucket does not exist", "PERSONALIZE_BUCKET")
    assert_unchanged(s3_env, snapshot)


def test_s3_down(good_bucket, run_graph, s3_env):
    base, snapshot = good_bucket
    result = run_graph(base, AWS_ENDPOINT_URL_S3="http://127.0.0.1:9")
    fails_with(result, "unreachable", "http://127.0.0.1:9")
    assert_unchanged(s3_env, snapshot)
