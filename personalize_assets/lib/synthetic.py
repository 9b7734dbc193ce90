"""A synthetic MovieLens release in the ml-latest layout: any size, byte-identical per arguments.

For load tests and demos of the pipeline at ml-25m/ml-32m scale without GroupLens. Users
and their ratings are generated in blocks (about a million ratings each), formatted by Arrow
and deflated in a second thread, so memory stays bounded whatever the size. Lines end with
CRLF, as in GroupLens's own CSV releases. The same arguments give the same bytes (given the
same numpy and zlib) on a seekable sink; a pipe gets zip data descriptors instead.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import queue
import sys
import threading
import time
import zipfile
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

MIN_RATINGS_PER_USER = 20  # as in every MovieLens release
FIRST_TIMESTAMP, LAST_TIMESTAMP = 820454400, 1546300799  # 1996-01-01 .. 2018-12-31 (UTC)
RATING_TEXT = [f"{value / 2:.1f}" for value in range(1, 11)]  # "0.5" .. "5.0", as GroupLens writes them
# Share of each rating 0.5..5.0 in ml-25m: mode 4.0, then 3.0, 5.0, 3.5.
RATING_SHARES = np.array([1.6, 3.1, 1.6, 6.6, 5.0, 19.6, 12.7, 26.6, 8.8, 14.5]) / 100.1
GENRES = [  # ml-latest's list with how many movies carry each (ml-25m), for the mix
    ("Drama", 25606), ("Comedy", 16870), ("Thriller", 8654), ("Romance", 7719), ("Action", 7348),
    ("Horror", 5989), ("Documentary", 5605), ("Crime", 5319), ("Adventure", 4145), ("Sci-Fi", 3595),
    ("Children", 2935), ("Animation", 2929), ("Mystery", 2925), ("Fantasy", 2731), ("War", 1874),
    ("Western", 1399), ("Musical", 1054), ("Film-Noir", 353), ("IMAX", 195),
]
NO_GENRES = "(no genres listed)"
ADJECTIVES = ["Silent", "Last", "Broken", "Golden", "Hidden", "Crimson", "Lonely", "Electric", "Wild",
              "Distant", "Frozen", "Secret", "Midnight", "Little", "Endless", "Burning", "Brave", "Strange"]
NOUNS = ["River", "Summer", "Kingdom", "Stranger", "Garden", "Empire", "Journey", "Horizon", "Letter",
         "Island", "Machine", "Shadow", "Promise", "City", "Harbor", "Winter", "Heart", "Mirror", "Storm"]
FOREIGN = ["Amélie", "Déjà vu", "Mañana", "Schöne Grüße", "Ærøskøbing", "Desu nôto", "Łódź", "Þórsmörk"]
# Title shapes and their shares; each appears at least once when there are enough movies.
# About 0.5% of titles have no year, as in the real releases (ml-latest-small: 0.12%).
TITLE_KINDS = {"plain": 0.615, "article": 0.12, "foreign": 0.10, "number": 0.07, "quotes": 0.03,
               "range": 0.02, "no year": 0.005, "trailing space": 0.02, "no genres": 0.01, "imax": 0.01}
BLOCK_RATINGS = 1 << 20
POPULARITY_EXPONENT = 1.2
ZIP_DATE = (2018, 9, 26, 0, 0, 0)
COMPRESS_LEVEL = 1  # six times faster than zlib's default for about 10% more bytes


def default_sizes(ratings: int, users: int | None, items: int | None) -> tuple[int, int]:
    """About 150 ratings a user and 12 * sqrt(ratings) movies: ml-1m and ml-25m both fit that."""
    if users is None:
        users = max(1, min(round(ratings / 150), ratings // MIN_RATINGS_PER_USER))
    if items is None:
        items = max(50, round(12 * math.sqrt(ratings)), -(-ratings // users))
    if users < 1 or items < 1 or ratings < users:
        raise ValueError(f"need at least one rating per user and one movie: ratings={ratings}, users={users}, items={items}")
    if ratings > users * items:
        raise ValueError(f"{ratings:,} ratings cannot fit {users:,} users x {items:,} movies without repeats")
    return users, items


def ratings_per_user(rng: np.random.Generator, ratings: int, users: int, items: int) -> np.ndarray:
    """Heavy-tailed (lognormal) activity, at least 20 each when the total allows, at most `items`."""
    floor = min(MIN_RATINGS_PER_USER, ratings // users, items)
    weights = rng.lognormal(0.0, 1.4, users)
    counts = floor + rng.multinomial(ratings - floor * users, weights / weights.sum())
    while (counts > items).any():  # move the overflow of users who would rate everything
        excess = int((counts - items).clip(0).sum())
        counts = counts.clip(max=items)
        room = np.flatnonzero(counts < items)
        share = weights[room] * (items - counts[room])
        counts[room] += rng.multinomial(excess, share / share.sum())
    return counts


@dataclass(frozen=True)
class Popularity:
    """Power-law popularity: the movie of rank r (from 0) is drawn with weight about
    (r + 1) ** -POPULARITY_EXPONENT, by inverse transform of the continuous law on [1, N + 1).
    The top tenth of the movies gets 50% (60k ratings) to 80% (25M) of the ratings;
    ml-latest-small: 60%."""

    movie_of_rank: np.ndarray
    log_weights: np.ndarray  # by movie index

    @classmethod
    def random(cls, rng: np.random.Generator, items: int) -> "Popularity":
        movie_of_rank = rng.permutation(items)
        edges = np.arange(1, items + 2, dtype=float) ** (1.0 - POPULARITY_EXPONENT)
        log_weights = np.empty(items)
        log_weights[movie_of_rank] = np.log(edges[:-1] - edges[1:])
        return cls(movie_of_rank, log_weights)

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        items, power = len(self.movie_of_rank), 1.0 - POPULARITY_EXPONENT
        x = (1.0 - rng.random(size) * (1.0 - (items + 1.0) ** power)) ** (1.0 / power)
        return self.movie_of_rank[(x.astype(np.int64) - 1).clip(0, items - 1)]


def sample_movies(rng: np.random.Generator, counts: np.ndarray, popularity: Popularity) -> np.ndarray:
    """Distinct movies for each user, weighted by popularity: sorted keys user * items + movie.

    Draws with replacement, tops up the users left short, then keeps a random `count` of
    each user's draws; users rating a large share of all movies take Gumbel top-k instead.
    """
    items = len(popularity.log_weights)
    heavy = counts > items // 8
    light = np.flatnonzero(~heavy)
    need = np.zeros(len(counts), np.int64)
    need[light] = counts[light]
    keys, have = np.empty(0, np.int64), np.zeros(len(counts), np.int64)
    for attempt in range(8):
        short = np.flatnonzero(have < need)
        if not len(short):
            break
        draws = np.ceil((need[short] - have[short]) * (1.25 * 2**attempt)).astype(np.int64) + 2
        users = np.repeat(short, draws)
        keys = distinct(np.concatenate([keys, users * items + popularity.draw(rng, len(users))]))
        have = np.bincount(keys // items, minlength=len(counts))
    stubborn = np.flatnonzero(have < need)
    if len(stubborn):  # rare: drop their draws and give them the exact method below
        keys = keys[~np.isin(keys // items, stubborn)]
        have[stubborn] = 0
    # Keep `count` random draws of each user: order by user, then a random priority.
    order = np.argsort((keys // items) << 32 | rng.integers(0, 1 << 32, len(keys)))
    owner = keys[order] // items
    starts = np.concatenate([[0], np.cumsum(have)[:-1]])
    keys = np.sort(keys[order[np.arange(len(order)) - starts[owner] < need[owner]]])
    exact = [keys]
    for user in np.concatenate([np.flatnonzero(heavy), stubborn]):
        priority = popularity.log_weights + rng.gumbel(0.0, 1.0, items)
        chosen = np.argpartition(-priority, counts[user] - 1)[: counts[user]]
        exact.append(user * items + np.sort(chosen))
    return np.sort(np.concatenate(exact)) if len(exact) > 1 else keys


def distinct(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values (np.unique's hash path is several times slower on these)."""
    values = np.sort(values)
    return values[np.concatenate([[True], values[1:] != values[:-1]])] if len(values) else values


