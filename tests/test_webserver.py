"""The Dagster UI as users get it: `dagster dev -w workspace.yaml` started for real with a
temporary DAGSTER_HOME and the local S3, queried through its GraphQL API; then a
materialization from the command line, which the running asset sensor follows with a
Personalize import run (a dry run: nothing reaches AWS)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import PROJECT_ROOT, csv_release_bytes, ratings_rows

LOCATION = "personalize_assets.definitions"
DATA_ASSETS = ["movielens_zip", "ratings", "movies", "interactions_df", "items_df", "interactions_csv", "items_csv"]
LINEAGE = {
    "movielens_zip": [],
    "ratings": ["movielens_zip"],
    "movies": ["movielens_zip"],
    "interactions_df": ["ratings"],
    "items_df": ["movies"],
    "interactions_csv": ["interactions_df"],
    "items_csv": ["items_df"],
    "personalize_datasets": ["interactions_csv", "items_csv"],
}
# Every movie has a year and there are enough ratings, so the blocking checks pass.
MOVIES = [(item, f"Film number {item} ({1950 + item})", "Drama|Comedy") for item in range(1, 21)]
# Variables of the developer's shell that would change what the processes do.
CLEARED = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "PERSONALIZE_ROLE_ARN",
           "PERSONALIZE_DATASET_GROUP", "PERSONALIZE_DOMAIN", "MOVIELENS_BASE_URL", "MOVIELENS_VARIANT",
           "MOVIELENS_RELEASE_POLL_SECONDS")


@dataclass
class DagsterDev:
    url: str
    env: dict
    home: Path
    workdir: Path
    output: Path

    def graphql(self, query: str, **variables) -> dict:
        body = json.dumps({"query": query, "variables": variables}).encode()
        request = urllib.request.Request(f"{self.url}/graphql", data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.loads(response.read())
        assert "errors" not in answer, answer["errors"]
        return answer["data"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop(process: subprocess.Popen) -> None:
    """Stop dagster dev and everything it started (its own process group)."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)  # what Ctrl+C sends: a clean shutdown of its children
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=10)


WORKSPACE_LOADED = """
{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus
    locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""


@pytest.fixture(scope="module")
def dagster_dev(local_s3, tmp_path_factory):
    """`dagster dev -w workspace.yaml` on a free loopback port, its own DAGSTER_HOME, the
    local S3, and a Personalize endpoint where nothing listens (a dry run sends nothing)."""
    home = tmp_path_factory.mktemp("dagster_home")
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    # A working folder of its own: dagster dev reads a .env from where it starts.
    workdir = tmp_path_factory.mktemp("dagster_dev_cwd")
    env = {name: value for name, value in os.environ.items() if name not in CLEARED}
    env.update(local_s3.env())
    env.update(
        DAGSTER_HOME=str(home),
        PERSONALIZE_PREFIX=f"webserver-{uuid.uuid4().hex[:12]}",
        AWS_ENDPOINT_URL_PERSONALIZE="http://127.0.0.1:9",
        PYTHONUNBUFFERED="1",
    )
    # The release sensor, when started, asks a port where nothing listens: never the internet.
    env["MOVIELENS_BASE_URL"] = f"http://127.0.0.1:{_free_port()}/"
    port = _free_port()
    output = home / "dagster-dev.log"
    with open(output, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "dagster", "dev", "-w", str(PROJECT_ROOT / "workspace.yaml"),
             "-h", "127.0.0.1", "-p", str(port)],
            cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    dev = DagsterDev(f"http://127.0.0.1:{port}", env, home, workdir, output)
    try:
        _wait_until_loaded(dev, process, timeout=120)
        yield dev
    finally:
        _stop(process)


def _wait_until_loaded(dev: DagsterDev, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"dagster dev exited:\n{dev.output.read_text()[-3000:]}"
        try:
            with urllib.request.urlopen(f"{dev.url}/server_info", timeout=5):
                pass
            (entry,) = dev.graphql(WORKSPACE_LOADED)["workspaceOrError"]["locationEntries"]
            if entry["loadStatus"] == "LOADED":
                assert entry["locationOrLoadError"]["__typename"] == "RepositoryLocation", entry
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(1)
    pytest.fail(f"dagster dev did not load {LOCATION} within {timeout:.0f} s:\n{dev.output.read_text()[-3000:]}")


ASSETS = """
{ assetNodes { assetKey { path } groupName description
    dependencyKeys { path }
    assetChecksOrError { ... on AssetChecks { checks { name description blocking } } } } }
