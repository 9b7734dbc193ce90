"""The Dagster side of the Personalize import: settings from the environment at run time,
a dry run that sends nothing, and real runs against botocore's Stubber (moto has no
Personalize dataset groups, datasets or import jobs)."""

import json

import boto3
import pytest
from botocore.stub import ANY, Stubber

from personalize_assets.definitions import defs
from personalize_assets.lib.personalize_resource import PersonalizeSettings

from .conftest import csv_release_bytes, failure_messages, ratings_rows

ROLE_ARN = "arn:aws:iam::123456789012:role/PersonalizeS3Read"
ARN = "arn:aws:personalize:us-east-1:123456789012:"
GROUP_ARN = f"{ARN}dataset-group/movielens"
SCHEMA_ARNS = {t: f"{ARN}schema/movielens-{t.lower()}" for t in ("Interactions", "Items")}
DATASET_ARNS = {t: f"{ARN}dataset/movielens/{t.upper()}" for t in ("Interactions", "Items")}
JOB_ARNS = {t: f"{ARN}dataset-import-job/movielens-{t.lower()}-1" for t in ("Interactions", "Items")}
PERSONALIZE_VARIABLES = ("PERSONALIZE_ROLE_ARN", "PERSONALIZE_DATASET_GROUP", "PERSONALIZE_DOMAIN")
# Every movie has a year and there are enough ratings, so the blocking checks pass.
MOVIES = [(item, f"Film number {item} ({1950 + item})", "Drama|Comedy") for item in range(1, 21)]


@pytest.fixture
def published_csvs(loopback_site, publish_release, run_graph, s3_env, monkeypatch):
    """interactions.csv and item-meta.csv (and their schemas) on the local S3."""
    for name in PERSONALIZE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    publish_release(csv_release_bytes("ml-test", ratings=ratings_rows(users=60, items=20), movies=MOVIES))
    result = run_graph(loopback_site.base_url, variant="ml-test")
    assert result.success, failure_messages(result)
    return s3_env


def _import(instance, **resources):
    job = defs.resolve_job_def("personalize_import")
    return job.execute_in_process(instance=instance, raise_on_error=False, resources=resources or None)


def _metadata(result):
    (materialization,) = result.asset_materializations_for_node("personalize_datasets")
    return {name: value.value for name, value in materialization.metadata.items()}


# -- settings ----------------------------------------------------------------------------------