def block_table(rng, first_user: int, counts: np.ndarray, movie_ids, popularity: Popularity, quality) -> pa.Table:
    """The rating rows of users first_user.. (1-based), sorted by userId then movieId."""
    items = len(movie_ids)
    keys = sample_movies(rng, counts, popularity)
    user, movie = keys // items, keys % items
    size = len(keys)
    # Rating: item quality + user leniency + noise, mapped onto the MovieLens histogram.
    score = quality[movie] + rng.normal(0.0, 0.5, len(counts))[user] + rng.normal(0.0, 1.0, size)
    uniform = 1.0 / (1.0 + np.exp(-1.702 * score / math.sqrt(0.36 + 0.25 + 1.0)))
    rating = np.searchsorted(np.cumsum(RATING_SHARES)[:-1], uniform).astype(np.int8)
    # Time: each user's ratings are a forward walk of session gaps (seconds apart, with
    # rare long breaks) over an active span; popular movies tend to be rated first.
    start = rng.uniform(FIRST_TIMESTAMP, LAST_TIMESTAMP - 3600, len(counts))
    span = np.minimum(rng.lognormal(math.log(20 * 86400), 2.2, len(counts)), LAST_TIMESTAMP - start)
    walk = np.concatenate([[0.0], np.cumsum(rng.pareto(1.1, size) + 0.05)])
    offsets = np.concatenate([[0], np.cumsum(counts)])
    low, high, walk = walk[offsets[:-1]], walk[offsets[1:]], walk[1:]  # low: just before each user's first
    fraction = (walk - low[user]) / (high - low)[user]
    when = np.empty(size, np.int64)
    eagerness = np.clip(rng.gumbel(0.0, 1.0, size) - popularity.log_weights[movie], -31, 31)
    first_seen = np.argsort(user * 64.0 + eagerness)  # by user, then popular first
    when[first_seen] = start[user] + fraction * span[user]
    return pa.table({
        "userId": pa.array((first_user + user).astype(np.int32)),
        "movieId": pa.array(movie_ids[movie]),
        "rating": pa.array(RATING_TEXT).take(pa.array(rating)),
        "timestamp": pa.array(when),
    })