"""

SENSORS = """
query Sensors($location: String!) {
  sensorsOrError(repositorySelector: {repositoryLocationName: $location, repositoryName: "__repository__"}) {
    ... on Sensors { results { name description sensorType minIntervalSeconds
        targets { pipelineName } sensorState { status } } } } }
"""

JOBS = """
query Jobs($location: String!) {
  repositoryOrError(repositorySelector: {repositoryLocationName: $location, repositoryName: "__repository__"}) {
    ... on Repository { jobs { name description } } } }
"""

RUNS = """
query Runs($job: String!) {
  runsOrError(filter: {pipelineName: $job}) {
    ... on Runs { results { runId status startTime endTime tags { key value } } } } }
"""

IMPORTS = """
{ assetNodes(assetKeys: [{path: ["personalize_datasets"]}]) {
    assetMaterializations(limit: 5) { runId
      metadataEntries { label ... on BoolMetadataEntry { boolValue } } } } }
"""


def test_the_graph_is_grouped_with_its_lineage_and_descriptions(dagster_dev):
    nodes = {tuple(n["assetKey"]["path"]): n for n in dagster_dev.graphql(ASSETS)["assetNodes"]}

    assert set(LINEAGE) == {key[-1] for key in nodes}
    for name, upstream in LINEAGE.items():
        assert sorted(d["path"][-1] for d in nodes[(name,)]["dependencyKeys"]) == sorted(upstream), name
    groups = {name: nodes[(name,)]["groupName"] for name in LINEAGE}
    assert groups == {
        "movielens_zip": "source", "ratings": "source", "movies": "source",
        "interactions_df": "transform", "items_df": "transform",
        "interactions_csv": "publish", "items_csv": "publish", "personalize_datasets": "personalize",
    }  # fmt: skip
    assert all(node["description"] for node in nodes.values())


def test_every_check_is_listed_with_a_description(dagster_dev):
    from personalize_assets.definitions import defs

    nodes = dagster_dev.graphql(ASSETS)["assetNodes"]
    checks = [check for node in nodes for check in node["assetChecksOrError"]["checks"]]
    expected = {key.name for key in defs.resolve_asset_graph().asset_check_keys}

    assert len(checks) >= 4
    assert {check["name"] for check in checks} == expected
    assert all(check["description"] for check in checks)


def test_both_sensors_and_jobs_are_listed_the_import_sensor_running(dagster_dev):
    sensors = {s["name"]: s for s in dagster_dev.graphql(SENSORS, location=LOCATION)["sensorsOrError"]["results"]}
    jobs = {j["name"]: j for j in dagster_dev.graphql(JOBS, location=LOCATION)["repositoryOrError"]["jobs"]}

    assert set(sensors) == {"personalize_import_sensor", "movielens_release_sensor"}
    asset_sensor = sensors["personalize_import_sensor"]
    assert asset_sensor["sensorState"]["status"] == "RUNNING"
    assert asset_sensor["sensorType"] == "MULTI_ASSET"
    assert [t["pipelineName"] for t in asset_sensor["targets"]] == ["personalize_import"]
    release_sensor = sensors["movielens_release_sensor"]
    assert release_sensor["sensorState"]["status"] == "STOPPED"
    assert [t["pipelineName"] for t in release_sensor["targets"]] == ["movielens_to_personalize"]
    assert all(sensor["description"] for sensor in sensors.values())
    assert jobs["movielens_to_personalize"]["description"] and jobs["personalize_import"]["description"]


def test_our_code_loads_without_warnings(dagster_dev):
    ours = re.compile(rf"{re.escape(str(PROJECT_ROOT / 'personalize_assets'))}\S*:\d+: \w*Warning")
    assert not ours.findall(dagster_dev.output.read_text())


START_SENSOR = """
mutation Start($location: String!, $sensor: String!) {
  startSensor(sensorSelector: {repositoryLocationName: $location, repositoryName: "__repository__",
                               sensorName: $sensor}) {
    __typename ... on Sensor { sensorState { status } } ... on PythonError { message } } }
