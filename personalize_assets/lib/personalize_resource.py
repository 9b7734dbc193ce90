"""Which Personalize dataset group the CSVs are imported into, as whom, and how long to wait.

Everything is resolved when a run asks for it, never at import time, so loading the
definitions needs no AWS setting at all. Without a role ARN an import is a dry run.
"""

from __future__ import annotations

import os

import boto3
import dagster as dg

from .personalize_import import ImportSettings

DEFAULT_DATASET_GROUP = "personalize-assets"
# A dry run still needs a client (for its service model), and a client needs a region.
DEFAULT_REGION = "us-east-1"


def _env(name: str) -> str | None:
    return (os.environ.get(name) or "").strip() or None


class PersonalizeSettings(dg.ConfigurableResource):
    """The Amazon Personalize dataset group the published CSVs are imported into.

    Unset fields fall back, at run time, to PERSONALIZE_ROLE_ARN, PERSONALIZE_DATASET_GROUP
    (default "personalize-assets") and PERSONALIZE_DOMAIN (empty: a custom dataset group);
    the region to AWS_REGION, AWS_DEFAULT_REGION or the profile, then us-east-1. Without a
    role ARN the import is a dry run: the requests are checked and recorded, nothing is sent.
    """

    role_arn: str | None = None
    dataset_group_name: str | None = None
    domain: str | None = None
    region: str | None = None
    import_mode: str = "FULL"
    poll_seconds: float = 15.0
    max_wait_seconds: float = 3600.0

    def resolved_role_arn(self) -> str | None:
        return self.role_arn or _env("PERSONALIZE_ROLE_ARN")

    def resolved_dataset_group(self) -> str:
        return self.dataset_group_name or _env("PERSONALIZE_DATASET_GROUP") or DEFAULT_DATASET_GROUP

    def resolved_domain(self) -> str | None:
        return self.domain or _env("PERSONALIZE_DOMAIN")

    def resolved_region(self) -> str:
        # botocore itself reads only AWS_DEFAULT_REGION (and profiles); AWS_REGION is the
        # variable the other SDKs and our .env.example use, so it is honoured first.
        return self.region or _env("AWS_REGION") or boto3.session.Session().region_name or DEFAULT_REGION

    @property
    def dry_run(self) -> bool:
        return self.resolved_role_arn() is None

    def import_settings(self) -> ImportSettings:
        return ImportSettings(
            dataset_group_name=self.resolved_dataset_group(),
            role_arn=self.resolved_role_arn(),
            domain=self.resolved_domain(),
            import_mode=self.import_mode,
            poll_seconds=self.poll_seconds,
            max_wait_seconds=self.max_wait_seconds,
        )

    def import_log(self, log):
        """`log` for the import steps; in a dry run each line says nothing was sent, since
        the steps report "Created ..." for what they only planned."""
        return _DryRunLog(log) if self.dry_run else log

    def client(self):
        """A boto3 `personalize` client. Creating it sends nothing; a dry run only reads
        its service model and region."""
        return boto3.client("personalize", region_name=self.resolved_region())


class _DryRunLog:
    def __init__(self, log):
        self._log = log

    def info(self, message: str) -> None:
        self._log.info(f"[dry run, not sent] {message}")
