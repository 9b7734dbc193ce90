"""Where releases come from: the download base URL and which release to take."""


import os

import dagster as dg

from .download import DEFAULT_BASE_URL, release_url

DEFAULT_VARIANT = "ml-latest-small"


class MovieLensSource(dg.ConfigurableResource):
    """The GroupLens download site (or a mirror) and the default release.

    Unset fields fall back, at run time, to MOVIELENS_BASE_URL and MOVIELENS_VARIANT,
    then to the GroupLens site and ml-latest-small. A run can still pick another release
    through the movielens_zip run config.
    """

    base_url: str | None = None
    variant: str | None = None

    def resolved_base_url(self) -> str:
        return self.base_url or os.environ.get("MOVIELENS_BASE_URL") or DEFAULT_BASE_URL

    def resolved_variant(self, override: str | None = None) -> str:
        return override or self.variant or os.environ.get("MOVIELENS_VARIANT") or DEFAULT_VARIANT

    def url(self, variant: str) -> str:
        return release_url(self.resolved_base_url(), variant)