def movie_titles(rng: np.random.Generator, items: int) -> tuple[list[str], list[str]]:
    """Titles in MovieLens's shapes (", The", quotes, "(2006–2007)", no year...) and genres."""
    kinds = list(TITLE_KINDS)
    chosen = rng.choice(len(kinds), items, p=np.array(list(TITLE_KINDS.values())))
    chosen[rng.permutation(items)[: min(items, len(kinds))]] = np.arange(min(items, len(kinds)))
    years = np.clip(2018 - np.floor(rng.exponential(18.0, items)), 1902, 2018).astype(int)
    words = rng.integers(0, 1 << 30, (items, 4))
    counts = np.minimum(rng.geometric(0.55, items), 5)
    names, weights = [g for g, _ in GENRES], np.array([n for _, n in GENRES], float)
    ranked = np.argsort(-(np.log(weights / weights.sum()) + rng.gumbel(0.0, 1.0, (items, len(names)))), axis=1)
    titles, genres = [], []
    for index in range(items):
        kind, year, (a, b, c, d) = kinds[chosen[index]], years[index], words[index]
        name = f"{ADJECTIVES[a % len(ADJECTIVES)]} {NOUNS[b % len(NOUNS)]}"
        title = {
            "article": f"{NOUNS[b % len(NOUNS)]} of the {NOUNS[c % len(NOUNS)]}, The ({year})",
            "foreign": f"{name} ({FOREIGN[c % len(FOREIGN)]}) ({year})",
            "number": f"{NOUNS[b % len(NOUNS)]} {1900 + d % 200} ({year})",
            "quotes": f'Operation "{NOUNS[c % len(NOUNS)]}" ({year})',
            "range": f"{name} ({min(year, 2015)}–{min(year, 2015) + 1 + d % 3})",
            "no year": f"{name} {1 + d % 9}",
            "trailing space": f"{name} ({year}) ",
        }.get(kind, f"{name} ({year})")
        picked = sorted(names[i] for i in ranked[index, : counts[index]])
        if kind == "imax" and "IMAX" not in picked:
            picked = sorted(picked + ["IMAX"])
        titles.append(title)
        genres.append(NO_GENRES if kind == "no genres" else "|".join(picked))
    return titles, genres


def movies_csv(movie_ids: np.ndarray, titles: list[str], genres: list[str]) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")  # quotes only titles with , or "
    writer.writerow(["movieId", "title", "genres"])
    writer.writerows(zip(movie_ids.tolist(), titles, genres))
    return text.getvalue().encode("utf-8")


def _member(name: str) -> zipfile.ZipInfo:
    """A member with a fixed date and attributes (a ZipInfo would otherwise stamp the clock)."""
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
    info.compress_type, info.create_system, info.external_attr = zipfile.ZIP_DEFLATED, 3, 0o644 << 16
    # A ZipInfo does not take the archive's level: without this zlib's default (6) applies.
    setattr(info, "compress_level" if hasattr(info, "compress_level") else "_compresslevel", COMPRESS_LEVEL)
    return info


