"""Tests for the Personalize control-plane import: schema calls against moto's Personalize,
the rest (which moto does not implement) against botocore's Stubber, which checks every
request against the service model and fails on any call not expected in that order."""

import json
from datetime import datetime, timezone

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from personalize_assets.lib.personalize_import import (
    DatasetToImport,
    ImportSettings,
    PersonalizeImportError,
    PersonalizeRequests,
    ensure_schema,
    import_into_personalize,
)

REGION = "eu-west-1"
SECRET = "not-a-real-secret-key"
ARN = f"arn:aws:personalize:{REGION}:123456789012:"
ROLE_ARN = "arn:aws:iam::123456789012:role/PersonalizeS3Read"
NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
STAMP = "20240501T120000Z"


def _avro(name, fields):
    return json.dumps(
        {
            "type": "record",
            "name": name,
            "namespace": "com.amazonaws.personalize.schema",
            "fields": [{"name": n, "type": t} for n, t in fields],
            "version": "1.0",
        }
    )


INTERACTIONS_SCHEMA = _avro("Interactions", [("USER_ID", "string"), ("ITEM_ID", "string"), ("TIMESTAMP", "long")])
ITEMS_SCHEMA = _avro("Items", [("ITEM_ID", "string"), ("GENRES", "string")])
DATASETS = [
    DatasetToImport("Interactions", INTERACTIONS_SCHEMA, "s3://ml-bucket/ml-latest-small/interactions.csv"),
    DatasetToImport("Items", ITEMS_SCHEMA, "s3://ml-bucket/ml-latest-small/items.csv"),
]
GROUP_ARN = f"{ARN}dataset-group/movielens"
SCHEMA_ARNS = {"Interactions": f"{ARN}schema/movielens-interactions", "Items": f"{ARN}schema/movielens-items"}
DATASET_ARNS = {"Interactions": f"{ARN}dataset/movielens/INTERACTIONS", "Items": f"{ARN}dataset/movielens/ITEMS"}
JOB_ARNS = {t: f"{ARN}dataset-import-job/movielens-{t.lower()}-{STAMP}" for t in ("Interactions", "Items")}


def _client(**kwargs):
    return boto3.client(
        "personalize",
        region_name=REGION,
        aws_access_key_id="AKIATESTKEY",
        aws_secret_access_key=SECRET,
        **kwargs,
    )


class _Sleeps(list):
    """A sleep that records how long it was asked to wait, instead of waiting."""

    def __call__(self, seconds):
        self.append(seconds)


def _settings(**overrides):
    return ImportSettings(**{"dataset_group_name": "movielens", "role_arn": ROLE_ARN, "poll_seconds": 10.0, **overrides})


def _run(client, settings, sleeps=None):
    return import_into_personalize(client, DATASETS, settings, sleep=_Sleeps() if sleeps is None else sleeps, now=lambda: NOW)


def _operations(result_or_requests):
    requests = getattr(result_or_requests, "requests", result_or_requests)
    return [r["operation"] for r in requests]


# --- schemas against moto's Personalize ------------------------------------------------


@mock_aws
def test_ensure_schema_creates_once_then_reuses_an_equal_schema():
    client = _client()
    first = PersonalizeRequests(client, dry_run=False)
    created = ensure_schema(first, "movielens-interactions", INTERACTIONS_SCHEMA)

    # The same fields, formatted differently, are the same schema.
    again = PersonalizeRequests(client, dry_run=False)
    reused = ensure_schema(again, "movielens-interactions", json.dumps(json.loads(INTERACTIONS_SCHEMA), indent=2))

    assert reused == created == f"arn:aws:personalize:{REGION}:123456789012:schema/movielens-interactions"
    assert _operations(first) == ["ListSchemas", "CreateSchema"]
    assert _operations(again) == ["ListSchemas", "DescribeSchema"]
    assert [s["name"] for s in client.list_schemas()["schemas"]] == ["movielens-interactions"]


