"""Bring an Amazon Personalize dataset group to the state where the current CSVs on S3
are imported: schemas, dataset group and datasets are created or reused, then one
import job per dataset is started and waited for.

Public API:
    import_into_personalize(client, datasets, settings, log=None, *, sleep=time.sleep,
                            now=<UTC now>) -> ImportResult
    DatasetToImport(dataset_type, schema_json, s3_uri)
    ImportSettings(dataset_group_name, role_arn, domain=None, name_prefix=None,
                   import_mode="FULL", poll_seconds=15.0, max_wait_seconds=3600.0)
    ImportResult(...).as_metadata() -> JSON-serialisable dict for Dagster metadata
    ensure_schema(requests, name, schema_json, domain=None, log=None) -> schema ARN
        (one step, given a PersonalizeRequests(client, dry_run))
    PersonalizeImportError: the only error raised for foreseeable failures.

`settings.role_arn=None` is a dry run: nothing is sent; the result lists the requests a
fresh account would receive (placeholder ARNs, every resource ACTIVE at once), each
checked against the botocore service model.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterator

from botocore.exceptions import ClientError

from personalize_assets.lib.personalize_requests import PersonalizeImportError, PersonalizeRequests

__all__ = [
    "DatasetToImport",
    "ImportResult",
    "ImportSettings",
    "PersonalizeImportError",
    "PersonalizeRequests",
    "ensure_schema",
    "import_into_personalize",
]

_ALREADY_EXISTS = ("ResourceAlreadyExistsException",)


@dataclass(frozen=True)
class DatasetToImport:
    dataset_type: str  # "Interactions" or "Items"
    schema_json: str  # Avro schema JSON text, as uploaded beside the CSV
    s3_uri: str  # s3://bucket/prefix/interactions.csv


@dataclass(frozen=True)
class ImportSettings:
    dataset_group_name: str
    role_arn: str | None  # IAM role Personalize assumes to read the bucket; None -> dry run
    domain: str | None = None  # VIDEO_ON_DEMAND / ECOMMERCE; None -> custom dataset group
    name_prefix: str | None = None  # for schema, dataset and job names; default: group name
    import_mode: str = "FULL"  # or INCREMENTAL
    poll_seconds: float = 15.0
    max_wait_seconds: float = 3600.0

    @property
    def prefix(self) -> str:
        return self.name_prefix or self.dataset_group_name


@dataclass(frozen=True)
class ImportResult:
    dry_run: bool
    requests: list[dict[str, Any]]  # every request sent (or planned), in order
    dataset_group_arn: str
    schema_arns: dict[str, str] = field(default_factory=dict)  # dataset type -> ARN
    dataset_arns: dict[str, str] = field(default_factory=dict)
    import_job_arns: dict[str, str] = field(default_factory=dict)
    statuses: dict[str, str] = field(default_factory=dict)  # ARN -> last status seen

    def as_metadata(self) -> dict[str, Any]:
        """The result for Dagster metadata. Polling makes `requests` long, so only the
        requests that change something (Create*) are listed, plus the total count."""
        metadata = asdict(self)
        metadata["request_count"] = len(metadata.pop("requests"))
        metadata["create_requests"] = [r for r in self.requests if r["operation"].startswith("Create")]
        return json.loads(json.dumps(metadata))


def import_into_personalize(
    client: Any,
    datasets: list[DatasetToImport],
    settings: ImportSettings,
    log: Any = None,
    *,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
) -> ImportResult:
    """Import each dataset's CSV into the dataset group `settings.dataset_group_name`.

    `client` is a boto3 `personalize` client; a dry run uses only its service model and
    region. `log` is anything with `.info` (a logger, Dagster's `context.log`)."""
    log = log or logging.getLogger(__name__)
    types = [d.dataset_type for d in datasets]
    if not datasets or len(set(types)) != len(types):
        raise PersonalizeImportError(
            f"Expected one DatasetToImport per dataset type, got {types}: pass each type "
            "(e.g. Interactions, Items) exactly once."
        )
    for dataset in datasets:
        try:
            json.loads(dataset.schema_json)
        except ValueError as error:
            raise PersonalizeImportError(
                f"The {dataset.dataset_type} schema (for {dataset.s3_uri}) is not valid JSON: "
                f"{error}. Pass the Avro schema text uploaded beside the CSV."
            ) from None
    requests = PersonalizeRequests(client, dry_run=settings.role_arn is None)
    wait = _Waiter(requests, settings, sleep, log)
    schema_arns = {
        d.dataset_type: ensure_schema(requests, _name(settings, d.dataset_type), d.schema_json, settings.domain, log)
        for d in datasets
    }
    group_arn = _ensure_dataset_group(requests, settings, wait, log)
    dataset_arns = _ensure_datasets(requests, group_arn, schema_arns, settings, wait, log)

    stamp = now().astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    job_arns = {}
    for dataset in datasets:
        job_name = f"{_name(settings, dataset.dataset_type)}-{stamp}"
        params = {
            "jobName": job_name,
            "datasetArn": dataset_arns[dataset.dataset_type],
            "dataSource": {"dataLocation": dataset.s3_uri},
            "importMode": settings.import_mode,
        }
        if settings.role_arn is not None:
            params["roleArn"] = settings.role_arn
        response = requests.call("create_dataset_import_job", f"import job {job_name!r}", **params)
        job_arns[dataset.dataset_type] = response["datasetImportJobArn"]
        log.info(f"Started Personalize import job {job_name} for {dataset.s3_uri}")
    for dataset in datasets:
        wait(
            "describe_dataset_import_job",
            "datasetImportJobArn",
            job_arns[dataset.dataset_type],
            f"{dataset.dataset_type} import job",
            f"Check that {dataset.s3_uri} matches its schema and that the role can read it.",
        )
    return ImportResult(
        dry_run=requests.dry_run,
        requests=requests.requests,
        dataset_group_arn=group_arn,
        schema_arns=schema_arns,
        dataset_arns=dataset_arns,
        import_job_arns=job_arns,
        statuses=wait.statuses,
    )


def ensure_schema(
    requests: PersonalizeRequests, name: str, schema_json: str, domain: str | None = None, log: Any = None
) -> str:
    """The ARN of schema `name`, created if missing. Schemas are immutable, so an existing
    schema with other fields (or another domain) is an error rather than reused."""
    log = log or logging.getLogger(__name__)
    schema_arn = _arn_of_named(requests, "list_schemas", "schemas", name)
    if schema_arn is None:
        params = {"name": name, "schema": schema_json, **({"domain": domain} if domain else {})}
        try:
            schema_arn = requests.call("create_schema", f"schema {name!r}", _ALREADY_EXISTS, **params)["schemaArn"]
            log.info(f"Created Personalize schema {name}")
            return schema_arn
        except ClientError:
            # Created by someone else since we listed; compare it like any existing one.
            schema_arn = _arn_of_named(requests, "list_schemas", "schemas", name)
            if schema_arn is None:
                raise PersonalizeImportError(f"Schema {name!r} both exists and is not listed; run again.")
    existing = requests.call("describe_schema", f"schema {name!r}", schemaArn=schema_arn)["schema"]
    if json.loads(existing["schema"]) != json.loads(schema_json) or existing.get("domain") != domain:
        raise PersonalizeImportError(
            f"Personalize schema {name!r} ({schema_arn}) already exists with different fields or "
            f"domain ({existing.get('domain')!r}, wanted {domain!r}). Schemas cannot be changed: "
            f"use a new dataset_group_name (and name_prefix, if set), e.g. "
            f"{name.rsplit('-', 1)[0]}-v2, so a new schema, dataset group and datasets are "
            "created; or delete the old schema and the datasets that use it."
        )
    log.info(f"Reusing Personalize schema {name}")
    return schema_arn


def _name(settings: ImportSettings, dataset_type: str) -> str:
    return f"{settings.prefix}-{dataset_type.lower()}"


def _listed(requests: PersonalizeRequests, method: str, key: str, **params: Any) -> Iterator[dict]:
    """Every summary a list call returns, following nextToken pages."""
    while True:
        page = requests.call(method, f"the {key} list", **params)
        yield from page.get(key, [])
        if not page.get("nextToken"):
            return
        params["nextToken"] = page["nextToken"]


def _arn_of_named(requests: PersonalizeRequests, method: str, key: str, name: str) -> str | None:
    arn_key = f"{key[:-1]}Arn"  # schemas -> schemaArn, datasetGroups -> datasetGroupArn
    return next((s[arn_key] for s in _listed(requests, method, key) if s["name"] == name), None)


def _ensure_dataset_group(requests: PersonalizeRequests, settings: ImportSettings, wait: _Waiter, log: Any) -> str:
    name = settings.dataset_group_name
    about = f"dataset group {name!r}"
    group_arn = _arn_of_named(requests, "list_dataset_groups", "datasetGroups", name)
    if group_arn is None:
        params = {"name": name, **({"domain": settings.domain} if settings.domain else {})}
        group_arn = requests.call("create_dataset_group", about, **params)["datasetGroupArn"]
        log.info(f"Created Personalize dataset group {name}")
    group = wait("describe_dataset_group", "datasetGroupArn", group_arn, about, "Delete it and run again.")
    if group.get("domain") != settings.domain:
        raise PersonalizeImportError(
            f"Personalize {about} ({group_arn}) has domain {group.get('domain')!r}, not the wanted "
            f"{settings.domain!r}. A group's domain cannot change: use another dataset_group_name."
        )
    return group_arn


def _ensure_datasets(
    requests: PersonalizeRequests,
    group_arn: str,
    schema_arns: dict[str, str],
    settings: ImportSettings,
    wait: _Waiter,
    log: Any,
) -> dict[str, str]:
    existing: dict[str, str] = {}
    for summary in _listed(requests, "list_datasets", "datasets", datasetGroupArn=group_arn):
        # Compared case-insensitively: AWS shows the type both as INTERACTIONS and as Interactions.
        existing.setdefault(summary["datasetType"].lower(), summary["datasetArn"])
    dataset_arns = {}
    for dataset_type, schema_arn in schema_arns.items():
        dataset_arn = existing.get(dataset_type.lower())
        if dataset_arn is None:
            name = _name(settings, dataset_type)
            dataset_arn = requests.call(
                "create_dataset", f"{dataset_type} dataset {name!r}",
                name=name, schemaArn=schema_arn, datasetGroupArn=group_arn, datasetType=dataset_type,
            )["datasetArn"]
            log.info(f"Created Personalize {dataset_type} dataset {name}")
        dataset_arns[dataset_type] = dataset_arn
    for dataset_type, dataset_arn in dataset_arns.items():
        about = f"{dataset_type} dataset"
        dataset = wait("describe_dataset", "datasetArn", dataset_arn, about, "Delete it and run again.")
        if dataset.get("schemaArn") != schema_arns[dataset_type]:
            raise PersonalizeImportError(
                f"The {about} {dataset_arn} uses schema {dataset.get('schemaArn')}, not "
                f"{schema_arns[dataset_type]}. A dataset's schema cannot change: delete the dataset "
                "or use another dataset_group_name."
            )
    return dataset_arns


class _Waiter:
    """Polls a describe call until the resource is ACTIVE, for at most max_wait_seconds."""

    def __init__(self, requests: PersonalizeRequests, settings: ImportSettings, sleep: Callable, log: Any):
        self.requests, self.settings, self.sleep, self.log = requests, settings, sleep, log
        self.statuses: dict[str, str] = {}

    def __call__(self, method: str, arn_key: str, arn: str, about: str, if_failed: str) -> dict:
        waited = 0.0  # counted in sleeps, so a fake sleep makes tests instant and exact
        while True:
            response = self.requests.call(method, f"{about} {arn}", **{arn_key: arn})
            resource = response[arn_key[: -len("Arn")]]  # datasetArn -> dataset
            status = self.statuses[arn] = resource["status"]
            if status == "ACTIVE":
                return resource
            if status == "CREATE FAILED" or status.startswith("DELETE"):
                reason = resource.get("failureReason", "no reason given")
                raise PersonalizeImportError(f"Personalize {about} {arn} is {status}: {reason}. {if_failed}")
            if waited >= self.settings.max_wait_seconds:
                raise PersonalizeImportError(
                    f"Personalize {about} {arn} is still {status} after {waited:g} s. It may "
                    "still finish: check it in the console, or raise max_wait_seconds."
                )
            pause = min(self.settings.poll_seconds, self.settings.max_wait_seconds - waited)
            self.log.info(f"Personalize {about} is {status}; checking again in {pause:g} s")
            self.sleep(pause)
            waited += pause
