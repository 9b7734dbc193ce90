"""MOVIELENS_VARIANT=synthetic: the whole graph runs offline on a generated release."""

import io

import pandas as pd

from .conftest import failure_messages


def test_synthetic_variant_runs_the_graph_without_a_download(run_graph, s3_env):
    unreachable = "http://127.0.0.1:9/"  # proves nothing is fetched
    result = run_graph(unreachable, variant="synthetic", MOVIELENS_SYNTHETIC_RATINGS="30000",
                       MOVIELENS_SYNTHETIC_SEED="7")
    assert result.success, failure_messages(result)
    interactions = pd.read_csv(io.BytesIO(s3_env.read("interactions.csv")))
    assert len(interactions) == 30_000
    assert not interactions.duplicated(["USER_ID", "ITEM_ID"]).any()
    items = pd.read_csv(io.BytesIO(s3_env.read("item-meta.csv")))
    assert set(interactions["ITEM_ID"]) <= set(items["ITEM_ID"])
    first = result.asset_materializations_for_node("movielens_zip")[0].metadata
    assert first["downloaded"].value is True and first["source_url"].value == "synthetic:ratings=30000&seed=7"

    again = run_graph(unreachable, variant="synthetic", MOVIELENS_SYNTHETIC_RATINGS="30000",
                      MOVIELENS_SYNTHETIC_SEED="7")
    assert again.success
    assert again.asset_materializations_for_node("movielens_zip")[0].metadata["downloaded"].value is False
