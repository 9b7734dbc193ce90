"""The legacy GroupLens formats (ml-100k, ml-1m, ml-10m) read into the canonical tables, and
give the same Personalize datasets as the same data published as a CSV release."""

from __future__ import annotations

import io
import zipfile

import pandas as pd
import pyarrow as pa
import pytest

from personalize_assets.lib.releases import (
    MOVIES_SCHEMA,
    RATINGS_SCHEMA,
    ReleaseError,
    open_archive,
    read_movies,
    read_ratings,
    release_format,
)
from personalize_assets.lib.releases.legacy import ML100K_GENRES
from personalize_assets.lib.transforms import movies_to_items, ratings_to_interactions
from tests.conftest import csv_release_bytes

# (movieId, title, genres) as the canonical table holds them.
MOVIES_1M = [
    (1, "Toy Story (1995)", "Animation|Children's|Comedy"),
    (2, "Misérables, Les (1995)", "Drama|Musical"),
    (3, "Star Wars: Episode IV - A New Hope (1977)", "Action|Adventure|Fantasy|Sci-Fi"),
    (4, "2001: A Space Odyssey (1968)", "Drama|Mystery|Sci-Fi|Thriller"),
    (5, 'Movie with "quotes" (2001)', "Comedy"),
]
MOVIES_10M = [
    (1, "Toy Story (1995)", "Adventure|Animation|Children|Comedy|Fantasy"),
    (2, "Amélie (Fabuleux destin d'Amélie Poulain, Le) (2001)", "Comedy|Romance"),
    (3, "Death Note: Desu nôto (2006–2007)", "Animation|Mystery"),
    (4, "Babylon 5", "Sci-Fi"),
    (5, "Pull My Daisy (1958)", "(no genres listed)"),
    (6, "Matrix, The (1999)", "Action|IMAX|Sci-Fi|Thriller"),
]
RATINGS_WHOLE = [(1, 1, 5.0, 978300760), (1, 3, 3.0, 978302109), (2, 2, 4.0, 978298413),
                 (2, 4, 1.0, 978299000), (3, 5, 2.0, 978220179), (3, 1, 4.0, 978199279)]
RATINGS_HALF = [(1, 1, 3.5, 1112486027), (1, 2, 0.5, 1112484676), (2, 6, 4.5, 1230000000),
                (2, 3, 5.0, 1230000100), (7, 5, 2.5, 838985046), (71567, 4, 1.0, 912580553)]


