"""The one door every Personalize control-plane request goes through: each request is
checked against botocore's service model, recorded, and then sent or, in a dry run,
answered with the placeholder a fresh account would return (so no network call is made).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from botocore.exceptions import ClientError
from botocore.validate import ParamValidator


class PersonalizeImportError(Exception):
    """A Personalize import step failed; the message says what, which resource, and what to do."""


# What the user can do about each error code Personalize answers with.
_ADVICE = {
    "LimitExceededException": "A Personalize quota is used up: delete resources you no longer "
    "need (old dataset groups, schemas, finished import jobs) or ask AWS for a higher quota.",
    "InvalidInputException": "Personalize rejected a value in the request: fix the value the "
    "message names (schema JSON, S3 URI, role ARN, names) and run again.",
    "ResourceNotFoundException": "The resource does not exist (any more): check the region "
    "and the names, or run again to recreate it.",
    "ResourceAlreadyExistsException": "A resource with that name already exists: choose "
    "another name, or for an import job wait a second and run again.",
    "ResourceInUseException": "The resource is busy, usually with an import job that is "
    "still running: wait for it to finish and run again.",
    "AccessDeniedException": "The AWS credentials may not call this Personalize operation: "
    "grant the permission to the caller's IAM identity.",
}

# Placeholder ARN path for each create call, built from the request's names.
_CREATED_ARN = {
    "create_schema": ("schemaArn", lambda p: f"schema/{p['name']}"),
    "create_dataset_group": ("datasetGroupArn", lambda p: f"dataset-group/{p['name']}"),
    "create_dataset": (
        "datasetArn",
        lambda p: f"dataset/{p['datasetGroupArn'].rsplit('/', 1)[-1]}/{p['datasetType'].upper()}",
    ),
    "create_dataset_import_job": (
        "datasetImportJobArn",
        lambda p: f"dataset-import-job/{p['jobName']}",
    ),
}
_DESCRIBED = {
    "describe_schema": ("schema", "schemaArn"),
    "describe_dataset_group": ("datasetGroup", "datasetGroupArn"),
    "describe_dataset": ("dataset", "datasetArn"),
    "describe_dataset_import_job": ("datasetImportJob", "datasetImportJobArn"),
}
_LISTED = {"list_schemas": "schemas", "list_dataset_groups": "datasetGroups", "list_datasets": "datasets"}


class PersonalizeRequests:
    """Sends (or plans, when `dry_run`) Personalize requests and keeps them in `requests`
    as `{"operation": "CreateSchema", "params": {...}}`, in order."""

    def __init__(self, client: Any, dry_run: bool) -> None:
        self.client = client
        self.dry_run = dry_run
        self.requests: list[dict[str, Any]] = []
        # Only known after a create call, so a dry run can answer describe calls.
        self._planned: dict[str, dict[str, Any]] = {}

    def call(self, method: str, about: str, expected_errors: tuple[str, ...] = (), **params: Any) -> dict:
        """Call `client.<method>(**params)`; `about` names the resource for error messages.
        ClientErrors whose code is in `expected_errors` are re-raised for the caller to
        handle; all others become a PersonalizeImportError."""
        operation = self.client.meta.method_to_api_mapping[method]
        problems = invalid_params(self.client.meta.service_model, operation, params)
        if problems:
            raise PersonalizeImportError(
                f"The {operation} request for {about} is not valid for the Personalize API: "
                f"{'; '.join(problems)}. Fix the setting that produced it; nothing was sent."
            )
        self.requests.append({"operation": operation, "params": params})
        if self.dry_run:
            return self._answer_as_fresh_account(method, params)
        try:
            return getattr(self.client, method)(**params)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in expected_errors:
                raise
            message = error.response.get("Error", {}).get("Message", str(error))
            raise PersonalizeImportError(
                f"Personalize {operation} for {about} failed with {code}: {message}. "
                f"{_ADVICE.get(code, 'See the AWS message above.')}"
            ) from error

    def _answer_as_fresh_account(self, method: str, params: dict[str, Any]) -> dict:
        if method in _LISTED:
            return {_LISTED[method]: []}
        if method in _CREATED_ARN:
            key, path = _CREATED_ARN[method]
            meta = self.client.meta
            arn = f"arn:{meta.partition}:personalize:{meta.region_name}:<account>:{path(params)}"
            self._planned[arn] = dict(params, **{key: arn}, status="ACTIVE")
            return {key: arn}
        if method in _DESCRIBED:
            wrapper, key = _DESCRIBED[method]
            return {wrapper: self._planned[params[key]]}
        raise PersonalizeImportError(f"A dry run cannot plan {method}: it has no placeholder answer.")


def invalid_params(service_model: Any, operation: str, params: dict[str, Any]) -> list[str]:
    """What is wrong with `params` for `operation`, per the botocore service model.

    botocore's ParamValidator checks required members, types and minimums; it leaves
    enums, maximum lengths and patterns to the server, so those are checked here too.
    """
    shape = service_model.operation_model(operation).input_shape
    problems = []
    report = ParamValidator().validate(params, shape)
    if report.has_errors():
        problems.append(report.generate_report().replace("\n", " "))
    _check_constraints(params, shape, operation, problems)
    return problems


def _check_constraints(value: Any, shape: Any, where: str, problems: list[str]) -> None:
    if shape.type_name == "structure" and isinstance(value, dict):
        for name, member in value.items():
            if name in shape.members:
                _check_constraints(member, shape.members[name], f"{where}.{name}", problems)
    elif shape.type_name == "list" and isinstance(value, list):
        for index, item in enumerate(value):
            _check_constraints(item, shape.member, f"{where}[{index}]", problems)
    elif shape.type_name == "map" and isinstance(value, dict):
        for key, item in value.items():
            _check_constraints(item, shape.value, f"{where}[{key!r}]", problems)
    elif shape.type_name == "string" and isinstance(value, str):
        if shape.enum and value not in shape.enum:
            problems.append(f"{where} is {value!r}, not one of {', '.join(shape.enum)}")
        maximum = shape.metadata.get("max")
        if maximum is not None and len(value) > maximum:
            problems.append(f"{where} is {len(value)} characters long, more than the {maximum} allowed")
        pattern = _compiled(shape.metadata.get("pattern"))
        if pattern is not None and not pattern.fullmatch(value):
            problems.append(f"{where} is {value!r}, which does not match {pattern.pattern!r}")


@lru_cache(maxsize=None)
def _compiled(pattern: str | None) -> re.Pattern | None:
    if pattern is None:
        return None
    try:
        return re.compile(pattern)
    except re.error:
        # Some model patterns use Java-only syntax such as \p{ASCII}; the server checks those.
        return None
