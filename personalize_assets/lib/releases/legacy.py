"""The legacy GroupLens releases (ml-100k, ml-1m, ml-10m): headerless tab, '|' and '::' files.

Read into the same canonical tables as the CSV releases, with these rules:
- Text encoding: a movies file that is valid UTF-8 is read as UTF-8, otherwise as latin-1,
  decided per file. GroupLens wrote ml-100k and ml-1m in latin-1 and ml-10m in UTF-8 as far
  as we know; a latin-1 file with accented titles is practically never valid UTF-8, so
  the rule reads either kind (and a copy someone re-saved as UTF-8) without mojibake.
- Genres keep the names each release uses ("Children's" in ml-100k and ml-1m, "Children"
  in the CSV releases): the Personalize GENRES field is categorical within one release.
- ml-100k's "unknown" genre flag means GroupLens did not know the genres: it is never
  written as a genre, and a movie with no other flag gets "(no genres listed)", the value
  the CSV releases use for the same case.
"""

from __future__ import annotations

import zipfile
import zlib

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from .archive import find_member, member_names
from .diagnose import check_fields, decoded_lines
from .errors import ReleaseError
from .members import open_member
from .tables import MOVIES_KINDS, MOVIES_SCHEMA, RATINGS_KINDS, RATINGS_SCHEMA

NO_GENRES = "(no genres listed)"
UNKNOWN_GENRE = "unknown"
# u.genre of ml-100k, in flag order; used when an archive lacks u.genre.
ML100K_GENRES = [
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
    "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi",
    "Thriller", "War", "Western",
]
ML100K_ITEM_KINDS = [
    ("movie id", "int"), ("movie title", "str"), ("release date", "str"),
    ("video release date", "str"), ("IMDb URL", "str"),
]
INT32_MAX = 2**31 - 1
DAMAGE = (zipfile.BadZipFile, EOFError, zlib.error)  # what a corrupt member raises while inflating


def _damaged(where: str, error: Exception) -> ReleaseError:
    return ReleaseError(f"{where} is damaged inside the archive ({error}); download the release again.")


def read_separated_ratings(archive: zipfile.ZipFile, filename: str, separator: str, label: str) -> pa.Table:
    """A headerless `user, item, rating, timestamp` file with Arrow, in the canonical schema.

    A '::' separator is parsed as ':' with the empty field between the two colons typed
    null, so Arrow itself rejects any line where a lone ':' or a stray character shows up.
    """
    member = find_member(archive, filename, label)
    where = f"{filename} in {label}"
    if separator == "::":
        names = ["userId", "gap1", "movieId", "gap2", "rating", "gap3", "timestamp"]
        delimiter = ":"
    elif len(separator) == 1:
        names, delimiter = list(RATINGS_SCHEMA.names), separator
    else:
        raise ValueError(f"unsupported separator {separator!r}")
    types = {name: RATINGS_SCHEMA.field(name).type if name in RATINGS_SCHEMA.names else pa.null() for name in names}
    try:
        with open_member(archive, member) as raw:
            table = pacsv.read_csv(
                raw,
                read_options=pacsv.ReadOptions(column_names=names, block_size=16 << 20),
                parse_options=pacsv.ParseOptions(delimiter=delimiter, quote_char=False),
                convert_options=pacsv.ConvertOptions(column_types=types, null_values=[""]),
            )
    except DAMAGE as error:
        raise _damaged(where, error) from error
    except pa.ArrowInvalid as error:
        _diagnose_ratings(archive, member, where, separator)
        if str(error).startswith("Empty CSV"):
            table = None
        else:
            raise ReleaseError(
                f"{where} could not be read: {error}. Search the file for that value and fix or remove its line."
            ) from error
    if table is None or table.num_rows == 0:
        raise ReleaseError(f"{where} is empty: expected one rating a line, {separator!r}-separated.")
    table = table.select(RATINGS_SCHEMA.names)
    if any(column.null_count for column in table.columns) or not pc.all(pc.is_finite(table["rating"])).as_py():
        _diagnose_ratings(archive, member, where, separator)  # an empty field, or NaN / inf
        raise ReleaseError(f"{where} has an empty or non-finite field on some line; fix or remove that line.")
    return table


def _diagnose_ratings(archive: zipfile.ZipFile, member, where: str, separator: str) -> None:
    """Raise at the first bad line: wrong field count, a non-number, or an id beyond int32."""
    # latin-1 decodes any byte, so a stray byte is reported as the value it spoils.
    with archive.open(member) as raw:
        for number, line in decoded_lines(raw, where, "latin-1"):
            fields = line.rstrip("\r\n").split(separator)
            if fields == [""]:
                continue
            check_fields(where, number, fields, RATINGS_KINDS)
            for column, name in ((1, "userId"), (2, "movieId")):
                if not -INT32_MAX - 1 <= int(fields[column - 1]) <= INT32_MAX:
                    raise ReleaseError(
                        f"{where} line {number}, column {column} ({name}): {fields[column - 1]!r} is outside "
                        f"the 32-bit range MovieLens ids use. Fix or remove that line."
                    )


def decoded_text(archive: zipfile.ZipFile, filename: str, label: str) -> list[tuple[int, str]]:
    """(line number, text) of a small text member, UTF-8 if it is valid UTF-8, else latin-1."""
    try:
        data = archive.read(find_member(archive, filename, label))
    except DAMAGE as error:
        raise _damaged(f"{filename} in {label}", error) from error
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    # Not splitlines(): latin-1 text can hold \x1c..\x1e and \x85, which it also splits on.
    lines = [(number, line.rstrip("\r")) for number, line in enumerate(text.split("\n"), start=1)]
    return [(number, line) for number, line in lines if line]