"""

SENSOR_TICKS = """
query Ticks($location: String!, $sensor: String!) {
  sensorOrError(sensorSelector: {repositoryLocationName: $location, repositoryName: "__repository__",
                                 sensorName: $sensor}) {
    ... on Sensor { sensorState { status ticks(limit: 5) { status skipReason error { message } } } } } }
"""


def test_started_release_sensor_skips_an_unreachable_source_with_the_reason(dagster_dev):
    started = dagster_dev.graphql(START_SENSOR, location=LOCATION, sensor="movielens_release_sensor")["startSensor"]
    assert started["sensorState"]["status"] == "RUNNING", started

    deadline, ticks = time.monotonic() + 120, []
    while time.monotonic() < deadline and not ticks:
        state = dagster_dev.graphql(SENSOR_TICKS, location=LOCATION, sensor="movielens_release_sensor")
        # A tick being evaluated is listed as STARTED until it has its outcome.
        ticks = [t for t in state["sensorOrError"]["sensorState"]["ticks"] if t["status"] != "STARTED"]
        time.sleep(1)
    assert ticks, f"the daemon finished no tick within 120 s:\n{dagster_dev.output.read_text()[-3000:]}"
    (tick, *_) = ticks
    assert tick["status"] == "SKIPPED", tick
    source = dagster_dev.env["MOVIELENS_BASE_URL"] + "ml-latest-small.zip"
    assert tick["skipReason"].startswith(f"Could not check for a new release: Cannot reach {source}")


def _runs(dev: DagsterDev, job: str) -> list[dict]:
    runs = dev.graphql(RUNS, job=job)["runsOrError"]["results"]
    return [dict(run, tags={t["key"]: t["value"] for t in run["tags"]}) for run in runs]


def test_a_command_line_materialization_makes_the_sensor_run_the_import(dagster_dev, loopback_site, publish_release):
    publish_release(csv_release_bytes("ml-test", ratings=ratings_rows(users=60, items=20), movies=MOVIES))
    env = dict(dagster_dev.env, MOVIELENS_BASE_URL=loopback_site.base_url, MOVIELENS_VARIANT="ml-test")

    cli = subprocess.run(
        [sys.executable, "-m", "dagster", "asset", "materialize", "-m", LOCATION, "--select", "*"],
        cwd=dagster_dev.workdir, env=env, capture_output=True, text=True, timeout=300,
    )
    assert cli.returncode == 0, cli.stdout[-3000:] + cli.stderr[-3000:]

    (cli_run,) = _runs(dagster_dev, "__ASSET_JOB")
    assert cli_run["status"] == "SUCCESS"
    deadline = time.monotonic() + 120
    imports = []
    while time.monotonic() < deadline:
        imports = [run for run in _runs(dagster_dev, "personalize_import")
                   if run["tags"].get("dagster/sensor_name") == "personalize_import_sensor"]
        if imports and imports[0]["status"] in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        time.sleep(2)
    assert imports, f"the sensor launched no run within 120 s:\n{dagster_dev.output.read_text()[-3000:]}"
    (sensor_run,) = imports
    assert sensor_run["status"] == "SUCCESS", dagster_dev.output.read_text()[-3000:]
    assert sensor_run["tags"]["personalize_assets/interactions_csv_run"] == cli_run["runId"]
    assert sensor_run["tags"]["personalize_assets/items_csv_run"] == cli_run["runId"]
    # Only once the publishing run (and the CSVs' blocking checks in it) had succeeded.
    assert sensor_run["startTime"] >= cli_run["endTime"]

    (node,) = dagster_dev.graphql(IMPORTS)["assetNodes"]
    by_run = {m["runId"]: {e["label"]: e.get("boolValue") for e in m["metadataEntries"]}
              for m in node["assetMaterializations"]}
    # Both the command line run (its selection includes the import) and the sensor's imported.
    assert set(by_run) == {cli_run["runId"], sensor_run["runId"]}
    assert by_run[sensor_run["runId"]]["dry_run"] is True
