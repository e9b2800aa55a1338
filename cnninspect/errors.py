"""Every exit code the program returns, and the errors that carry them."""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    OK = 0
    INTERNAL = 1  # a bug in cnninspect: please report it (run with --debug)
    USAGE = 2  # bad command-line arguments
    NOT_FOUND = 3  # the path is missing, a directory, or unreadable (or a --png path cannot be written)
    UNRECOGNISED = 4  # the file is not a model format cnninspect reads
    BROKEN = 5  # the format is recognised, but the content is damaged or inconsistent
    SELECTION = 6  # --layer / --out name something the model does not have
    TIMEOUT = 7  # reading did not finish in time (a damaged file that makes a library loop)
    DIFFERENT = 8  # diff: the two models are not the same network
    UNSUPPORTED = 9  # activations, filters/diff --input: a layer cnninspect cannot compute (what ran is shown)
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, as a shell reports a process the signal stopped)
    CLOSED_PIPE = 141  # the reader of stdout went away (`| head`): quiet, as `cat` (128 + SIGPIPE)


class CnnInspectError(Exception):
    """An expected failure, shown to the user as one line."""

    status = ExitStatus.INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        # The file the failure is about, where a command reads more than one (diff's B).
        self.path: object | None = None


class UsageError(CnnInspectError):
    status = ExitStatus.USAGE


class FileNotReadable(CnnInspectError):
    status = ExitStatus.NOT_FOUND


class NotWritable(CnnInspectError):
    """An output file (``--png``) that cannot be written: same code as an unreadable input."""

    status = ExitStatus.NOT_FOUND


class ClosedPipe(CnnInspectError):
    """stdout's reader closed the pipe: nothing to say, nobody to say it to."""

    status = ExitStatus.CLOSED_PIPE


class UnrecognisedFile(CnnInspectError):
    status = ExitStatus.UNRECOGNISED


class BrokenFile(CnnInspectError):
    status = ExitStatus.BROKEN


class SelectionError(CnnInspectError):
    status = ExitStatus.SELECTION


# Libraries that parse file content, and the exception types they raise on bad bytes.
READING_LIBRARIES = ("h5py", "zipfile", "zlib", "numpy", "yaml", "json", "tokenize", "ast", "struct",
                     "pickle", "onnx", "google.protobuf", "flatbuffers", "tflite", "safetensors")  # fmt: skip
FORMAT_ERRORS = (OSError, RuntimeError, KeyError, ValueError, EOFError, IndexError, NotImplementedError,
                 SyntaxError, UnicodeDecodeError, OverflowError, TypeError)  # fmt: skip


def damaged_file(exc: BaseException) -> BrokenFile | None:
    """An exception a file-reading library raised on bad bytes, as a BrokenFile; None
    when it came from cnninspect's own code (a bug, reported as such)."""
    own_type = type(exc).__module__.split(".")[0] in READING_LIBRARIES  # zipfile.BadZipFile, tokenize.TokenError
    if not (isinstance(exc, FORMAT_ERRORS) or own_type):
        return None
    tb = exc.__traceback__
    innermost = None
    while tb is not None:
        innermost = tb.tb_frame.f_globals.get("__name__", "")
        tb = tb.tb_next
    library = next((lib for lib in READING_LIBRARIES if innermost and (innermost == lib or innermost.startswith(lib + "."))), None)
    if library is None:
        return None
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return BrokenFile(f"damaged: {library.split('.')[0]} cannot read it ({type(exc).__name__}: {detail[:160]})")