def test_unset_environment_means_a_dry_run_into_the_default_group_in_us_east_1(monkeypatch, tmp_path):
    for name in (*PERSONALIZE_VARIABLES, "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    settings = PersonalizeSettings()

    assert settings.dry_run
    assert settings.import_settings().dataset_group_name == "personalize-assets"
    assert settings.import_settings().domain is None
    assert settings.client().meta.region_name == "us-east-1"


def test_settings_are_read_from_the_environment_when_a_run_asks(monkeypatch):
    settings = PersonalizeSettings()  # created first, as when the definitions load
    monkeypatch.setenv("PERSONALIZE_ROLE_ARN", ROLE_ARN)
    monkeypatch.setenv("PERSONALIZE_DATASET_GROUP", "movielens")
    monkeypatch.setenv("PERSONALIZE_DOMAIN", "VIDEO_ON_DEMAND")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")

    resolved = settings.import_settings()
    assert not settings.dry_run
    assert resolved.role_arn == ROLE_ARN
    assert (resolved.dataset_group_name, resolved.domain) == ("movielens", "VIDEO_ON_DEMAND")
    assert settings.client().meta.region_name == "eu-west-1"
    # Fields set in code win over the environment.
    assert PersonalizeSettings(region="ap-south-1").client().meta.region_name == "ap-south-1"
    assert PersonalizeSettings(dataset_group_name="other").import_settings().dataset_group_name == "other"


# -- dry run -----------------------------------------------------------------------------------

def test_dry_run_records_the_exact_requests_and_sends_nothing(published_csvs, dagster_instance, monkeypatch):
    # Were anything sent, it would go to a port where nothing listens and the run would fail.
    monkeypatch.setenv("AWS_ENDPOINT_URL_PERSONALIZE", "http://127.0.0.1:9")

    result = _import(dagster_instance)

    assert result.success, failure_messages(result)
    metadata = _metadata(result)
    assert metadata["dry_run"] is True and metadata["dataset_group"] == "personalize-assets"
    requests = metadata["requests"]
    assert [r["operation"] for r in requests] == [
        "ListSchemas", "CreateSchema", "ListSchemas", "CreateSchema",
        "ListDatasetGroups", "CreateDatasetGroup", "DescribeDatasetGroup",
        "ListDatasets", "CreateDataset", "CreateDataset", "DescribeDataset", "DescribeDataset",
        "CreateDatasetImportJob", "CreateDatasetImportJob",
        "DescribeDatasetImportJob", "DescribeDatasetImportJob",
    ]  # fmt: skip
    assert metadata["request_count"] == len(requests)
    # The schemas sent are the very text uploaded beside the CSVs, and the jobs name their URIs.
    assert requests[1]["params"] == {
        "name": "personalize-assets-interactions", "schema": published_csvs.read("schemas/interactions.json").decode()
    }
    assert requests[3]["params"]["schema"] == published_csvs.read("schemas/items.json").decode()
    bucket_uri = f"s3://{published_csvs.bucket}/{published_csvs.prefix}"
    jobs = [r["params"] for r in requests if r["operation"] == "CreateDatasetImportJob"]
    assert [j["dataSource"]["dataLocation"] for j in jobs] == [
        f"{bucket_uri}/interactions.csv", f"{bucket_uri}/item-meta.csv"
    ]
    assert all("roleArn" not in j for j in jobs)
    assert "Dry run" in metadata["summary"] and "PERSONALIZE_ROLE_ARN" in metadata["summary"]
    logged = [e.message for e in dagster_instance.all_logs(result.run_id) if "Personalize" in (e.message or "")]
    assert logged and all(message.startswith("[dry run, not sent]") for message in logged)


def test_a_setting_personalize_would_reject_fails_the_run_saying_nothing_was_sent(
    published_csvs, dagster_instance, monkeypatch
):
    monkeypatch.setenv("PERSONALIZE_DATASET_GROUP", "movie lens")

    result = _import(dagster_instance)

    assert not result.success
    message = failure_messages(result)
    assert "'movie lens-interactions'" in message and "nothing was sent" in message
    assert not result.asset_materializations_for_node("personalize_datasets")


def test_import_needs_the_published_csvs_first(s3_env, dagster_instance, monkeypatch):
    monkeypatch.delenv("PERSONALIZE_ROLE_ARN", raising=False)

    result = _import(dagster_instance)

    assert not result.success
    assert "interactions.csv is missing; materialize interactions_csv first" in failure_messages(result)


# -- with a role ARN: the requests go out (to the Stubber) ------------------------------------

_STUBBED = {}


class StubbedPersonalize(PersonalizeSettings):
    """PersonalizeSettings whose client is the test's Stubber-wrapped one."""

    def client(self):
        return _STUBBED["client"]


@pytest.fixture
def stubbed_personalize():
    client = boto3.client("personalize", region_name="us-east-1", aws_access_key_id="AKIATEST",
                          aws_secret_access_key="not-a-secret")
    _STUBBED["client"] = client
    with Stubber(client) as stub:
        yield stub
    _STUBBED.clear()


def _schema_calls(stub, published, exist: bool):
    for dataset_type, schema_file in (("Interactions", "interactions"), ("Items", "items")):
        name, arn = f"movielens-{dataset_type.lower()}", SCHEMA_ARNS[dataset_type]
        schema = published.read(f"schemas/{schema_file}.json").decode()
        stub.add_response("list_schemas", {"schemas": [{"name": name, "schemaArn": arn}] if exist else []}, {})
        if exist:
            stub.add_response("describe_schema", {"schema": {"name": name, "schemaArn": arn, "schema": schema}},
                              {"schemaArn": arn})
        else:
            stub.add_response("create_schema", {"schemaArn": arn}, {"name": name, "schema": schema})


def _group_and_dataset_calls(stub, exist: bool):
    stub.add_response("list_dataset_groups",
                      {"datasetGroups": [{"name": "movielens", "datasetGroupArn": GROUP_ARN}] if exist else []}, {})
    if not exist:
        stub.add_response("create_dataset_group", {"datasetGroupArn": GROUP_ARN}, {"name": "movielens"})
    stub.add_response("describe_dataset_group", {"datasetGroup": {"datasetGroupArn": GROUP_ARN, "status": "ACTIVE"}},
                      {"datasetGroupArn": GROUP_ARN})
    listed = [{"datasetArn": DATASET_ARNS[t], "datasetType": t.upper()} for t in DATASET_ARNS] if exist else []
    stub.add_response("list_datasets", {"datasets": listed}, {"datasetGroupArn": GROUP_ARN})
    if not exist:
        for t in ("Interactions", "Items"):
            stub.add_response("create_dataset", {"datasetArn": DATASET_ARNS[t]},
                              {"name": f"movielens-{t.lower()}", "schemaArn": SCHEMA_ARNS[t],
                               "datasetGroupArn": GROUP_ARN, "datasetType": t})
    for t in ("Interactions", "Items"):
        stub.add_response("describe_dataset",
                          {"dataset": {"datasetArn": DATASET_ARNS[t], "schemaArn": SCHEMA_ARNS[t], "status": "ACTIVE"}},
                          {"datasetArn": DATASET_ARNS[t]})


def _create_import_job_calls(stub, published):
    uri = f"s3://{published.bucket}/{published.prefix}"
    for t, csv in (("Interactions", "interactions.csv"), ("Items", "item-meta.csv")):
        expected = {"jobName": ANY, "datasetArn": DATASET_ARNS[t], "dataSource": {"dataLocation": f"{uri}/{csv}"},
                    "importMode": "FULL", "roleArn": ROLE_ARN}
        stub.add_response("create_dataset_import_job", {"datasetImportJobArn": JOB_ARNS[t]}, expected)


def _import_job_calls(stub, published):
    _create_import_job_calls(stub, published)
    for t in ("Interactions", "Items"):
        stub.add_response("describe_dataset_import_job",
                          {"datasetImportJob": {"datasetImportJobArn": JOB_ARNS[t], "status": "ACTIVE"}},
                          {"datasetImportJobArn": JOB_ARNS[t]})


def test_with_a_role_the_first_run_creates_everything_and_a_rerun_only_imports(
    published_csvs, stubbed_personalize, dagster_instance
):
    personalize = StubbedPersonalize(role_arn=ROLE_ARN, dataset_group_name="movielens", poll_seconds=0.01)
    stub = stubbed_personalize
    _schema_calls(stub, published_csvs, exist=False)
    _group_and_dataset_calls(stub, exist=False)
    _import_job_calls(stub, published_csvs)

    first = _import(dagster_instance, personalize=personalize)
    assert first.success, failure_messages(first)
    stub.assert_no_pending_responses()

    _schema_calls(stub, published_csvs, exist=True)
    _group_and_dataset_calls(stub, exist=True)
    _import_job_calls(stub, published_csvs)

    again = _import(dagster_instance, personalize=personalize)
    assert again.success, failure_messages(again)
    stub.assert_no_pending_responses()

    first_metadata, again_metadata = _metadata(first), _metadata(again)
    assert first_metadata["dry_run"] is False and first_metadata["dataset_group_arn"] == GROUP_ARN
    assert first_metadata["import_jobs"] == JOB_ARNS == again_metadata["import_jobs"]
    assert [r["operation"] for r in first_metadata["requests"]] == (
        ["CreateSchema"] * 2 + ["CreateDatasetGroup"] + ["CreateDataset"] * 2 + ["CreateDatasetImportJob"] * 2
    )
    assert [r["operation"] for r in again_metadata["requests"]] == ["CreateDatasetImportJob"] * 2
    assert "not-a-secret" not in json.dumps(first_metadata)


def test_a_failed_import_job_fails_the_run_with_the_reason(published_csvs, stubbed_personalize, dagster_instance):
    personalize = StubbedPersonalize(role_arn=ROLE_ARN, dataset_group_name="movielens")
    stub = stubbed_personalize
    _schema_calls(stub, published_csvs, exist=True)
    _group_and_dataset_calls(stub, exist=True)
    _create_import_job_calls(stub, published_csvs)
    stub.add_response("describe_dataset_import_job",
                      {"datasetImportJob": {"datasetImportJobArn": JOB_ARNS["Interactions"], "status": "CREATE FAILED",
                                            "failureReason": "Access denied to s3 object"}},
                      {"datasetImportJobArn": JOB_ARNS["Interactions"]})

    result = _import(dagster_instance, personalize=personalize)

    assert not result.success
    stub.assert_no_pending_responses()
    message = failure_messages(result)
    assert JOB_ARNS["Interactions"] in message and "Access denied to s3 object" in message
    assert f"s3://{published_csvs.bucket}/{published_csvs.prefix}/interactions.csv" in message
