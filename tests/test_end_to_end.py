"""The whole graph on the real GroupLens ml-latest-small, served over loopback HTTP."""

import io
import json
import zipfile

import pandas as pd

from .conftest import REAL_SMALL_RELEASE


def test_real_small_release_lands_in_s3_as_personalize_datasets(real_small_release, run_graph, s3_env):
    result = run_graph(real_small_release.base_url, variant="ml-latest-small")
    assert result.success

    keys = s3_env.keys()
    for name in ("interactions.csv", "item-meta.csv", "schemas/interactions.json", "schemas/items.json"):
        assert name in keys

    with zipfile.ZipFile(REAL_SMALL_RELEASE) as archive:
        ratings = pd.read_csv(archive.open("ml-latest-small/ratings.csv"))
        movies = pd.read_csv(archive.open("ml-latest-small/movies.csv"))

    interactions_bytes = s3_env.read("interactions.csv")
    header = interactions_bytes.split(b"\n", 1)[0].decode()
    interactions = pd.read_csv(io.BytesIO(interactions_bytes))
    assert len(interactions) == 100_836
    assert (interactions["EVENT_TYPE"] == "review").all()
    assert interactions["TIMESTAMP"].dtype.kind == "i"
    expected = ratings.rename(columns={"userId": "USER_ID", "movieId": "ITEM_ID", "rating": "EVENT_VALUE",
                                       "timestamp": "TIMESTAMP"})
    pd.testing.assert_frame_equal(
        interactions[["USER_ID", "ITEM_ID", "EVENT_VALUE", "TIMESTAMP"]], expected[["USER_ID", "ITEM_ID", "EVENT_VALUE", "TIMESTAMP"]]
    )

    items_bytes = s3_env.read("item-meta.csv")
    items = pd.read_csv(io.BytesIO(items_bytes))
    assert list(items.columns) == ["ITEM_ID", "GENRES", "YEAR"]
    assert len(items) == 9_742
    assert items["YEAR"].isna().sum() == 12
    assert (items["ITEM_ID"].to_numpy() == movies["movieId"].to_numpy()).all()
    assert (items["GENRES"].to_numpy() == movies["genres"].to_numpy()).all()
    death_note = movies.index[movies["title"] == "Death Note: Desu nôto (2006–2007)"][0]
    assert items.loc[death_note, "YEAR"] == 2006

    for csv_name, schema_name, record in (("interactions.csv", "interactions", "Interactions"),
                                          ("item-meta.csv", "items", "Items")):
        schema = json.loads(s3_env.read(f"schemas/{schema_name}.json"))
        csv_header = s3_env.read(csv_name).split(b"\n", 1)[0].decode().split(",")
        assert [f["name"] for f in schema["fields"]] == csv_header
        assert schema["name"] == record and schema["namespace"] == "com.amazonaws.personalize.schema"
    assert header == "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_VALUE"
    items_schema = {f["name"]: f for f in json.loads(s3_env.read("schemas/items.json"))["fields"]}
    assert items_schema["YEAR"]["type"] == ["null", "int"]
    assert items_schema["GENRES"]["categorical"] is True


def test_second_run_does_not_download_the_release_again(real_small_release, run_graph, s3_env):
    assert run_graph(real_small_release.base_url, variant="ml-latest-small").success
    first = s3_env.read("interactions.csv")
    assert real_small_release.gets("ml-latest-small.zip") == [200]

    result = run_graph(real_small_release.base_url, variant="ml-latest-small")
    assert result.success
    assert real_small_release.gets("ml-latest-small.zip") == [200, 304]
    archive_events = result.asset_materializations_for_node("movielens_zip")
    assert archive_events[0].metadata["downloaded"].value is False
    assert s3_env.read("interactions.csv") == first
    # Exactly one archive is kept, the one the pointer names.
    assert len([k for k in s3_env.keys() if k.endswith(".zip")]) == 1
