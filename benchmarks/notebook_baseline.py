"""The AWS notebook's data preparation, cell for cell, as one script: the benchmark's baseline.

wget the zip, unzip it, pandas read_csv / rename / to_csv, boto3 upload_file. Default
pandas settings, as in the notebook. Prints its phase timings as one JSON line on stdout.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="the release zip, e.g. http://127.0.0.1:8000/ml-25m.zip")
    parser.add_argument("--workdir", required=True, help="an empty folder for the download and the CSVs")
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--prefix", required=True, help="keys: <prefix>/interactions.csv, <prefix>/item-meta.csv")
    args = parser.parse_args(argv)
    workdir = Path(args.workdir)
    phases: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        phases[name] = round(now - clock, 3)
        clock = now

    import boto3  # the notebook's first cell
    import pandas as pd

    lap("import")

    # !wget -N <url>
    zip_name = PurePosixPath(urlsplit(args.url).path).name
    zip_path = workdir / zip_name
    with urllib.request.urlopen(args.url) as response, open(zip_path, "wb") as out:  # noqa: S310 - loopback
        shutil.copyfileobj(response, out, 1 << 20)
    lap("download")

    # !unzip <zip>
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(workdir)
    folder = workdir / zip_name.removesuffix(".zip")
    lap("unzip")

    # Interactions: every rating is a "review" event valued by the rating.
    data = pd.read_csv(folder / "ratings.csv")
    lap("read_ratings")
    data["EVENT_TYPE"] = "review"
    data = data.rename(columns={"userId": "USER_ID", "movieId": "ITEM_ID", "rating": "EVENT_VALUE",
                                "timestamp": "TIMESTAMP"})
    lap("transform_ratings")
    interactions_file = workdir / "interactions.csv"
    data.to_csv(interactions_file, index=False)
    rows = len(data)
    del data
    lap("write_interactions")

    # Items: genres as they are, the year pulled out of the title, the title dropped.
    items = pd.read_csv(folder / "movies.csv")
    items = items.rename(columns={"movieId": "ITEM_ID", "genres": "GENRES"})
    items["YEAR"] = items["title"].str.extract(r".*(\d{4})", expand=False)
    items = items.drop(columns="title")
    items_file = workdir / "item-meta.csv"
    items.to_csv(items_file, index=False)
    item_rows = len(items)
    lap("items")

    # boto3 reads AWS_ENDPOINT_URL_S3 and the credentials from the environment.
    s3 = boto3.client("s3")
    s3.upload_file(str(interactions_file), args.bucket, f"{args.prefix}/interactions.csv")
    s3.upload_file(str(items_file), args.bucket, f"{args.prefix}/item-meta.csv")
    lap("upload")

    print(json.dumps({"rows": rows, "items": item_rows, "phases": phases}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