def zip_bytes(files: dict[str, bytes | str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def dat_lines(rows, line_end="\n") -> str:
    return "".join("::".join(str(v) for v in row) + line_end for row in rows)


def dat_rating(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


def ml1m_bytes(ratings=RATINGS_WHOLE, movies=MOVIES_1M, *, ratings_text=None, movies_text=None) -> bytes:
    if ratings_text is None:
        ratings_text = dat_lines((u, i, dat_rating(r), t) for u, i, r, t in ratings)
    if movies_text is None:
        movies_text = dat_lines(movies).encode("latin-1")
    return zip_bytes({
        "ml-1m/ratings.dat": ratings_text, "ml-1m/movies.dat": movies_text,
        "ml-1m/users.dat": "1::F::1::10::48067\n", "ml-1m/README": "SUMMARY\n",
    })


def ml10m_bytes(ratings=RATINGS_HALF, movies=MOVIES_10M, *, ratings_text=None, movies_text=None,
                line_end="\n") -> bytes:
    if ratings_text is None:
        ratings_text = dat_lines(((u, i, dat_rating(r), t) for u, i, r, t in ratings), line_end)
    if movies_text is None:
        movies_text = dat_lines(movies, line_end).encode("utf-8")
    return zip_bytes({
        "ml-10M100K/ratings.dat": ratings_text, "ml-10M100K/movies.dat": movies_text,
        "ml-10M100K/tags.dat": "15::4973::excellent!::1215184630\n", "ml-10M100K/README.html": "<html></html>",
    })


# ml-100k: (movieId, title, genre names set) and the canonical genres they must become.
MOVIES_100K = [
    (1, "Toy Story (1995)", {"Animation", "Children's", "Comedy"}, "Animation|Children's|Comedy"),
    (2, "Café (1994)", {"Drama"}, "Drama"),
    (3, "Á köldum klaka (Cold Fever) (1994)", {"Comedy", "Drama"}, "Comedy|Drama"),
    (4, "unknown", {"unknown"}, "(no genres listed)"),
    (5, "Good Morning (1971)", set(), "(no genres listed)"),
    (6, "Shanghai Triad (Yao a yao yao dao waipo qiao) (1995)", {"unknown", "Drama"}, "Drama"),
]
RATINGS_100K = [(196, 1, 3.0, 881250949), (186, 2, 3.0, 891717742), (22, 3, 1.0, 878887116),
                (244, 4, 2.0, 880606923), (166, 5, 1.0, 886397596), (298, 6, 4.0, 884182806)]


def u_item_text(movies=MOVIES_100K, genres=ML100K_GENRES) -> str:
    lines = []
    for movie_id, title, chosen, _ in movies:
        flags = "|".join("1" if name in chosen else "0" for name in genres)
        lines.append(f"{movie_id}|{title}|01-Jan-1995||http://us.imdb.com/M/title-exact?x|{flags}\n")
    return "".join(lines)


def ml100k_bytes(*, data_text=None, item_text=None, genre_text: str | None = "default") -> bytes:
    if data_text is None:
        data_text = "".join(f"{u}\t{i}\t{int(r)}\t{t}\n" for u, i, r, t in RATINGS_100K)
    if item_text is None:
        item_text = u_item_text().encode("latin-1")
    files = {"ml-100k/u.data": data_text, "ml-100k/u.item": item_text, "ml-100k/u1.base": "1\t1\t5\t874965758\n",
             "ml-100k/README": "SUMMARY & USAGE LICENSE\n"}
    if genre_text == "default":
        genre_text = "".join(f"{name}|{index}\n" for index, name in enumerate(ML100K_GENRES)) + "\n"
    if genre_text is not None:
        files["ml-100k/u.genre"] = genre_text
    return zip_bytes(files)


# What every reader returns for these rows: epoch seconds fit in 32 bits.
NARROW_RATINGS_SCHEMA = RATINGS_SCHEMA.set(3, pa.field("timestamp", pa.int32()))


def ratings_table(rows) -> pa.Table:
    return pa.Table.from_pylist([dict(zip(RATINGS_SCHEMA.names, row)) for row in rows], schema=NARROW_RATINGS_SCHEMA)


def movies_table(rows) -> pa.Table:
    return pa.Table.from_pylist([dict(zip(MOVIES_SCHEMA.names, row)) for row in rows], schema=MOVIES_SCHEMA)


def read_both(data: bytes, label: str = "release.zip") -> tuple[str, pa.Table, pa.Table]:
    archive = open_archive(io.BytesIO(data), label)
    return release_format(archive, label).name, read_ratings(archive, label), read_movies(archive, label)


def csv_quoted(title: str) -> str:
    return '"' + title.replace('"', '""') + '"' if any(c in title for c in ',"') else title


def same_data_as_csv(ratings_rows, movie_rows) -> bytes:
    return csv_release_bytes(
        ratings=[(u, i, r, t) for u, i, r, t in ratings_rows],
        movies=[(m, csv_quoted(title), genres) for m, title, genres in movie_rows],
    )


def frame(table: pa.Table) -> pd.DataFrame:
    # As the ratings/movies assets turn a table into a frame.
    return table.to_pandas(types_mapper=pd.ArrowDtype)


LEGACY_CASES = {
    "ml-100k": (ml100k_bytes, RATINGS_100K, [(m, t, g) for m, t, _, g in MOVIES_100K]),
    "ml-1m": (ml1m_bytes, RATINGS_WHOLE, MOVIES_1M),
    "ml-10m": (ml10m_bytes, RATINGS_HALF, MOVIES_10M),
}


@pytest.mark.parametrize("variant", LEGACY_CASES)
def test_legacy_release_reads_into_the_canonical_tables(variant):
    build, ratings_rows, movie_rows = LEGACY_CASES[variant]
    name, ratings, movies = read_both(build(), f"{variant}.zip")
    assert name == variant
    assert ratings.schema == NARROW_RATINGS_SCHEMA  # whatever the format
    assert movies.schema == MOVIES_SCHEMA
    assert ratings.equals(ratings_table(ratings_rows))
    assert movies.equals(movies_table(movie_rows))


@pytest.mark.parametrize("variant", LEGACY_CASES)
def test_legacy_release_gives_the_same_personalize_datasets_as_csv(variant):
    build, ratings_rows, movie_rows = LEGACY_CASES[variant]
    _, ratings, movies = read_both(build(), f"{variant}.zip")
    csv_name, csv_ratings, csv_movies = read_both(same_data_as_csv(ratings_rows, movie_rows), "ml-test.zip")
    assert csv_name == "csv"
    assert csv_ratings.equals(ratings) and csv_movies.equals(movies)
    pd.testing.assert_frame_equal(ratings_to_interactions(frame(ratings)), ratings_to_interactions(frame(csv_ratings)))
    items = movies_to_items(frame(movies))
    pd.testing.assert_frame_equal(items, movies_to_items(frame(csv_movies)))
    assert items["ITEM_ID"].tolist() == [m for m, _, _ in movie_rows]


def test_ml100k_titles_are_latin1_and_unknown_is_not_a_genre():
    _, _, movies = read_both(ml100k_bytes())
    rows = {row["movieId"]: row for row in movies.to_pylist()}
    assert rows[2]["title"] == "Café (1994)"
    assert rows[3]["title"].startswith("Á köldum klaka")
    assert rows[4]["genres"] == rows[5]["genres"] == "(no genres listed)"
    assert rows[6]["genres"] == "Drama"
    assert not any("unknown" in row["genres"] for row in rows.values())
    years = movies_to_items(frame(movies))["YEAR"].tolist()
    assert years[:3] == [1995, 1994, 1994]


def test_ml100k_without_u_genre_uses_the_published_genre_list():
    _, _, with_file = read_both(ml100k_bytes())
    _, _, without = read_both(ml100k_bytes(genre_text=None))
    assert without.equals(with_file)


def test_ml100k_genre_names_come_from_u_genre():
    renamed = [name.replace("Children's", "Children") for name in ML100K_GENRES]
    genre_text = "".join(f"{name}|{index}\n" for index, name in enumerate(renamed))
    _, _, movies = read_both(ml100k_bytes(genre_text=genre_text))
    assert movies.column("genres")[0].as_py() == "Animation|Children|Comedy"


def test_ml10m_movies_in_latin1_are_read_too():
    latin1_movies = [(1, "Misérables, Les (1995)", "Drama"), (2, "Toy Story (1995)", "Comedy")]
    _, _, movies = read_both(ml10m_bytes(movies=latin1_movies, movies_text=dat_lines(latin1_movies).encode("latin-1")))
    assert movies.column("title").to_pylist() == ["Misérables, Les (1995)", "Toy Story (1995)"]


def test_crlf_line_ends_are_read_like_lf():
    _, ratings, movies = read_both(ml10m_bytes(line_end="\r\n"))
    assert ratings.equals(ratings_table(RATINGS_HALF))
    assert movies.equals(movies_table(MOVIES_10M))


def test_csv_release_is_still_read_as_csv_even_beside_legacy_files():
    name, ratings, _ = read_both(csv_release_bytes(ratings=RATINGS_HALF, extra={"ml-test/ratings.dat": "1::1::5::1\n"}))
    assert name == "csv" and ratings.equals(ratings_table(RATINGS_HALF))


# -- bad input: every error names the file, the line, the column and the value -----------------

def raised(data: bytes, which: str = "ratings", label: str = "bad.zip") -> str:
    archive = open_archive(io.BytesIO(data), label)
    reader = read_ratings if which == "ratings" else read_movies
    with pytest.raises(ReleaseError) as error:
        reader(archive, label)
    return str(error.value)


def test_text_in_a_numeric_field_of_u_data():
    message = raised(ml100k_bytes(data_text="196\t242\t3\t881250949\n186\t302\tthree\t891717742\n"))
    assert "u.data in bad.zip line 2, column 3 (rating): 'three' is not a finite number" in message


def test_text_in_a_numeric_field_of_ratings_dat():
    message = raised(ml1m_bytes(ratings_text="1::1193::5::978300760\n1::661::3::978302109\n1::abc::3::978301968\n"))
    assert "ratings.dat in bad.zip line 3, column 2 (movieId): 'abc' is not a whole number" in message


def test_single_colon_in_ratings_dat():
    message = raised(ml10m_bytes(ratings_text="1::122::5::838985046\n1:185::5::838983525\n"))
    assert "ratings.dat in bad.zip line 2: expected 4 fields" in message
    assert "'1:185'" in message


def test_stray_character_between_the_colons_of_ratings_dat():
    # ':'-splitting alone would read "1:x:2" as user 1, movie 2 without complaint.
    message = raised(ml10m_bytes(ratings_text="1::122::5::838985046\n1:x:2::5::838983525\n"))
    assert "ratings.dat in bad.zip line 2: expected 4 fields" in message and "'1:x:2'" in message


def test_empty_field_in_ratings_dat():
    message = raised(ml10m_bytes(ratings_text="1::122::5::838985046\n1::::5::838983525\n"))
    assert "ratings.dat in bad.zip line 2, column 2 (movieId): '' is not a whole number" in message


def test_user_id_beyond_int32_in_ratings_dat():
    message = raised(ml10m_bytes(ratings_text="1::122::5::838985046\n3000000000::185::5::838983525\n"))
    assert "ratings.dat in bad.zip line 2, column 1 (userId): '3000000000' is outside the 32-bit range" in message


def test_not_a_number_rating_in_u_data():
    message = raised(ml100k_bytes(data_text="196\t242\t3\t881250949\n186\t302\tNaN\t891717742\n"))
    assert "u.data in bad.zip line 2, column 3 (rating): 'NaN' is not a finite number" in message


def test_wrong_field_count_in_u_data():
    message = raised(ml100k_bytes(data_text="196\t242\t3\t881250949\n186\t302\t3\n"))
    assert "u.data in bad.zip line 2: expected 4 fields" in message


def test_empty_ratings_dat():
    assert "ratings.dat in bad.zip is empty" in raised(ml10m_bytes(ratings_text=""))


def test_movies_dat_line_without_separators():
    bad = dat_lines(MOVIES_10M[:2]) + "3 Death Note Animation\n"
    message = raised(ml10m_bytes(movies_text=bad.encode()), "movies")
    assert "movies.dat in bad.zip line 3: expected 3 fields" in message


def test_movies_dat_with_text_for_an_id():
    bad = dat_lines(MOVIES_1M[:1]) + "x12::Heat (1995)::Action\n"
    message = raised(ml1m_bytes(movies_text=bad.encode("latin-1")), "movies")
    assert "movies.dat in bad.zip line 2, column 1 (movieId): 'x12' is not a whole number" in message


def test_u_item_with_a_bad_genre_flag():
    text = u_item_text(MOVIES_100K[:2]).replace("|0|0|0\n", "|0|0|2\n", 1)
    message = raised(ml100k_bytes(item_text=text), "movies")
    assert "u.item in bad.zip line 1, column 24 (Western): '2' is not a genre flag (0 or 1)" in message


def test_u_item_with_a_missing_genre_flag():
    text = u_item_text(MOVIES_100K[:2]).replace("|0\n", "\n", 1)
    message = raised(ml100k_bytes(item_text=text), "movies")
    assert "u.item in bad.zip line 1: expected 24 fields" in message


def test_u_genre_with_a_gap():
    message = raised(ml100k_bytes(genre_text="unknown|0\nAction|2\n"), "movies")
    assert "u.genre in bad.zip numbers its genres [0, 2]" in message


def test_movie_id_beyond_int32():
    bad = dat_lines([(3_000_000_000, "Heat (1995)", "Action")])
    message = raised(ml10m_bytes(movies_text=bad.encode()), "movies")
    assert "movies.dat in bad.zip line 1, column 1 (movieId): '3000000000' is outside" in message


def damaged(data: bytes, member: str) -> bytes:
    """`data` with bytes flipped in the middle of `member`'s compressed stream."""
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(member)
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + info.compress_size // 2
    spoiled = bytearray(data)
    for offset in range(start, start + 64):
        spoiled[offset] ^= 0x5A
    return bytes(spoiled)


def larger_ml10m() -> bytes:
    ratings = [(user, movie, 3.5, 1_000_000_000 + user) for user in range(1, 400) for movie in range(1, 30)]
    movies = [(movie, f"Film {movie} ({1950 + movie % 60})", "Drama") for movie in range(1, 2000)]
    return ml10m_bytes(ratings=ratings, movies=movies)


@pytest.mark.parametrize("member, which", [("ratings.dat", "ratings"), ("movies.dat", "movies")])
def test_damaged_member(member, which):
    message = raised(damaged(larger_ml10m(), f"ml-10M100K/{member}"), which)
    assert f"{member} in bad.zip is damaged inside the archive" in message and "download the release again" in message
