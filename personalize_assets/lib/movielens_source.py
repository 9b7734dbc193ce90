"""Where releases come from: the download base URL and which release to take."""


import os

import dagster as dg

from .download import DEFAULT_BASE_URL, release_url

DEFAULT_VARIANT = "ml-latest-small"
SYNTHETIC = "synthetic"  # generated locally (lib/synthetic.py) instead of downloaded
DEFAULT_SYNTHETIC_RATINGS = 1_000_000


class MovieLensSource(dg.ConfigurableResource):
    """The GroupLens download site (or a mirror) and the default release.

    Unset fields fall back, at run time, to MOVIELENS_BASE_URL and MOVIELENS_VARIANT,
    then to the GroupLens site and ml-latest-small. A run can still pick another release
    through the movielens_zip run config. The variant `synthetic` generates a release of
    MOVIELENS_SYNTHETIC_RATINGS ratings (default 1,000,000) from MOVIELENS_SYNTHETIC_SEED
    (default 0) instead of downloading one, so the graph runs offline.
    """

    base_url: str | None = None
    variant: str | None = None
    synthetic_ratings: int | None = None
    synthetic_seed: int | None = None

    def resolved_base_url(self) -> str:
        return self.base_url or os.environ.get("MOVIELENS_BASE_URL") or DEFAULT_BASE_URL

    def resolved_variant(self, override: str | None = None) -> str:
        return override or self.variant or os.environ.get("MOVIELENS_VARIANT") or DEFAULT_VARIANT

    def url(self, variant: str) -> str:
        return release_url(self.resolved_base_url(), variant)

    def synthetic_settings(self, ratings: int | None = None, seed: int | None = None) -> tuple[int, int]:
        ratings = ratings or self.synthetic_ratings or int(os.environ.get("MOVIELENS_SYNTHETIC_RATINGS")
                                                           or DEFAULT_SYNTHETIC_RATINGS)
        if seed is None:
            seed = self.synthetic_seed if self.synthetic_seed is not None else int(
                os.environ.get("MOVIELENS_SYNTHETIC_SEED") or 0)
        return ratings, seed