@mock_aws
def test_ensure_schema_refuses_an_existing_schema_with_other_fields_and_leaves_it_alone():
    client = _client()
    arn = ensure_schema(PersonalizeRequests(client, dry_run=False), "movielens-items", ITEMS_SCHEMA)
    changed = _avro("Items", [("ITEM_ID", "string"), ("GENRES", "string"), ("YEAR", "int")])

    with pytest.raises(PersonalizeImportError) as error:
        ensure_schema(PersonalizeRequests(client, dry_run=False), "movielens-items", changed)

    message = str(error.value)
    assert "'movielens-items'" in message and arn in message
    assert "cannot be changed" in message and "movielens-v2" in message
    assert json.loads(client.describe_schema(schemaArn=arn)["schema"]["schema"]) == json.loads(ITEMS_SCHEMA)


@mock_aws
def test_ensure_schema_refuses_an_existing_schema_of_another_domain():
    client = _client()
    ensure_schema(PersonalizeRequests(client, dry_run=False), "movielens-items", ITEMS_SCHEMA)

    with pytest.raises(PersonalizeImportError, match="'VIDEO_ON_DEMAND'"):
        ensure_schema(PersonalizeRequests(client, dry_run=False), "movielens-items", ITEMS_SCHEMA, "VIDEO_ON_DEMAND")


def test_ensure_schema_reuses_a_schema_created_concurrently_after_listing():
    client = _client()
    with Stubber(client) as stub:
        stub.add_response("list_schemas", {"schemas": []}, {})
        stub.add_client_error(
            "create_schema", "ResourceAlreadyExistsException",
            expected_params={"name": "movielens-items", "schema": ITEMS_SCHEMA},
        )
        stub.add_response("list_schemas", {"schemas": [{"name": "movielens-items", "schemaArn": SCHEMA_ARNS["Items"]}]}, {})
        stub.add_response(
            "describe_schema", {"schema": {"name": "movielens-items", "schemaArn": SCHEMA_ARNS["Items"], "schema": ITEMS_SCHEMA}},
            {"schemaArn": SCHEMA_ARNS["Items"]},
        )
        assert ensure_schema(PersonalizeRequests(client, dry_run=False), "movielens-items", ITEMS_SCHEMA) == SCHEMA_ARNS["Items"]
        stub.assert_no_pending_responses()


# --- the whole flow against the Stubber -----------------------------------------------


def _stub_group_and_datasets_exist(stub, interactions_schema_arn=SCHEMA_ARNS["Interactions"]):
    """The responses of a second run up to the import jobs: everything already exists."""
    # Schemas are listed over two pages, to exercise nextToken.
    for dataset_type, schema in (("Interactions", INTERACTIONS_SCHEMA), ("Items", ITEMS_SCHEMA)):
        arn, name = SCHEMA_ARNS[dataset_type], f"movielens-{dataset_type.lower()}"
        stub.add_response("list_schemas", {"schemas": [{"name": "other", "schemaArn": f"{ARN}schema/other"}], "nextToken": "p2"}, {})
        stub.add_response("list_schemas", {"schemas": [{"name": name, "schemaArn": arn}]}, {"nextToken": "p2"})
        pretty = json.dumps(json.loads(schema), indent=2)
        stub.add_response("describe_schema", {"schema": {"name": name, "schemaArn": arn, "schema": pretty}}, {"schemaArn": arn})
    stub.add_response("list_dataset_groups", {"datasetGroups": [{"name": "movielens", "datasetGroupArn": GROUP_ARN}]}, {})
    stub.add_response(
        "describe_dataset_group",
        {"datasetGroup": {"name": "movielens", "datasetGroupArn": GROUP_ARN, "status": "ACTIVE"}},
        {"datasetGroupArn": GROUP_ARN},
    )
    stub.add_response(
        "list_datasets",
        {"datasets": [{"datasetArn": DATASET_ARNS[t], "datasetType": t.upper()} for t in ("Interactions", "Items")]},
        {"datasetGroupArn": GROUP_ARN},
    )
    _stub_describe_dataset(stub, "Interactions", "ACTIVE", interactions_schema_arn)
    _stub_describe_dataset(stub, "Items", "ACTIVE")


