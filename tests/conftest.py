"""Shared test fixtures: a real SeaweedFS S3, a loopback HTTP server, MovieLens-format zips."""

from __future__ import annotations

import contextlib
import http.server
import io
import os
import shutil
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from personalize_assets.lib.local_s3 import start_local_s3, stop_local_s3

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_MOVIELENS = PROJECT_ROOT.parent / "shared" / "movielens"
REAL_SMALL_RELEASE = SHARED_MOVIELENS / "ml-latest-small.zip"


# -- S3 ---------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def local_s3(tmp_path_factory):
    """One real SeaweedFS server (weed mini) for the whole test session."""
    server = start_local_s3(tmp_path_factory.mktemp("seaweedfs"), bucket="test-bucket")
    yield server
    stop_local_s3(server)


@pytest.fixture
def s3_env(local_s3, monkeypatch):
    """Standard AWS variables pointing at the local S3, and a fresh key prefix per test."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in local_s3.env().items():
        monkeypatch.setenv(name, value)
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("PERSONALIZE_PREFIX", prefix)
    return S3Env(local_s3.client(), local_s3.bucket, prefix)


@dataclass
class S3Env:
    client: object
    bucket: str
    prefix: str

    def keys(self) -> dict[str, int]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix + "/")
        return {item["Key"][len(self.prefix) + 1:]: item["Size"] for page in pages for item in page.get("Contents", [])}

    def read(self, name: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=f"{self.prefix}/{name}")["Body"].read()

    def snapshot(self) -> dict[str, bytes]:
        return {name: self.read(name) for name in self.keys()}


# -- HTTP ------------------------------------------------------------------------------------

@dataclass
class LoopbackSite:
    """A folder served over http://127.0.0.1, with a log of the requests it answered."""

    root: Path
    base_url: str
    requests: list = field(default_factory=list)
    statuses: dict = field(default_factory=dict)  # file name -> HTTP error status to answer with
    versions: int = 0

    def publish(self, data: bytes, variant: str = "ml-test", md5: str | None = None) -> str:
        """Serve `data` as <variant>.zip (and `md5` as <variant>.zip.md5); returns its URL."""
        path = self.root / f"{variant}.zip"
        path.write_bytes(data)
        # Last-Modified has one-second resolution: give each new version a later one.
        self.versions += 1
        stamp = time.time() + 10 * self.versions
        os.utime(path, (stamp, stamp))
        md5_path = self.root / f"{variant}.zip.md5"
        if md5 is not None:
            md5_path.write_text(md5)
        elif md5_path.exists():
            md5_path.unlink()
        return f"{self.base_url}{variant}.zip"

    def gets(self, name: str) -> list[int]:
        return [status for method, path, status in self.requests if method == "GET" and path.endswith("/" + name)]


def _handler_for(site: LoopbackSite):
    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(site.root), **kwargs)

        def send_head(self):
            forced = site.statuses.get(self.path.rsplit("/", 1)[-1])
            if forced:
                self.send_error(forced)
                return None
            return super().send_head()

        def log_request(self, code="-", size="-"):
            site.requests.append((self.command, self.path, int(code) if str(code).isdigit() else code))

        def log_message(self, *args):
            pass

    return Handler


@contextlib.contextmanager
def serve_folder(root: Path):
    """An HTTP server on 127.0.0.1 serving `root` (Last-Modified / If-Modified-Since)."""
    site = LoopbackSite(root, "")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(site))
    site.base_url = f"http://127.0.0.1:{server.server_address[1]}/"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def loopback_site(tmp_path):
    root = tmp_path / "site"
    root.mkdir()
    with serve_folder(root) as site:
        yield site


@pytest.fixture
def real_small_release(loopback_site):
    """The real GroupLens ml-latest-small, served over loopback; skipped without ../shared."""
    if not REAL_SMALL_RELEASE.exists():
        pytest.skip(f"{REAL_SMALL_RELEASE} is absent (a fresh clone has no ../shared)")
    shutil.copy(REAL_SMALL_RELEASE, loopback_site.root / "ml-latest-small.zip")
    return loopback_site


# -- MovieLens-format archives built by the tests ------------------------------------------

TRICKY_MOVIES = [
    (1, "Toy Story (1995)", "Adventure|Animation|Children|Comedy|Fantasy"),
    (2, '"Jumanji, The Game (1995)"', "Adventure|Children|Fantasy"),
    (3, "Death Note: Desu nôto (2006–2007)", "Animation|Mystery"),
    (4, "Babylon 5", "Sci-Fi"),
    (5, '"Movie with ""quotes"" (2001)"', "(no genres listed)"),
]
# 120 movies, one without a year (under the 1% threshold), the rest plain.
DEFAULT_MOVIES = TRICKY_MOVIES + [
    (item, f"Film number {item} ({1950 + item % 60})", "Drama|IMAX" if item % 7 == 0 else "Comedy")
    for item in range(6, 121)
]


def ratings_rows(users: int = 60, items: int = 20, start: int = 1_000_000_000) -> list[tuple]:
    """users x items ratings: every user rates every item once, a minute apart."""
    return [
        (user, item, 0.5 + ((user + item) % 10) * 0.5, start + user * 3600 + item * 60)
        for user in range(1, users + 1)
        for item in range(1, items + 1)
    ]


def csv_release_bytes(variant: str = "ml-test", ratings=None, movies=None, *, ratings_text: str | None = None,
                      movies_text: str | None = None, readme: str | None = "Test release README", extra=None,
                      line_end: str = "\r\n") -> bytes:
    """A zip laid out like GroupLens's CSV releases: <variant>/ratings.csv, movies.csv, README.txt."""
    if ratings_text is None:
        rows = ratings if ratings is not None else ratings_rows()
        ratings_text = line_end.join(["userId,movieId,rating,timestamp", *(f"{u},{i},{r},{t}" for u, i, r, t in rows)]) + line_end
    if movies_text is None:
        rows = movies if movies is not None else DEFAULT_MOVIES
        movies_text = line_end.join(["movieId,title,genres", *(f"{m},{t},{g}" for m, t, g in rows)]) + line_end
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{variant}/ratings.csv", ratings_text)
        archive.writestr(f"{variant}/movies.csv", movies_text)
        if readme is not None:
            archive.writestr(f"{variant}/README.txt", readme)
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture
def publish_release(loopback_site):
    """Put a release zip (bytes) on the loopback site as <variant>.zip; returns its URL."""
    return loopback_site.publish


# -- running the graph ----------------------------------------------------------------------

@pytest.fixture
def dagster_instance():
    import dagster as dg

    with dg.instance_for_test() as instance:
        yield instance


@pytest.fixture
def run_graph(s3_env, monkeypatch, dagster_instance):
    """Run the main job in-process against the local S3; returns the ExecuteInProcessResult."""
    from personalize_assets.cli import JOB_NAME
    from personalize_assets.definitions import defs

    def run(base_url: str, variant: str = "ml-test", **env):
        monkeypatch.setenv("MOVIELENS_BASE_URL", base_url)
        monkeypatch.setenv("MOVIELENS_VARIANT", variant)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        job = defs.resolve_job_def(JOB_NAME)
        return job.execute_in_process(instance=dagster_instance, raise_on_error=False)

    return run


def failure_messages(result) -> str:
    """Every step failure's message, joined (what a user sees in the run summary)."""
    from personalize_assets.lib.failures import failure_text

    return "\n".join(
        failure_text(event.step_failure_data.error) for event in result.all_events if event.is_step_failure
    )
