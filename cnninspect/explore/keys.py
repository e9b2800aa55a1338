"""Every key of the inspector, once: the app binds them and the help panel lists them."""

from __future__ import annotations

from typing import NamedTuple


class Key(NamedTuple):
    keys: str  # Textual key names, comma-separated
    action: str
    label: str  # as the help panel and the footer show it
    description: str


KEYS = (
    Key("up,down", "", "↑ ↓", "move through the layers (Enter or Space folds a container)"),
    Key("right,right_square_bracket", "step(1)", "→ ]", "next output map (in the reverse view: next input map)"),
    Key("left,left_square_bracket", "step(-1)", "← [", "previous output map (input map)"),
    Key("r", "flip", "r", "flip between 'what feeds output map N' and 'what input map i feeds'"),
    Key("s", "stats", "s", "statistics of the layer's weights (read in the background)"),
    Key("e", "export", "e", "write the JSON document of what is on screen to a file in the current directory"),
    Key("slash", "search", "/", "search layers by name: typing jumps to the first match, Enter to the next, Esc closes"),
    Key("question_mark", "help", "?", "this help"),
    Key("q", "quit", "q", "quit"),
)