def _stub_describe_dataset(stub, dataset_type, status, schema_arn=None):
    schema_arn = schema_arn or SCHEMA_ARNS[dataset_type]
    stub.add_response(
        "describe_dataset",
        {"dataset": {"datasetArn": DATASET_ARNS[dataset_type], "schemaArn": schema_arn, "status": status}},
        {"datasetArn": DATASET_ARNS[dataset_type]},
    )


def _stub_create_jobs(stub, import_mode="FULL"):
    for dataset in DATASETS:
        t = dataset.dataset_type
        params = {
            "jobName": f"movielens-{t.lower()}-{STAMP}",
            "datasetArn": DATASET_ARNS[t],
            "dataSource": {"dataLocation": dataset.s3_uri},
            "importMode": import_mode,
            "roleArn": ROLE_ARN,
        }
        stub.add_response("create_dataset_import_job", {"datasetImportJobArn": JOB_ARNS[t]}, params)


def _stub_describe_job(stub, dataset_type, status, **extra):
    job = {"datasetImportJobArn": JOB_ARNS[dataset_type], "status": status, **extra}
    stub.add_response("describe_dataset_import_job", {"datasetImportJob": job}, {"datasetImportJobArn": JOB_ARNS[dataset_type]})


def test_first_run_creates_schemas_group_datasets_and_import_jobs_in_order():
    client, sleeps = _client(), _Sleeps()
    with Stubber(client) as stub:
        for dataset in DATASETS:
            name = f"movielens-{dataset.dataset_type.lower()}"
            stub.add_response("list_schemas", {"schemas": []}, {})
            stub.add_response(
                "create_schema", {"schemaArn": SCHEMA_ARNS[dataset.dataset_type]}, {"name": name, "schema": dataset.schema_json}
            )
        stub.add_response("list_dataset_groups", {"datasetGroups": []}, {})
        stub.add_response("create_dataset_group", {"datasetGroupArn": GROUP_ARN}, {"name": "movielens"})
        for status in ("CREATE PENDING", "ACTIVE"):
            stub.add_response(
                "describe_dataset_group", {"datasetGroup": {"datasetGroupArn": GROUP_ARN, "status": status}}, {"datasetGroupArn": GROUP_ARN}
            )
        stub.add_response("list_datasets", {"datasets": []}, {"datasetGroupArn": GROUP_ARN})
        for t in ("Interactions", "Items"):
            params = {"name": f"movielens-{t.lower()}", "schemaArn": SCHEMA_ARNS[t], "datasetGroupArn": GROUP_ARN, "datasetType": t}
            stub.add_response("create_dataset", {"datasetArn": DATASET_ARNS[t]}, params)
        for t in ("Interactions", "Items"):
            _stub_describe_dataset(stub, t, "ACTIVE")
        _stub_create_jobs(stub)
        _stub_describe_job(stub, "Interactions", "CREATE IN_PROGRESS")
        _stub_describe_job(stub, "Interactions", "ACTIVE")
        _stub_describe_job(stub, "Items", "ACTIVE")

        result = _run(client, _settings(), sleeps)
        stub.assert_no_pending_responses()

    assert not result.dry_run
    assert result.dataset_group_arn == GROUP_ARN
    assert result.schema_arns == SCHEMA_ARNS and result.dataset_arns == DATASET_ARNS and result.import_job_arns == JOB_ARNS
    assert set(result.statuses.values()) == {"ACTIVE"} and JOB_ARNS["Items"] in result.statuses
    assert sleeps == [10.0, 10.0]  # once for the pending group, once for the running job
    metadata = result.as_metadata()
    assert json.loads(json.dumps(metadata)) == metadata
    assert metadata["request_count"] == len(result.requests) == 18
    assert [r["operation"] for r in metadata["create_requests"]] == (
        ["CreateSchema"] * 2 + ["CreateDatasetGroup"] + ["CreateDataset"] * 2 + ["CreateDatasetImportJob"] * 2
    )
    assert SECRET not in json.dumps(metadata) and "AKIATESTKEY" not in json.dumps(metadata)


