"""Zip archives shared by the loaders that read them (``.keras``, ``.npz``, PyTorch):
cheap member listing for sniffing, and refusal of zip bombs before anything is read."""

from __future__ import annotations

import zipfile
from functools import lru_cache
from pathlib import Path

from ..errors import BrokenFile
from .sniff import HEAD_SIZE, zip_head_members, zip_kind

ZIP_MAGIC = b"PK\x03\x04"
# A member that claims more than this, or that would inflate more than MAX_RATIO times
# beyond MIN_BOMB bytes, is refused: real model files are nowhere near either.
MAX_MEMBER_BYTES = 1 << 40
MAX_RATIO = 1000
MIN_BOMB = 1 << 28


def is_zip(head: bytes) -> bool:
    return head.startswith(ZIP_MAGIC)


def member_names(path: Path) -> frozenset[str]:
    """The names in a zip's central directory, or nothing if it is not a readable zip
    (listed once per version of the file, as several loaders sniff the same archive)."""
    try:
        stat = path.stat()
    except OSError:
        return frozenset()
    return _member_names(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=16)
def _member_names(path: Path, mtime_ns: int, size: int) -> frozenset[str]:
    try:
        if not ends_whole(path):
            return frozenset()
        with zipfile.ZipFile(path) as zf:
            return frozenset(zf.namelist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return frozenset()


EOCD = b"PK\x05\x06"


def ends_whole(path: Path) -> bool:
    """Whether the file ends with a zip's end-of-directory record (and its comment). A cut
    archive that holds a zip of its own (torch.export keeps ``sample_inputs/model.pt``)
    still shows the inner one's record, which zipfile would take for the archive's."""
    with path.open("rb") as fh:
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(max(size - (1 << 16) - 22, 0))
        tail = fh.read()
    at = tail.rfind(EOCD)
    while at >= 0:
        comment = int.from_bytes(tail[at + 20 : at + 22], "little")
        if at + 22 + comment == len(tail):
            return True
        at = tail.rfind(EOCD, 0, at)
    return False


def open_zip(path: Path) -> zipfile.ZipFile:
    try:
        if not ends_whole(path):
            raise zipfile.BadZipFile("no end-of-directory record at the end of the file")
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, EOFError, ValueError) as exc:
        with path.open("rb") as fh:
            kind = zip_kind(zip_head_members(fh.read(HEAD_SIZE)))
        raise BrokenFile(f"{kind} that cannot be read ({exc}): truncated or damaged?") from None


def guard_members(zf: zipfile.ZipFile) -> None:
    for info in zf.infolist():
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > MAX_MEMBER_BYTES or (info.file_size > MIN_BOMB and ratio > MAX_RATIO):
            raise BrokenFile(
                f"zip member {info.filename} claims {info.file_size:,} bytes from {info.compress_size:,} "
                f"compressed (ratio {ratio:,.0f}): refused as a zip bomb"
            )


def data_offset(path: Path, info: zipfile.ZipInfo) -> int:
    """Where a member's bytes start: after its local header, whose extra field may differ
    in length from the central directory's."""
    with path.open("rb") as fh:
        if not 0 <= info.header_offset < path.stat().st_size:
            raise BrokenFile(f"zip member {info.filename} starts at byte {info.header_offset:,}, outside the file")
        fh.seek(info.header_offset)
        header = fh.read(30)
    if len(header) < 30 or not header.startswith(ZIP_MAGIC):
        raise BrokenFile(f"zip member {info.filename} has no local header where the directory says")
    name_len = int.from_bytes(header[26:28], "little")
    extra_len = int.from_bytes(header[28:30], "little")
    return info.header_offset + 30 + name_len + extra_len