def _movie_id(where: str, number: int, value: str) -> int:
    movie_id = int(value)
    if not 0 <= movie_id <= INT32_MAX:
        raise ReleaseError(
            f"{where} line {number}, column 1 (movieId): {value!r} is outside 0..{INT32_MAX:,}. "
            "Fix or remove that line."
        )
    return movie_id


def movies_table(ids: list[int], titles: list[str], genres: list[str]) -> pa.Table:
    return pa.table(
        [pa.array(ids, pa.int32()), pa.array(titles, pa.string()), pa.array(genres, pa.string())],
        schema=MOVIES_SCHEMA,
    )


def read_dat_movies(archive: zipfile.ZipFile, label: str) -> pa.Table:
    """movies.dat: `MovieID::Title::Genres`; split on the first and last '::' (titles hold ':')."""
    where = f"movies.dat in {label}"
    ids, titles, genres = [], [], []
    for number, line in decoded_text(archive, "movies.dat", label):
        first, last = line.find("::"), line.rfind("::")
        fields = [line[:first], line[first + 2:last], line[last + 2:]] if first != last else line.split("::")
        check_fields(where, number, fields, MOVIES_KINDS)
        ids.append(_movie_id(where, number, fields[0]))
        titles.append(fields[1])
        genres.append(fields[2])
    if not ids:
        raise ReleaseError(f"{where} is empty: expected one MovieID::Title::Genres line per movie.")
    return movies_table(ids, titles, genres)


def ml100k_genres(archive: zipfile.ZipFile, label: str) -> list[str]:
    """Genre names in flag order, from u.genre (`name|index`) or, without it, the published list."""
    if "u.genre" not in member_names(archive):
        return ML100K_GENRES
    where = f"u.genre in {label}"
    by_index = {}
    for number, line in decoded_text(archive, "u.genre", label):
        fields = line.split("|")
        check_fields(where, number, fields, [("genre", "str"), ("index", "int")])
        by_index[int(fields[1])] = fields[0]
    if sorted(by_index) != list(range(len(by_index))) or not by_index:
        raise ReleaseError(
            f"{where} numbers its genres {sorted(by_index)}; expected 0, 1, 2, ... with no gap. "
            "Fix u.genre or remove it to use the published ml-100k genre list."
        )
    return [by_index[index] for index in range(len(by_index))]


def read_u_item(archive: zipfile.ZipFile, label: str) -> pa.Table:
    """u.item: `id|title|release date|video release date|IMDb URL|` then one 0/1 flag per genre."""
    names = ml100k_genres(archive, label)
    kinds = ML100K_ITEM_KINDS + [(name, "int") for name in names]
    where = f"u.item in {label}"
    ids, titles, genres = [], [], []
    for number, line in decoded_text(archive, "u.item", label):
        fields = line.split("|")
        check_fields(where, number, fields, kinds)
        flags = fields[len(ML100K_ITEM_KINDS):]
        for column, (name, flag) in enumerate(zip(names, flags), start=len(ML100K_ITEM_KINDS) + 1):
            if flag not in ("0", "1"):
                raise ReleaseError(
                    f"{where} line {number}, column {column} ({name}): {flag!r} is not a genre flag (0 or 1). "
                    "Fix or remove that line."
                )
        chosen = [name for name, flag in zip(names, flags) if flag == "1" and name.lower() != UNKNOWN_GENRE]
        ids.append(_movie_id(where, number, fields[0]))
        titles.append(fields[1])
        genres.append("|".join(chosen) or NO_GENRES)
    if not ids:
        raise ReleaseError(f"{where} is empty: expected one line per movie.")
    return movies_table(ids, titles, genres)


class Ml100kRelease:
    """ml-100k (1998): u.data tab-separated ratings, u.item '|'-separated movies with genre flags."""

    name = "ml-100k"

    def matches(self, names: set[str]) -> bool:
        return {"u.data", "u.item"} <= names

    def read_ratings(self, archive: zipfile.ZipFile, label: str) -> pa.Table:
        return read_separated_ratings(archive, "u.data", "\t", label)

    def read_movies(self, archive: zipfile.ZipFile, label: str) -> pa.Table:
        return read_u_item(archive, label)


class DatRelease:
    """ratings.dat and movies.dat, '::'-separated without a header."""

    name = "dat"

    def read_ratings(self, archive: zipfile.ZipFile, label: str) -> pa.Table:
        return read_separated_ratings(archive, "ratings.dat", "::", label)

    def read_movies(self, archive: zipfile.ZipFile, label: str) -> pa.Table:
        return read_dat_movies(archive, label)


class Ml1mRelease(DatRelease):
    """ml-1m (2003): whole-star ratings, latin-1 titles, and users.dat with demographics."""

    name = "ml-1m"

    def matches(self, names: set[str]) -> bool:
        return {"ratings.dat", "movies.dat", "users.dat"} <= names


class Ml10mRelease(DatRelease):
    """ml-10m (folder ml-10M100K, 2009): half-star ratings, tags.dat, no users.dat."""

    name = "ml-10m"

    def matches(self, names: set[str]) -> bool:
        return {"ratings.dat", "movies.dat"} <= names and "users.dat" not in names


__all__ = ["DatRelease", "Ml100kRelease", "Ml10mRelease", "Ml1mRelease", "ML100K_GENRES", "NO_GENRES"]