def test_second_run_reuses_everything_and_only_starts_import_jobs():
    client = _client()
    with Stubber(client) as stub:
        _stub_group_and_datasets_exist(stub)
        _stub_create_jobs(stub, import_mode="INCREMENTAL")
        _stub_describe_job(stub, "Interactions", "ACTIVE")
        _stub_describe_job(stub, "Items", "ACTIVE")

        result = _run(client, _settings(import_mode="INCREMENTAL"))
        stub.assert_no_pending_responses()

    creates = [op for op in _operations(result) if op.startswith("Create")]
    assert creates == ["CreateDatasetImportJob", "CreateDatasetImportJob"]
    assert result.dataset_arns == DATASET_ARNS and result.schema_arns == SCHEMA_ARNS


def test_existing_dataset_with_another_schema_is_refused_before_any_import():
    client = _client()
    old_schema = f"{ARN}schema/movielens-interactions-old"
    with Stubber(client) as stub:
        _stub_group_and_datasets_exist(stub, interactions_schema_arn=old_schema)
        # No import job is stubbed: starting one would fail with a Stubber error instead.

        with pytest.raises(PersonalizeImportError) as error:
            _run(client, _settings())

    message = str(error.value)
    assert DATASET_ARNS["Interactions"] in message and old_schema in message
    assert "cannot change" in message and "dataset_group_name" in message


def test_failed_import_job_reports_the_reason_and_the_csv():
    client = _client()
    with Stubber(client) as stub:
        _stub_group_and_datasets_exist(stub)
        _stub_create_jobs(stub)
        _stub_describe_job(stub, "Interactions", "CREATE FAILED", failureReason="Column USER_ID is missing")

        with pytest.raises(PersonalizeImportError) as error:
            _run(client, _settings())
        stub.assert_no_pending_responses()

    message = str(error.value)
    assert JOB_ARNS["Interactions"] in message and "CREATE FAILED" in message
    assert "Column USER_ID is missing" in message and DATASETS[0].s3_uri in message


def _stub_schemas_exist(stub):
    """Both schemas are found on the first page, equal to ours."""
    for dataset in DATASETS:
        arn, name = SCHEMA_ARNS[dataset.dataset_type], f"movielens-{dataset.dataset_type.lower()}"
        stub.add_response("list_schemas", {"schemas": [{"name": name, "schemaArn": arn}]}, {})
        stub.add_response("describe_schema", {"schema": {"schemaArn": arn, "schema": dataset.schema_json}}, {"schemaArn": arn})


def test_failed_dataset_group_reports_the_reason():
    client = _client()
    with Stubber(client) as stub:
        _stub_schemas_exist(stub)
        stub.add_response("list_dataset_groups", {"datasetGroups": [{"name": "movielens", "datasetGroupArn": GROUP_ARN}]}, {})
        group = {"datasetGroupArn": GROUP_ARN, "status": "CREATE FAILED", "failureReason": "KMS key not usable"}
        stub.add_response("describe_dataset_group", {"datasetGroup": group}, {"datasetGroupArn": GROUP_ARN})

        with pytest.raises(PersonalizeImportError, match="KMS key not usable") as error:
            _run(client, _settings())
        stub.assert_no_pending_responses()
    assert GROUP_ARN in str(error.value) and "Delete it" in str(error.value)


def test_import_job_that_never_finishes_times_out_naming_the_job_and_its_status():
    client, sleeps = _client(), _Sleeps()
    with Stubber(client) as stub:
        _stub_group_and_datasets_exist(stub)
        _stub_create_jobs(stub)
        for _ in range(4):  # at 0, 10, 20 and 25 seconds
            _stub_describe_job(stub, "Interactions", "CREATE IN_PROGRESS")

        with pytest.raises(PersonalizeImportError) as error:
            _run(client, _settings(max_wait_seconds=25.0), sleeps)
        stub.assert_no_pending_responses()

    assert sleeps == [10.0, 10.0, 5.0]
    message = str(error.value)
    assert JOB_ARNS["Interactions"] in message and "still CREATE IN_PROGRESS after 25 s" in message


