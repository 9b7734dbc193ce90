"""The synthetic release: deterministic bytes, MovieLens-like shape, readable by lib.releases."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pandas as pd
import pytest

from personalize_assets.lib import synthetic
from personalize_assets.lib.releases import open_archive, read_movies, read_ratings, read_readme, release_format
from personalize_assets.lib.synthetic import main, write_synthetic_release
from personalize_assets.lib.transforms import extract_year

RATINGS = 60_000


def release(ratings: int = RATINGS, **kwargs) -> tuple[bytes, dict]:
    sink = io.BytesIO()
    counts = write_synthetic_release(sink, ratings, **kwargs)
    return sink.getvalue(), counts


def tables(data: bytes) -> tuple[pd.DataFrame, pd.DataFrame]:
    archive = open_archive(io.BytesIO(data), "synthetic.zip")
    assert release_format(archive, "synthetic.zip").name == "csv"
    return read_ratings(archive, "synthetic.zip").to_pandas(), read_movies(archive, "synthetic.zip").to_pandas()


@pytest.fixture(scope="module")
def generated():
    data, counts = release()
    ratings, movies = tables(data)
    return data, counts, ratings, movies


def test_same_arguments_give_the_same_bytes(generated):
    data, _, _, _ = generated
    assert release()[0] == data
    assert release(seed=1)[0] != data


def test_layout_and_counts(generated):
    data, counts, ratings, movies = generated
    names = [info.filename for info in zipfile.ZipFile(io.BytesIO(data)).infolist()]
    assert names == ["synthetic/movies.csv", "synthetic/ratings.csv", "synthetic/README.txt"]
    assert counts["ratings"] == len(ratings) == RATINGS
    assert counts["users"] == ratings["userId"].nunique() == ratings["userId"].max() == 400
    assert counts["movies"] == len(movies) == movies["movieId"].nunique()
    assert counts["rated_movies"] == ratings["movieId"].nunique()
    assert set(ratings["movieId"]) <= set(movies["movieId"])
    assert (counts["first_timestamp"], counts["last_timestamp"]) == (ratings["timestamp"].min(), ratings["timestamp"].max())
    readme = read_readme(zipfile.ZipFile(io.BytesIO(data)))
    assert "SYNTHETIC" in readme and f"{RATINGS} ratings" in readme


def test_csv_text_is_like_grouplens(generated):
    data, _, _, _ = generated
    archive = zipfile.ZipFile(io.BytesIO(data))
    head = archive.open("synthetic/ratings.csv").read(200)
    assert head.startswith(b"userId,movieId,rating,timestamp\r\n1,")
    assert b"\n" not in head.replace(b"\r\n", b"")
    movies_text = archive.read("synthetic/movies.csv").decode("utf-8")
    assert movies_text.startswith("movieId,title,genres\r\n")
    assert '"Operation ""' in movies_text  # embedded quotes doubled inside a quoted field
    assert ', The (' in movies_text and ',"' in movies_text  # a comma in a title, quoted
    rating_text = archive.read("synthetic/ratings.csv").decode("ascii").split("\r\n")[1:-1]
    assert {line.rsplit(",", 2)[1] for line in rating_text} == {f"{v / 2:.1f}" for v in range(1, 11)}


def test_ratings_are_sorted_by_user_then_movie_without_duplicates(generated):
    _, _, ratings, _ = generated
    assert not ratings.duplicated(["userId", "movieId"]).any()
    keys = ratings["userId"].to_numpy(np.int64) << 32 | ratings["movieId"].to_numpy(np.int64)
    assert (np.diff(keys) > 0).all()


def test_every_user_has_at_least_20_ratings(generated):
    _, _, ratings, _ = generated
    assert ratings.groupby("userId").size().min() >= 20


def test_activity_and_popularity_are_heavy_tailed(generated):
    _, _, ratings, movies = generated
    per_user = ratings.groupby("userId").size()
    assert per_user.max() > 8 * per_user.median()
    assert per_user.mean() > 1.5 * per_user.median()
    per_movie = ratings.groupby("movieId").size().sort_values(ascending=False)
    top_tenth = per_movie.head(len(movies) // 10).sum() / len(ratings)
    assert top_tenth > 0.42  # 0.49 here, 0.68 at 1M ratings; uniform popularity gives about 0.13


def test_rating_histogram_is_like_movielens(generated):
    _, _, ratings, _ = generated
    shares = ratings["rating"].value_counts(normalize=True)
    assert sorted(shares.index) == [v / 2 for v in range(1, 11)]
    assert shares.idxmax() == 4.0
    assert list(shares.sort_values(ascending=False).index[:2]) == [4.0, 3.0]
    assert abs(shares[4.0] - 0.266) < 0.03 and shares[0.5] < 0.03


def test_timestamps_lie_in_1996_to_2018_and_cluster_per_user(generated):
    _, _, ratings, _ = generated
    stamps = pd.to_datetime(ratings["timestamp"], unit="s")
    assert stamps.min() >= pd.Timestamp("1996-01-01") and stamps.max() < pd.Timestamp("2019-01-01")
    span = ratings.groupby("userId")["timestamp"].agg(lambda t: t.max() - t.min())
    assert span.median() < 365 * 86400 < (stamps.max() - stamps.min()).total_seconds() / 10


def test_tricky_titles_are_read_back_with_their_years(generated):
    _, _, _, movies = generated
    found = extract_year(movies["title"])
    by_title = dict(zip(movies["title"], found["YEAR"]))
    sources = found["year_source"].value_counts()
    assert sources["trailing"] > 0.9 * len(movies) and sources["range"] > 0 and sources["none"] > 0
    ranged = movies["title"][found["year_source"] == "range"].iloc[0]
    assert "–" in ranged and by_title[ranged] == int(ranged.rsplit("(", 1)[1][:4])
    assert movies["title"].str.contains(r', The \(\d{4}\)$').any()
    assert movies["title"].str.contains('"', regex=False).any()
    assert movies["title"].str.endswith(") ").any()
    assert movies["title"].str.contains("ñ|ø|ô", regex=True).any()  # UTF-8 survives
    numbered = movies["title"][movies["title"].str.contains(r"^\w+ \d{4} \(\d{4}\)$")].iloc[0]
    assert by_title[numbered] == int(numbered[-5:-1])  # "Storm 2049 (2017)" is from 2017
    genres = set("|".join(movies["genres"]).split("|"))
    assert {"IMAX", "(no genres listed)", "Drama", "Film-Noir"} <= genres
    assert (movies["genres"] == "(no genres listed)").any()


def test_blocks_join_seamlessly(monkeypatch):
    monkeypatch.setattr(synthetic, "BLOCK_RATINGS", 3_000)  # many blocks through the writer thread
    data, counts = release(20_000, seed=3)
    ratings, _ = tables(data)
    assert len(ratings) == counts["ratings"] == 20_000
    assert list(ratings["userId"].unique()) == list(range(1, counts["users"] + 1))
    keys = ratings["userId"].to_numpy(np.int64) << 32 | ratings["movieId"].to_numpy(np.int64)
    assert (np.diff(keys) > 0).all()


def test_users_who_rate_nearly_every_movie():
    data, counts = release(280, users=5, items=60)
    ratings, movies = tables(data)
    per_user = ratings.groupby("userId").size()
    assert len(movies) == 60 and per_user.sum() == 280 and per_user.max() <= 60 and per_user.min() >= 20
    assert not ratings.duplicated(["userId", "movieId"]).any()


def test_fewer_ratings_than_20_a_user_are_shared_out_evenly():
    data, counts = release(30, users=3, items=50)
    ratings, _ = tables(data)
    assert ratings.groupby("userId").size().min() == 10 and len(ratings) == 30


def test_impossible_sizes_are_refused():
    with pytest.raises(ValueError, match="cannot fit"):
        release(1_000, users=2, items=100)
    with pytest.raises(ValueError, match="at least one rating per user"):
        release(5, users=10)


class Pipe(io.RawIOBase):
    """A write-only stream, like an upload: no seek, no tell."""

    def __init__(self):
        self.data = bytearray()

    def writable(self):
        return True

    def write(self, chunk):
        self.data += chunk
        return len(chunk)


def test_a_stream_that_cannot_seek_gets_a_readable_archive_too():
    first, second = Pipe(), Pipe()
    counts = write_synthetic_release(first, 5_000, seed=4)
    write_synthetic_release(second, 5_000, seed=4)
    assert first.data == second.data
    ratings, movies = tables(bytes(first.data))
    assert len(ratings) == counts["ratings"] == 5_000 and len(movies) == counts["movies"]


def test_cli_writes_the_same_archive(tmp_path, capsys):
    target = tmp_path / "synthetic.zip"
    assert main(["--ratings", "5000", "--seed", "2", "-o", str(target)]) == 0
    assert target.read_bytes() == release(5_000, seed=2)[0]
    assert '"ratings": 5000' in capsys.readouterr().out


def test_cli_refuses_an_impossible_size_and_leaves_no_file(tmp_path, capsys):
    target = tmp_path / "synthetic.zip"
    assert main(["--ratings", "1000", "--users", "2", "--items", "100", "-o", str(target)]) == 2
    assert "cannot fit" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
