"""Jobs: the main one materializes every asset of the data graph with its checks."""

import dagster as dg

from ..lib.failures import RETRY_POLICY

PREPARE_GROUPS = dg.AssetSelection.groups("source", "transform", "publish")

# One process per step keeps each step's memory its own; a forkserver with our modules
# preloaded starts those processes in milliseconds instead of seconds. Also the default
# for every other run (UI and `dagster asset materialize`), see definitions.py.
STEP_PROCESSES = {
    "max_concurrent": 2,
    "start_method": {"forkserver": {"preload_modules": ["personalize_assets.definitions"]}},
}
STEP_PROCESS_EXECUTOR = dg.multiprocess_executor.configured(STEP_PROCESSES)

# Small releases run every step in one process (seconds saved on each step); big ones
# one process per step. The default is the latter; `make run` picks per release.
ONE_PROCESS = {"execution": {"config": {"in_process": {}}}}
PROCESS_PER_STEP = {"execution": {"config": {"multiprocess": STEP_PROCESSES}}}

movielens_to_personalize = dg.define_asset_job(
    name="movielens_to_personalize",
    selection=PREPARE_GROUPS,
    description="Fetch the MovieLens release, reshape it and publish the Personalize CSVs and schemas to S3.",
    op_retry_policy=RETRY_POLICY,
    executor_def=dg.multi_or_in_process_executor,
    config=PROCESS_PER_STEP,
)