def test_quota_errors_say_which_resource_and_what_to_do():
    client = _client()
    with Stubber(client) as stub:
        _stub_schemas_exist(stub)
        stub.add_response("list_dataset_groups", {"datasetGroups": []}, {})
        stub.add_client_error("create_dataset_group", "LimitExceededException", "5 dataset groups at most")

        with pytest.raises(PersonalizeImportError) as error:
            _run(client, _settings())
        stub.assert_no_pending_responses()

    message = str(error.value)
    assert "CreateDatasetGroup" in message and "'movielens'" in message
    assert "5 dataset groups at most" in message and "quota" in message


# --- dry run ---------------------------------------------------------------------------


def _offline_client():
    # Nothing listens on port 9, and a Stubber without responses fails any call that gets that far.
    client = _client(endpoint_url="http://127.0.0.1:9")
    stub = Stubber(client)
    stub.activate()
    return client


def test_dry_run_sends_nothing_and_plans_a_fresh_account_in_order():
    result = _run(_offline_client(), _settings(role_arn=None, domain="VIDEO_ON_DEMAND"))

    placeholder = f"arn:aws:personalize:{REGION}:<account>:"
    assert result.dry_run
    assert _operations(result) == [
        "ListSchemas", "CreateSchema", "ListSchemas", "CreateSchema",
        "ListDatasetGroups", "CreateDatasetGroup", "DescribeDatasetGroup",
        "ListDatasets", "CreateDataset", "CreateDataset", "DescribeDataset", "DescribeDataset",
        "CreateDatasetImportJob", "CreateDatasetImportJob",
        "DescribeDatasetImportJob", "DescribeDatasetImportJob",
    ]  # fmt: skip
    assert result.requests[1]["params"] == {"name": "movielens-interactions", "schema": INTERACTIONS_SCHEMA, "domain": "VIDEO_ON_DEMAND"}
    assert result.requests[5]["params"] == {"name": "movielens", "domain": "VIDEO_ON_DEMAND"}
    assert result.dataset_group_arn == f"{placeholder}dataset-group/movielens"
    assert result.requests[8]["params"]["schemaArn"] == f"{placeholder}schema/movielens-interactions"
    assert result.dataset_arns["Items"] == f"{placeholder}dataset/movielens/ITEMS"
    assert result.requests[13]["params"] == {
        "jobName": f"movielens-items-{STAMP}",
        "datasetArn": f"{placeholder}dataset/movielens/ITEMS",
        "dataSource": {"dataLocation": "s3://ml-bucket/ml-latest-small/items.csv"},
        "importMode": "FULL",
    }
    assert result.as_metadata()["dry_run"] is True


@pytest.mark.parametrize(
    ("overrides", "datasets", "expected"),
    [
        ({"import_mode": "REPLACE"}, DATASETS, "importMode is 'REPLACE', not one of FULL, INCREMENTAL"),
        ({"dataset_group_name": "movie lens"}, DATASETS, "CreateSchema.name is 'movie lens-interactions'"),
        ({"domain": "MUSIC"}, DATASETS, "CreateSchema.domain is 'MUSIC'"),
        ({}, [DatasetToImport("Items", ITEMS_SCHEMA, "ml-bucket/items.csv")], "dataLocation is 'ml-bucket/items.csv'"),
    ],
    ids=["bad-import-mode", "bad-name", "bad-domain", "s3-uri-without-scheme"],
)
def test_dry_run_rejects_a_request_the_service_model_forbids(overrides, datasets, expected):
    with pytest.raises(PersonalizeImportError) as error:
        import_into_personalize(_offline_client(), datasets, _settings(role_arn=None, **overrides), now=lambda: NOW)
    assert expected in str(error.value) and "nothing was sent" in str(error.value)


def test_schema_text_that_is_not_json_is_refused_before_any_request():
    broken = [DatasetToImport("Items", '{"type": "record",', "s3://ml-bucket/items.csv")]
    with pytest.raises(PersonalizeImportError, match=r"Items schema \(for s3://ml-bucket/items.csv\) is not valid JSON"):
        import_into_personalize(_offline_client(), broken, _settings(role_arn=None))
