"""Every key of the inspector, once: the app binds them and the help panel lists them."""

from __future__ import annotations

from typing import NamedTuple


class Key(NamedTuple):
    keys: str  # Textual key names, comma-separated
    action: str
    label: str  # as the help panel shows it
    description: str
    footer: str = ""  # the footer's short name; keys without one are not in the footer


KEYS = (
    Key("up,down", "", "↑ ↓", "move through the layers (Enter or Space folds a container)"),
    Key("tab", "", "Tab", "focus the details pane (Tab again: back to the layers); there ↑ ↓ PageUp PageDown Home End scroll it, [ ] step the map"),
    Key("right,right_square_bracket", "step(1)", "→ ]", "next output map (in the reverse view: next input map)", "next map"),
    Key("left,left_square_bracket", "step(-1)", "← [", "previous output map (input map)", "previous map"),
    Key("r", "flip", "r", "flip between 'what feeds output map N' and 'what input map i feeds'", "flip view"),
    Key("s", "stats", "s", "statistics of the layer's weights (read in the background)", "stats"),
    Key("e", "export", "e", "write the JSON document of what is on screen to a file in the current directory", "export JSON"),
    Key("slash", "search", "/", "search layers by name: typing jumps to the first match, Enter to the next, Esc closes", "search"),
    Key("question_mark", "help", "?", "this help", "help"),
    Key("q", "quit", "q", "quit", "quit"),
)
