"""Every exit code the program returns, and the errors that carry them."""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    OK = 0
    INTERNAL = 1  # a bug in cnninspect: please report it (run with --debug)
    USAGE = 2  # bad command-line arguments
    NOT_FOUND = 3  # the path is missing, a directory, or unreadable
    UNRECOGNISED = 4  # the file is not a model format cnninspect reads
    BROKEN = 5  # the format is recognised, but the content is damaged or inconsistent
    SELECTION = 6  # --layer / --out name something the model does not have
    TIMEOUT = 7  # reading did not finish in time (a damaged file that makes a library loop)


class CnnInspectError(Exception):
    """An expected failure, shown to the user as one line."""

    status = ExitStatus.INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(CnnInspectError):
    status = ExitStatus.USAGE


class FileNotReadable(CnnInspectError):
    status = ExitStatus.NOT_FOUND


class UnrecognisedFile(CnnInspectError):
    status = ExitStatus.UNRECOGNISED


class BrokenFile(CnnInspectError):
    status = ExitStatus.BROKEN


class SelectionError(CnnInspectError):
    status = ExitStatus.SELECTION
