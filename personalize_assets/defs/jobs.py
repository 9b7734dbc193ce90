"""Jobs: the main one materializes every asset of the data graph with its checks."""

import dagster as dg

from ..lib.failures import RETRY_POLICY

PREPARE_GROUPS = dg.AssetSelection.groups("source", "transform", "publish")

# One process per step keeps each step's memory its own; a forkserver with our modules
# preloaded starts those processes in milliseconds instead of seconds. Also the default
# for every other run (UI and `dagster asset materialize`), see definitions.py.
STEP_PROCESS_EXECUTOR = dg.multiprocess_executor.configured(
    {
        "max_concurrent": 2,
        "start_method": {"forkserver": {"preload_modules": ["personalize_assets.definitions"]}},
    }
)

movielens_to_personalize = dg.define_asset_job(
    name="movielens_to_personalize",
    selection=PREPARE_GROUPS,
    description="Fetch the MovieLens release, reshape it and publish the Personalize CSVs and schemas to S3.",
    op_retry_policy=RETRY_POLICY,
    executor_def=STEP_PROCESS_EXECUTOR,
)
