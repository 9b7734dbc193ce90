"""Personalize assets: the published CSVs imported into an Amazon Personalize dataset group."""

import json

import dagster as dg

from ..lib.bucket import PersonalizeBucket, schema_key
from ..lib.failures import user_facing_errors
from ..lib.io_managers import PublishedDataset
from ..lib.personalize_import import DatasetToImport, PersonalizeImportError, import_into_personalize
from ..lib.personalize_resource import PersonalizeSettings


def _to_import(bucket: PersonalizeBucket, asset_name: str, published: PublishedDataset) -> DatasetToImport:
    with user_facing_errors(f"read the {published.dataset_type} schema"):
        schema_json = bucket.get_bytes(schema_key(bucket.key_prefix, asset_name)).decode("utf-8")
    return DatasetToImport(published.dataset_type, schema_json, published.csv_uri)


def _summary(result, settings) -> str:
    creates = sum(1 for r in result.requests if r["operation"].startswith("Create"))
    if result.dry_run:
        return (
            f"**Dry run**: {len(result.requests)} requests planned for dataset group "
            f"`{settings.dataset_group_name}`, {creates} of them creating resources in a fresh account; "
            "none was sent. Set PERSONALIZE_ROLE_ARN to the IAM role Personalize assumes to read "
            "the bucket to send them."
        )
    jobs = "\n".join(f"- {kind}: `{arn}`" for kind, arn in result.import_job_arns.items())
    return (
        f"Imported into dataset group `{settings.dataset_group_name}` with {len(result.requests)} "
        f"requests ({creates} creating resources).\n\nImport jobs:\n{jobs}"
    )


@dg.asset(group_name="personalize", kinds={"aws"})
def personalize_datasets(
    context: dg.AssetExecutionContext,
    interactions_csv: PublishedDataset,
    items_csv: PublishedDataset,
    bucket: PersonalizeBucket,
    personalize: PersonalizeSettings,
) -> dg.MaterializeResult:
    """The Interactions and Items datasets of the Amazon Personalize dataset group, with the
    current interactions.csv and item-meta.csv imported.

    Schemas, dataset group and datasets are created when missing and reused when they
    match; then one dataset import job per CSV is started and waited for. Without
    PERSONALIZE_ROLE_ARN this is a dry run: the exact requests, checked against the
    Personalize API model, are recorded below and nothing is sent.
    """
    datasets = [
        _to_import(bucket, "interactions_csv", interactions_csv),
        _to_import(bucket, "items_csv", items_csv),
    ]
    settings = personalize.import_settings()
    try:
        result = import_into_personalize(
            personalize.client(), datasets, settings, log=personalize.import_log(context.log)
        )
    except PersonalizeImportError as error:
        raise dg.Failure(str(error), allow_retries=False) from None
    metadata = result.as_metadata()
    return dg.MaterializeResult(
        metadata={
            "summary": dg.MetadataValue.md(_summary(result, settings)),
            "dry_run": result.dry_run,
            "dataset_group": settings.dataset_group_name,
            "dataset_group_arn": result.dataset_group_arn,
            "import_jobs": dg.MetadataValue.json(result.import_job_arns),
            "request_count": metadata["request_count"],
            # A dry run lists every request it would send; a real run keeps the ones that
            # changed something, since its polling adds a describe call per pause.
            "requests": dg.MetadataValue.json(
                json.loads(json.dumps(result.requests)) if result.dry_run else metadata["create_requests"]
            ),
            "result": dg.MetadataValue.json(metadata),
        }
    )


personalize_import = dg.define_asset_job(
    name="personalize_import",
    selection=dg.AssetSelection.groups("personalize"),
    description="Import the published CSVs into the Amazon Personalize dataset group (a dry run "
    "without PERSONALIZE_ROLE_ARN). Launched by personalize_import_sensor.",
    # One light step that mostly waits on AWS: no need for a process of its own.
    executor_def=dg.in_process_executor,
)