def write_synthetic_release(sink: BinaryIO, ratings: int, seed: int = 0, variant: str = "synthetic",
                            users: int | None = None, items: int | None = None) -> dict:
    """Write `<variant>/{movies.csv,ratings.csv,README.txt}` as a zip to `sink`; return the counts."""
    users, items = default_sizes(ratings, users, items)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0]))
    counts = ratings_per_user(rng, ratings, users, items)
    movie_ids = np.sort(rng.choice(np.arange(1, 3 * items + 1), items, replace=False)).astype(np.int32)
    popularity = Popularity.random(rng, items)
    quality = rng.normal(0.0, 0.6, items)
    titles, genres = movie_titles(rng, items)
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL) as archive:
        archive.writestr(_member(f"{variant}/movies.csv"), movies_csv(movie_ids, titles, genres))
        totals = _write_ratings(archive, variant, seed, counts, movie_ids, popularity, quality)
        result = {"ratings": int(counts.sum()), "users": users, "movies": items, **totals}
        archive.writestr(_member(f"{variant}/README.txt"), readme(variant, seed, result))
    return result


def _write_ratings(archive, variant, seed, counts, movie_ids, popularity, quality) -> dict:
    """Generate blocks of users on this thread while another formats and deflates the last one."""
    cumulative = np.cumsum(counts)
    ends = np.searchsorted(cumulative, np.arange(BLOCK_RATINGS, cumulative[-1], BLOCK_RATINGS)) + 1
    ends = np.unique(np.append(ends.clip(max=len(counts)), len(counts)))
    handoff: queue.Queue = queue.Queue(maxsize=2)
    rated = np.zeros(len(movie_ids), bool)
    first, last = LAST_TIMESTAMP, FIRST_TIMESTAMP
    failure: list[BaseException] = []

    def write() -> None:
        try:
            with archive.open(_member(f"{variant}/ratings.csv"), "w", force_zip64=True) as out:
                header = True
                while (table := handoff.get()) is not None:
                    buffer = io.BytesIO()
                    options = pacsv.WriteOptions(include_header=header, eol="\r\n", quoting_style="none",
                                                 quoting_header="none", batch_size=1 << 16)
                    pacsv.write_csv(table, buffer, options)
                    out.write(buffer.getbuffer())
                    header = False
        except BaseException as error:  # re-raised on the generating thread
            failure.append(error)
            while handoff.get() is not None:
                pass

    writer = threading.Thread(target=write, name="synthetic-ratings-writer")
    writer.start()
    try:
        start = 0
        for block, end in enumerate(ends):
            rng = np.random.default_rng(np.random.SeedSequence([seed, 1, block]))
            table = block_table(rng, start + 1, counts[start:end], movie_ids, popularity, quality)
            stamps = table.column("timestamp").to_numpy()
            rated[np.searchsorted(movie_ids, table.column("movieId").to_numpy())] = True
            first, last = min(first, int(stamps.min())), max(last, int(stamps.max()))
            handoff.put(table)
            start = end
            if failure:
                break
    finally:
        handoff.put(None)
        writer.join()
    if failure:
        raise failure[0]
    return {"rated_movies": int(rated.sum()), "first_timestamp": first, "last_timestamp": last}


def readme(variant: str, seed: int, counts: dict) -> str:
    first = time.strftime("%Y-%m-%d", time.gmtime(counts["first_timestamp"]))
    last = time.strftime("%Y-%m-%d", time.gmtime(counts["last_timestamp"]))
    return (
        f"Summary\r\n=======\r\n\r\nThis dataset ({variant}) is SYNTHETIC: generated by personalize_assets.lib.synthetic "
        f"with seed {seed}, in the layout of GroupLens's ml-latest releases. It contains {counts['ratings']} ratings "
        f"across {counts['movies']} movies ({counts['rated_movies']} rated), made by {counts['users']} users "
        f"between {first} and {last}. No real person or film is described.\r\n\r\n"
        "Users rate at least 20 movies where the total allows; activity and popularity are heavy-tailed; "
        "ratings are 0.5-5.0 stars in half steps, distributed like ml-25m.\r\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m personalize_assets.lib.synthetic", description=__doc__)
    parser.add_argument("--ratings", type=int, required=True, help="how many ratings (e.g. 25000000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--variant", default="synthetic", help="the folder name inside the zip")
    parser.add_argument("--users", type=int, help="default: about one per 150 ratings")
    parser.add_argument("--items", type=int, help="movies; default: about 12 * sqrt(ratings)")
    parser.add_argument("-o", "--output", required=True, help="the .zip to write")
    args = parser.parse_args(argv)
    began, partial = time.monotonic(), args.output + ".partial"
    try:
        with open(partial, "wb") as sink:
            counts = write_synthetic_release(sink, args.ratings, args.seed, args.variant, args.users, args.items)
        os.replace(partial, args.output)  # a failed run leaves no half-written archive behind
    except ValueError as error:
        os.remove(partial)
        print(f"error: {error}", file=sys.stderr)
        return 2
    except BaseException:
        if os.path.exists(partial):
            os.remove(partial)
        raise
    print(json.dumps({**counts, "output": args.output, "seconds": round(time.monotonic() - began, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
