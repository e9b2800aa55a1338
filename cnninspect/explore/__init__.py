"""``cnninspect explore``: an interactive inspector (Textual) over the same reports the other
commands print. ``app`` holds the application and its workers, ``widgets`` the panes, and
``keys`` the key bindings (one table for the app, its help panel and the README)."""
