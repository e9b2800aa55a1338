"""What the command sees of its process: streams, whether they are terminals, the width
and whether to colour. Read once from the real process (``Environment.from_process``)
and passed down, so that nothing below the entry point reads ``os.environ`` or asks a
stream whether it is a terminal, and tests build the terminal they want."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Any, Mapping, TextIO

PIPE_WIDTH = 120  # columns in a pipe when COLUMNS is not set


@dataclass(frozen=True)
class Environment:
    stdout: TextIO
    stderr: TextIO
    stdout_isatty: bool = False
    stderr_isatty: bool = False
    width: int = PIPE_WIDTH
    # Escape sequences at all (a terminal, or FORCE_COLOR) and colours among them (not NO_COLOR).
    styled: bool = False
    colour: bool = False
    environ: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_process(cls) -> Environment:
        environ = dict(os.environ)
        stdout_isatty, stderr_isatty = _isatty(sys.stdout), _isatty(sys.stderr)
        force = environ.get("FORCE_COLOR")
        styled = force != "" if force is not None else stdout_isatty
        return cls(
            stdout=sys.stdout,
            stderr=sys.stderr,
            stdout_isatty=stdout_isatty,
            stderr_isatty=stderr_isatty,
            width=_width(environ, stdout_isatty),
            styled=styled,
            colour=styled and environ.get("NO_COLOR", "") == "",
            environ=environ,
        )

    def error(self, message: str) -> None:
        """One line on stderr, flushed: a block-buffered stderr (a wrapper, a test runner)
        would keep it."""
        self.stderr.write(f"cnninspect: {message}\n")
        self.stderr.flush()

    def console(self, stderr: bool = False) -> Any:
        """A rich console on stdout with this environment's width and colour (on stderr:
        for the progress bar, drawn only when stderr is a terminal)."""
        from rich.console import Console

        return Console(
            file=self.stderr if stderr else self.stdout,
            width=None if stderr else self.width,  # stderr: its own terminal's width
            force_terminal=self.stderr_isatty if stderr else self.styled,
            no_color=not self.colour,
            highlight=False,
            emoji=False,
            _environ=dict(self.environ),
        )


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no such method, or a closed stream
        return False


def _width(environ: Mapping[str, str], stdout_isatty: bool) -> int:
    """``COLUMNS`` when set, else the terminal's width, else 120 (a pipe)."""
    columns = environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if stdout_isatty:
        try:
            return os.get_terminal_size(sys.stdout.fileno()).columns
        except (OSError, ValueError):
            pass
    return PIPE_WIDTH
