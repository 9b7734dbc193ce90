"""The fast member reader gives exactly zipfile's bytes and zipfile's guarantees."""

import io
import random
import zipfile

import zlib

import pytest

from personalize_assets.lib.releases import members as members_module
from personalize_assets.lib.releases.members import DeflatedMember, open_member


@pytest.fixture(params=["isal", "zlib"], autouse=True)
def inflate_backend(request, monkeypatch):
    """Every test runs with ISA-L and with the zlib fallback."""
    if request.param == "zlib":
        monkeypatch.setattr(members_module, "_deflate", zlib)
    return request.param

TEXT = "".join(f"{u},{m},{r / 2},{1_000_000_000 + u * m}\n" for u in range(1, 400) for m in range(1, 60, 7)
               for r in (random.Random(u * m).randint(1, 10),)).encode()


def archive_bytes(members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


@pytest.mark.parametrize("read_size", [1, 777, 64 * 1024, -1])
def test_reads_exactly_what_zipfile_reads(read_size):
    archive = zipfile.ZipFile(io.BytesIO(archive_bytes({"README.txt": b"x" * 10, "ml/ratings.csv": TEXT})))
    info = archive.getinfo("ml/ratings.csv")
    with open_member(archive, info) as member:
        assert isinstance(member, DeflatedMember)
        if read_size == -1:
            data = member.read()
        else:
            data = b"".join(iter(lambda: member.read(read_size), b""))
    assert data == archive.read(info) == TEXT


def test_stored_members_go_through_zipfile():
    archive = zipfile.ZipFile(io.BytesIO(archive_bytes({"ratings.csv": TEXT}, zipfile.ZIP_STORED)))
    with open_member(archive, archive.getinfo("ratings.csv")) as member:
        assert not isinstance(member, DeflatedMember) and member.read() == TEXT


def _damaged(offset_from_data_start: int) -> zipfile.ZipFile:
    raw = bytearray(archive_bytes({"ratings.csv": TEXT}))
    start = raw.index(b"ratings.csv") + len("ratings.csv")  # the data follows the local header's name
    raw[start + offset_from_data_start] ^= 0xFF
    return zipfile.ZipFile(io.BytesIO(bytes(raw)))


def test_damage_is_reported_as_a_bad_zip_not_returned_as_data():
    for offset in (0, 40, 200):
        archive = _damaged(offset)
        with pytest.raises(zipfile.BadZipFile), open_member(archive, archive.getinfo("ratings.csv")) as member:
            member.read()


def test_never_more_than_the_declared_size():
    archive = zipfile.ZipFile(io.BytesIO(archive_bytes({"ratings.csv": TEXT})))
    info = archive.getinfo("ratings.csv")
    info.file_size = 1000  # a central directory that understates the member (zip bomb style)
    with pytest.raises(zipfile.BadZipFile, match="CRC"), open_member(archive, info) as member:
        assert len(member.read(5000)) <= 1000
        member.read(5000)
